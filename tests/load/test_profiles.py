"""Traffic profiles: the user count at each moment, for each named shape."""

from __future__ import annotations

import pytest

from conformance.load.profiles import PROFILES, ProfileError, profile


def counts(name: str, peak: int, duration: float, moments: list[float]) -> list[int]:
    shape = profile(name, peak, duration)
    return [shape.users_at(t) for t in moments]


def test_steady_ramps_within_ten_seconds_then_holds() -> None:
    """Ten seconds (or a tenth of a short run) to reach the count, then the count."""
    assert counts("steady", 50, 600, [0, 5, 10, 300, 599]) == [1, 25, 50, 50, 50]
    assert counts("steady", 10, 20, [0, 1, 2, 19]) == [1, 5, 10, 10]


def test_ramp_reaches_the_peak_at_three_quarters_and_holds_it() -> None:
    """Linear growth, then the peak is measured for the last quarter."""
    assert counts("ramp", 100, 400, [0, 100, 200, 300, 399]) == [1, 33, 67, 100, 100]


def test_working_day_has_a_morning_peak_a_lunch_dip_and_an_afternoon() -> None:
    """07:30 to 17:00 compressed into the run: the shares of the peak at office hours."""
    day = 95.0  # 9.5 office hours, one second per six minutes
    hour = day / 9.5
    at = {clock: (clock - 7.5) * hour for clock in (7.5, 9.0, 10.0, 12.5, 15.0, 17.0)}
    users = dict(zip(at, counts("working-day", 100, day, list(at.values())), strict=True))
    assert users[7.5] == 15  # doors open
    assert users[9.0] == users[10.0] == 100  # morning peak
    assert users[12.5] == 35  # lunch break
    assert users[15.0] == 80  # afternoon
    assert users[17.0] == 10  # closing time


def test_deadline_spike_surges_before_the_deadline_and_falls_after_it() -> None:
    """Baseline, surge to the peak just before 80 % of the run, a cliff after it."""
    assert counts("deadline-spike", 50, 100, [10, 50, 72, 79, 82, 95]) == [10, 10, 50, 50, 5, 5]


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_shape_stops_by_itself_at_the_duration(name: str) -> None:
    """``tick`` returns None once the run time is over, so locust stops the run."""
    shape = profile(name, 20, 60)
    assert shape.tick(59.9) is not None
    assert shape.tick(60) is None
    assert shape.tick(61) is None


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_spawn_rate_follows_the_steepest_part_within_a_tick(name: str) -> None:
    """Locust's shape loop blocks while it spawns; a second's change takes half a tick at most."""
    shape = profile(name, 200, 120)
    steepest = max(abs(shape.users_at(t + 1) - shape.users_at(t)) for t in range(119))
    assert shape.spawn_rate >= 2 * steepest - 2  # rounding of the user counts


def test_users_never_exceed_the_peak_nor_drop_below_one() -> None:
    """Every shape stays within [1, peak]."""
    for name in PROFILES:
        users = counts(name, 7, 70, [t / 2 for t in range(140)])
        assert min(users) >= 1
        assert max(users) == 7


@pytest.mark.parametrize(
    ("name", "peak", "duration", "message"),
    [
        ("lunch", 10, 60, "no traffic shape 'lunch'"),
        ("steady", 0, 60, "at least 1"),
        ("ramp", 10, 0, "must be positive"),
    ],
)
def test_nonsense_profiles_are_refused(name: str, peak: int, duration: float, message: str) -> None:
    """A name that is no shape, no user or no time is a `ProfileError`."""
    with pytest.raises(ProfileError, match=message):
        profile(name, peak, duration)
