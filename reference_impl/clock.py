"""Time in Vietnam, injectable so tests can put a submission on a Saturday night."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


class Clock(Protocol):
    """Something that tells the current time."""

    def now(self) -> datetime:
        """The current time, aware, in +07:00."""
        ...


class SystemClock:
    """The machine's clock, in Vietnam's offset."""

    def now(self) -> datetime:
        return datetime.now(VN_TZ)


class FixedClock:
    """A clock that stands still until moved; for tests."""

    def __init__(self, at: datetime) -> None:
        self._at = at.astimezone(VN_TZ)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        """Move the clock to ``at``."""
        self._at = at.astimezone(VN_TZ)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self._at += delta


class OffsetClock:
    """The system clock shifted by a fixed offset (``serve --clock-start``)."""

    def __init__(self, offset: timedelta) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return datetime.now(VN_TZ) + self._offset


def machine_clock(offset_seconds: float = 0.0) -> Clock:
    """The system clock, shifted by ``offset_seconds`` unless that is 0."""
    if offset_seconds:
        return OffsetClock(timedelta(seconds=offset_seconds))
    return SystemClock()


def rfc3339(at: datetime) -> str:
    """Format a time as the contract wants it: RFC 3339, seconds, ``+07:00``."""
    return at.astimezone(VN_TZ).replace(microsecond=0).isoformat()
