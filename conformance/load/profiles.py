"""Traffic profiles: how many users are active at each moment of a run, by name.

A profile is a piecewise-linear curve of the share of the peak user count over the share of the
run, so the same day fits a 30-second smoke run and a one-hour soak. No locust here: the
`LoadTestShape` classes in `conformance.load.shapes` only read these curves, and the curves are
unit-tested without starting gevent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Points = tuple[tuple[float, float], ...]
"""``(share of the run, share of the peak)`` pairs, the first at 0.0 and the last at 1.0."""

STEADY_RAMP_SECONDS = 10.0
"""A steady run reaches its user count within this long (or a tenth of the run if shorter)."""


def _clock(hour: float) -> float:
    """The share of a working day (07:30 to 17:00, Vietnamese public offices) at ``hour``."""
    return (hour - 7.5) / 9.5


# The one-stop desks open at 07:30; traffic peaks mid-morning, dips over the lunch break
# (11:30-13:30), comes back lower in the afternoon and tails off towards closing time.
WORKING_DAY: Points = (
    (0.0, 0.15),
    (_clock(8.5), 0.8),
    (_clock(9.0), 1.0),
    (_clock(11.0), 1.0),
    (_clock(11.5), 0.35),
    (_clock(13.5), 0.35),
    (_clock(14.0), 0.8),
    (_clock(16.0), 0.8),
    (1.0, 0.1),
)

# A filing deadline at 80 % of the run: a low baseline, applicants crowding in just before it,
# and a cliff once it has passed.
DEADLINE_SPIKE: Points = (
    (0.0, 0.2),
    (0.5, 0.2),
    (0.65, 0.5),
    (0.72, 1.0),
    (0.8, 1.0),
    (0.82, 0.1),
    (1.0, 0.1),
)

RAMP: Points = ((0.0, 0.0), (0.75, 1.0), (1.0, 1.0))
"""Linear to the peak over three quarters of the run, then held so the peak is measured."""


class ProfileError(ValueError):
    """A profile was asked for with a name or numbers that make no run."""


@dataclass(frozen=True)
class Profile:
    """A named curve scaled to a peak user count and a duration in seconds."""

    name: str
    peak: int
    duration: float
    points: Points

    def level(self, elapsed: float) -> float:
        """The share of the peak at ``elapsed`` seconds, interpolated between the points."""
        share = min(max(elapsed / self.duration, 0.0), 1.0)
        for (x0, y0), (x1, y1) in zip(self.points, self.points[1:], strict=False):
            if share <= x1:
                return y0 if x1 == x0 else y0 + (y1 - y0) * (share - x0) / (x1 - x0)
        return self.points[-1][1]

    def users_at(self, elapsed: float) -> int:
        """Users that should be active at ``elapsed`` seconds; never fewer than one."""
        return max(1, round(self.peak * self.level(elapsed)))

    @property
    def spawn_rate(self) -> float:
        """Users per second that follow the steepest part of the curve within one tick.

        Locust's shape loop blocks in ``runner.start`` until a change is spawned and ticks about
        once a second, so the rate is twice the steepest slope: each change then takes half a tick.
        """
        steepest = max(
            abs(y1 - y0) * self.peak / ((x1 - x0) * self.duration)
            for (x0, y0), (x1, y1) in zip(self.points, self.points[1:], strict=False)
            if x1 > x0
        )
        return max(1.0, math.ceil(2 * steepest))

    def tick(self, elapsed: float) -> tuple[int, float] | None:
        """What ``LoadTestShape.tick`` returns: ``(users, spawn rate)``, or None at the end."""
        if elapsed >= self.duration:
            return None
        return self.users_at(elapsed), self.spawn_rate


def _steady_points(duration: float) -> Points:
    ramp = min(0.1, STEADY_RAMP_SECONDS / duration)
    return ((0.0, 0.0), (ramp, 1.0), (1.0, 1.0))


PROFILES: dict[str, Callable[[float], Points]] = {
    "steady": _steady_points,
    "ramp": lambda _duration: RAMP,
    "working-day": lambda _duration: WORKING_DAY,
    "deadline-spike": lambda _duration: DEADLINE_SPIKE,
}
"""Every profile by the name ``--shape`` takes."""


def profile(name: str, peak: int, duration: float) -> Profile:
    """The profile ``name`` for ``peak`` users over ``duration`` seconds."""
    if name not in PROFILES:
        raise ProfileError(f"no traffic shape {name!r}; choose one of {', '.join(PROFILES)}")
    if peak < 1:
        raise ProfileError(f"the peak user count must be at least 1, got {peak}")
    if duration <= 0:
        raise ProfileError(f"the duration must be positive, got {duration} s")
    return Profile(name, peak, float(duration), PROFILES[name](float(duration)))
