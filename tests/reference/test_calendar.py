"""Working days and receipt times: property tests over the real holiday calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from egov_contract import fixtures_dir, load_document
from reference_impl.calendar import WorkingCalendar, WorkingPeriod
from reference_impl.clock import VN_TZ

CALENDAR = WorkingCalendar(load_document(fixtures_dir() / "calendar.json"))
PERIODS = (WorkingPeriod(time(7, 30), time(11, 30)), WorkingPeriod(time(13, 30), time(17, 0)))
moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 20), timezones=st.just(VN_TZ)
)


def _inside_working_hours(at: datetime) -> bool:
    local = at.astimezone(VN_TZ)
    in_period = any(p.start <= local.time() < p.end for p in PERIODS)
    return CALENDAR.is_working_day(local.date()) and in_period


@given(moments)
def test_receipt_time_is_always_inside_working_hours(sent: datetime) -> None:
    received = CALENDAR.official_receipt_time(sent, PERIODS)
    assert _inside_working_hours(received)
    assert received >= sent


@given(moments)
def test_receipt_time_is_the_send_time_when_sent_inside_working_hours(sent: datetime) -> None:
    if _inside_working_hours(sent):
        assert CALENDAR.official_receipt_time(sent, PERIODS) == sent


@given(moments)
def test_no_working_moment_is_skipped(sent: datetime) -> None:
    received = CALENDAR.official_receipt_time(sent, PERIODS)
    probe = sent
    while probe + timedelta(minutes=30) < received:
        probe += timedelta(minutes=30)
        assert not _inside_working_hours(probe), f"{probe} was a working moment"


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 1)), st.integers(0, 30))
def test_appointment_date_is_a_working_day_after_the_start(start: date, days: int) -> None:
    appointment = CALENDAR.add_working_days(start, days)
    assert CALENDAR.is_working_day(appointment)
    assert appointment >= start
    working_between = sum(
        CALENDAR.is_working_day(start + timedelta(days=i))
        for i in range(1, (appointment - start).days + 1)
    )
    assert working_between == days or (
        not CALENDAR.is_working_day(start) and working_between == days + 1
    )


def test_a_saturday_night_submission_counts_from_monday_morning() -> None:
    saturday_night = datetime(2025, 3, 15, 22, 40, tzinfo=VN_TZ)
    received = CALENDAR.official_receipt_time(saturday_night, PERIODS)
    assert received == datetime(2025, 3, 17, 7, 30, tzinfo=VN_TZ)


def test_national_day_is_not_a_working_day() -> None:
    for year in (2024, 2025, 2026, 2027):
        assert not CALENDAR.is_working_day(date(year, 9, 2))
        assert not CALENDAR.is_working_day(date(year, 1, 1))
