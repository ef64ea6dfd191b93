"""Working days and hours: official receipt times and appointment dates.

Decree 45/2020/ND-CP Art. 11 and Circular 87/2021/TT-BTC Art. 10: a dossier sent outside
working hours or on a day off counts as received at the start of the next working period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from .clock import VN_TZ

# Fixed-date holidays (Labour Code 2019 Art. 112) used for years the calendar file lacks.
_FIXED_HOLIDAYS = ((1, 1), (4, 30), (5, 1), (9, 2))


@dataclass(frozen=True)
class WorkingPeriod:
    """One working period of a day, local time."""

    start: time
    end: time


def parse_periods(hours: Mapping[str, Any]) -> tuple[WorkingPeriod, ...]:
    """Read ``{"periods": [{"start": "07:30", "end": "11:30"}, ...]}`` into sorted periods."""
    periods = [
        WorkingPeriod(time.fromisoformat(p["start"]), time.fromisoformat(p["end"]))
        for p in hours["periods"]
    ]
    return tuple(sorted(periods, key=lambda p: p.start))


class WorkingCalendar:
    """Vietnam's working days: weekdays, less public holidays, plus working weekend days."""

    def __init__(self, years: Mapping[str, Mapping[str, Any]]) -> None:
        self._holidays: dict[date, str] = {}
        self._working_weekend: set[date] = set()
        self._known_years: set[int] = set()
        for year, data in years.items():
            if not year.isdigit():
                continue
            self._known_years.add(int(year))
            for holiday in data.get("holidays", []):
                self._holidays[date.fromisoformat(holiday["date"])] = holiday["name"]
            self._working_weekend.update(
                date.fromisoformat(d) for d in data.get("workingWeekendDays", [])
            )

    def holidays(self, year: int) -> list[dict[str, Any]]:
        """The holidays of a year, as the calendar operation publishes them."""
        self._ensure_year(year)
        return [
            {"date": d.isoformat(), "name": name}
            for d, name in sorted(self._holidays.items())
            if d.year == year
        ]

    def working_weekend_days(self, year: int) -> list[str]:
        """Weekend days that are working days in ``year``."""
        return sorted(d.isoformat() for d in self._working_weekend if d.year == year)

    def is_working_day(self, day: date) -> bool:
        """True when officers work on ``day``."""
        self._ensure_year(day.year)
        if day in self._working_weekend:
            return True
        return day.weekday() < 5 and day not in self._holidays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def official_receipt_time(
        self, sent_at: datetime, periods: Iterable[WorkingPeriod]
    ) -> datetime:
        """When a dossier sent at ``sent_at`` counts as received."""
        local = sent_at.astimezone(VN_TZ)
        ordered = sorted(periods, key=lambda p: p.start)
        day = local.date()
        if self.is_working_day(day):
            for period in ordered:
                start = datetime.combine(day, period.start, VN_TZ)
                end = datetime.combine(day, period.end, VN_TZ)
                if local < start:
                    return start
                if local < end:
                    return local
        return datetime.combine(self.next_working_day(day), ordered[0].start, VN_TZ)

    def add_working_days(self, start: date, days: int) -> date:
        """The working day that is ``days`` working days after ``start`` (itself if 0)."""
        day = start if self.is_working_day(start) else self.next_working_day(start)
        for _ in range(days):
            day = self.next_working_day(day)
        return day

    def _ensure_year(self, year: int) -> None:
        if year in self._known_years:
            return
        self._known_years.add(year)
        for month, day_of_month in _FIXED_HOLIDAYS:
            self._holidays.setdefault(date(year, month, day_of_month), "Public holiday")
