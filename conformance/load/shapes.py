"""Locust `LoadTestShape` classes for the named traffic profiles (`conformance.load.profiles`).

Imports locust, and so gevent's monkey-patching: only locustfiles import this module.

Each shape reads the peak user count and the run time from locust's common options (``-u``,
``-t``; ``use_common_options``), so ``locust -f load/locustfile.py -u 50 -t 10m`` sizes it.
A locustfile must expose exactly ONE shape class (locust takes the first it finds), so the
kit's locustfile exposes `SelectedShape`, which follows ``--egov-shape``; a locustfile of your
own may import one of the named classes instead.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from locust import LoadTestShape

from .options import DEFAULT_DURATION, DEFAULT_USERS, max_duration
from .profiles import Profile, profile

logger = logging.getLogger(__name__)


class ProfileShape(LoadTestShape):
    """A shape that follows one named profile; stops by itself at the end of the run."""

    abstract: ClassVar[bool] = True
    use_common_options: ClassVar[bool] = True
    profile_name: ClassVar[str] = "steady"

    def __init__(self, users: int | None = None, duration: float | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # locust's is untyped
        self._users = users
        self._duration = duration
        self._profile: Profile | None = None

    def _options(self) -> Any:
        return self.runner.environment.parsed_options if self.runner is not None else None

    def _name(self) -> str:
        return self.profile_name

    @property
    def profile(self) -> Profile:
        """The profile, sized from the constructor or locust's options on first use."""
        if self._profile is None:
            options = self._options()
            users = self._users or getattr(options, "num_users", None) or DEFAULT_USERS
            duration = self._duration or getattr(options, "run_time", None) or DEFAULT_DURATION
            cap = max_duration(getattr(options, "egov_max_duration", None))
            if duration > cap:
                # Plain locust cannot refuse the run any more; a bounded run is the rule.
                logger.warning("run time %s s is over the cap, %s s; stopping then", duration, cap)
                duration = cap
            self._profile = profile(self._name(), int(users), float(duration))
        return self._profile

    def tick(self) -> tuple[int, float] | None:
        """``(users, spawn rate)`` now, or None once the run time is over."""
        return self.profile.tick(self.get_run_time())  # type: ignore[no-untyped-call]


class SteadyShape(ProfileShape):
    """The same number of users for the whole run, after a short ramp."""

    profile_name = "steady"


class RampShape(ProfileShape):
    """Linear growth to the peak over three quarters of the run, then the peak."""

    profile_name = "ramp"


class WorkingDayShape(ProfileShape):
    """A compressed office day: morning peak, lunch dip, afternoon, closing."""

    profile_name = "working-day"


class DeadlineSpikeShape(ProfileShape):
    """A low baseline, a spike just before a filing deadline, a cliff after it."""

    profile_name = "deadline-spike"


SHAPES: dict[str, type[ProfileShape]] = {
    shape.profile_name: shape
    for shape in (SteadyShape, RampShape, WorkingDayShape, DeadlineSpikeShape)
}
"""The shape class of every profile name."""


class SelectedShape(ProfileShape):
    """The shape named by ``--egov-shape`` (env ``EGOV_LOAD_SHAPE``), steady by default."""

    def __init__(
        self, users: int | None = None, duration: float | None = None, name: str | None = None
    ) -> None:
        super().__init__(users, duration)
        self._chosen = name

    def _name(self) -> str:
        return str(self._chosen or getattr(self._options(), "egov_shape", None) or "steady")
