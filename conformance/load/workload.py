"""The two workload models: closed (users think, then act) and open (arrivals on a timetable).

In the closed model a slow server slows its own users down, so it is offered less traffic and
its latency looks better than it is. The open model keeps a timetable per user: an arrival
that falls due while the user is still waiting for an answer is dropped and counted, so a slow
server shows up as missed arrivals (the ``minArrivalRatio`` level) instead of hiding.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable


class ArrivalSchedule:
    """One user's arrivals, one every ``interval`` seconds from the moment it starts.

    Args:
        interval: seconds between two arrivals of this user.
        clock: monotonic seconds (injectable for tests).
        jitter: the second arrival comes a random share of an interval after the first, so
            users started together do not arrive together for ever after.

    The first action starts at once. `wait`, called after each action, says how long to pause
    until the next arrival; `settle`, called when the user stops, counts what fell due while
    it was still busy. Arrivals that fell due while the user was waiting for an answer are
    dropped and counted, and the timetable moves on, as a real crowd does not wait for the
    server.
    """

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"the interval between arrivals must be positive, got {interval}")
        self.interval = interval
        self._clock = clock
        now = clock()
        self._due = now + interval * (1.0 - jitter())
        """When the next arrival not yet started is due."""
        self._resume = now
        """When the current pause ends (the first action starts at once)."""
        self.arrivals = 0
        self.dropped = 0

    def _drop_missed(self, now: float) -> None:
        # Of the arrivals due from _due up to now, the latest starts late; the others are gone.
        if now - self._due >= self.interval:
            missed = math.floor((now - self._due) / self.interval)
            self.dropped += missed
            self._due += missed * self.interval

    def wait(self) -> float:
        """Seconds until the next arrival (0 when it is overdue); the finished action counts."""
        now = self._clock()
        self.arrivals += 1
        self._drop_missed(now)
        pause = max(0.0, self._due - now)
        self._resume = now + pause
        self._due += self.interval
        return pause

    def settle(self) -> None:
        """The user stops: an action under way counts, and what fell due meanwhile is dropped."""
        now = self._clock()
        if now < self._resume:
            return  # pausing: the next arrival is still ahead
        self.arrivals += 1
        if now >= self._due:
            self.dropped += math.floor((now - self._due) / self.interval) + 1

    def drain(self) -> tuple[int, int]:
        """``(arrivals, dropped)`` since the last drain."""
        counts = (self.arrivals, self.dropped)
        self.arrivals = 0
        self.dropped = 0
        return counts


def think_time(bounds: tuple[float, float]) -> float:
    """A closed-workload pause, uniformly between the bounds."""
    low, high = bounds
    return low + random.random() * (high - low)
