"""Load options: the user mix, think time, the open workload's timetable, the duration cap."""

from __future__ import annotations

import pytest

from conformance.load.options import (
    DEFAULT_MIX,
    LoadSettings,
    OptionError,
    max_duration,
    parse_mix,
    parse_think,
)
from conformance.load.record import RunRecord, RunTotals
from conformance.load.sampling import Sampler
from conformance.load.workload import ArrivalSchedule


def test_mix_overrides_the_roles_it_names_and_zero_leaves_one_out() -> None:
    """``officer=5,platform=0``: the others keep their default weights."""
    assert parse_mix("officer=5, platform=0") == {**DEFAULT_MIX, "officer": 5, "platform": 0}
    assert parse_mix("") == dict(DEFAULT_MIX)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clerk=2", "ROLE one of applicant, visitor, officer, platform"),
        ("officer", "ROLE=WEIGHT"),
        ("officer=many", "must be an integer"),
        ("officer=-1", "cannot be negative"),
        ("applicant=0,visitor=0,officer=0,platform=0", "no user at all"),
    ],
)
def test_mix_refuses_nonsense_with_the_fix(text: str, message: str) -> None:
    """Each mistake is an `OptionError` that says what is wanted."""
    with pytest.raises(OptionError, match=message):
        parse_mix(text)


def test_think_time_and_the_open_workload_pacing() -> None:
    """Think ``MIN-MAX``; the open rate is shared among the peak users."""
    assert parse_think("1-3") == (1.0, 3.0)
    assert parse_think("2") == (2.0, 2.0)
    with pytest.raises(OptionError):
        parse_think("3-1")
    settings = LoadSettings(target="http://127.0.0.1:1", users=20, workload="open", rate=10)
    assert settings.pacing == 2.0
    assert LoadSettings(target="http://127.0.0.1:1").pacing is None
    with pytest.raises(OptionError, match="needs a positive --rate"):
        LoadSettings(target="http://127.0.0.1:1", workload="open")


def test_duration_cap_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """One hour unless the option or ``EGOV_LOAD_MAX_DURATION`` says otherwise."""
    monkeypatch.delenv("EGOV_LOAD_MAX_DURATION", raising=False)
    assert max_duration() == 3600
    monkeypatch.setenv("EGOV_LOAD_MAX_DURATION", "120")
    assert max_duration() == 120
    assert max_duration(30) == 30
    with pytest.raises(OptionError):
        max_duration("soon")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_arrivals_keep_their_timetable_and_count_what_a_slow_answer_made_them_miss() -> None:
    """One arrival every 2 s from 100: an action of 7 s misses two, which are dropped."""
    clock = Clock()
    schedule = ArrivalSchedule(2.0, clock=clock, jitter=lambda: 0.0)
    clock.now = 100.5  # the first action, started at once, took 0.5 s
    assert schedule.wait() == pytest.approx(1.5)  # the next is due at 102
    clock.now = 109.0  # the action started at 102 took 7 s: 104 and 106 were missed
    assert schedule.wait() == 0.0  # the one due at 108 starts late, at once
    assert schedule.drain() == (2, 2)
    clock.now = 109.5
    assert schedule.wait() == pytest.approx(0.5)  # the timetable goes on at 110
    assert schedule.drain() == (1, 0)


def test_arrivals_missed_by_a_user_still_busy_at_the_end_are_counted() -> None:
    """A user stopped mid-action: that action counts, and what fell due since is dropped."""
    clock = Clock()
    busy = ArrivalSchedule(2.0, clock=clock, jitter=lambda: 0.0)
    clock.now = 107.0  # the first action never finished: 102, 104 and 106 fell due meanwhile
    busy.settle()
    assert busy.drain() == (1, 3)
    pausing = ArrivalSchedule(2.0, clock=clock, jitter=lambda: 0.0)
    clock.now = 107.5
    assert pausing.wait() == pytest.approx(1.5)
    clock.now = 108.0  # stopped during the pause: nothing was missed
    pausing.settle()
    assert pausing.drain() == (1, 0)


def test_worker_parts_add_up_on_the_master() -> None:
    """Each worker's drained record adds to the totals, counted per worker."""
    totals = RunTotals()
    for worker, accepted in (("w1", ["a"]), ("w2", ["b", "c"])):
        record = RunRecord(Sampler(1))
        record.accepted.extend(accepted)
        record.requests = len(accepted) * 10
        record.arrived(5, 1)
        totals.add(record.drain(), worker)
    assert totals.accepted == ["a", "b", "c"]
    assert (totals.arrivals, totals.dropped) == (10, 2)
    assert dict(totals.requests_by_worker) == {"w1": 10, "w2": 20}
