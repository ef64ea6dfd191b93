"""Every deliberate fault of the reference server is caught by the requirement it breaks.

For each fault of `reference_impl.faults.FAULTS`, the server starts with that fault on and the
kit runs the tests of the fault's requirement against it: the run must exit 1 and the report
must grade that requirement failed (warning, for a SHOULD). The kill rate is printed at the end.
A fault that only a receipt at some time shows runs on a server whose clock starts at such a
time (``serve --clock-start``), and a server without the fault passes on the same clock.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conformance.config import SANDBOX_SYSTEM, sandbox_document
from egov_contract import load_catalogue
from reference_impl.faults import FAULTS
from reference_impl.fixtures_data import load_fixtures
from tests.reference.live import client_token

from .conftest import KILLED, RUN_TIMEOUT, SuiteRun, Target, run_suites, start_target

pytestmark = [pytest.mark.slow, pytest.mark.mutation]

# Faults a black-box run cannot always see, each with the reason. Strict where it never can.
# None today: accept-expired-token is caught with an expired token of the kit's own issuer.
_LIMITS: dict[str, pytest.MarkDecorator] = {}


# Faults only a receipt at certain times shows: the server's clock starts at such a time.
_CLOCKS = {
    # Saturday night: a correct receipt rolls to Monday 07:30, the fault's stays at 22:40.
    "receipt-time-not-rolled": "2026-11-28T22:40:00+07:00",
    # Friday morning: one working day after receipt is Monday, one calendar day is Saturday.
    "appointment-in-calendar-days": "2026-11-27T10:00:00+07:00",
}


PARALLEL = 2
"""Faults whose servers and kit runs go at the same time: the machine's two cores stay busy
while one pipeline waits on the network or a server starting."""


@dataclass(frozen=True)
class Verdict:
    """What the kit made of one faulty server: the fault requirement's outcome and the run."""

    outcome: str | None
    run: SuiteRun


def _judge(name: str, folder: Path) -> Verdict:
    """Start the server with fault ``name``, run the kit for its requirement, stop the server."""
    clock = ("--clock-start", _CLOCKS[name]) if name in _CLOCKS else ()
    # A server on another clock takes the kit's tokens for tokens from the future (SEC-02).
    target = start_target(folder, "--fault", name, *clock, kit_issuer=name not in _CLOCKS)
    try:
        run = run_suites(target, folder / "report", FAULTS[name].requirement)
    finally:
        target.server.stop()
    return Verdict(run.outcome_of(FAULTS[name].requirement), run)


@pytest.fixture(scope="module")
def verdicts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Verdict]:
    """The verdict on every fault this session selected, judged ``PARALLEL`` at a time."""
    chosen = sorted(
        str(item.callspec.params["name"])
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.originalname == "test_fault_is_caught_by_its_requirement"
    )
    folders = {name: tmp_path_factory.mktemp(name) for name in chosen}
    with ThreadPoolExecutor(PARALLEL) as pool:
        judged = pool.map(lambda name: (name, _judge(name, folders[name])), chosen)
        return dict(judged)


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=_LIMITS.get(name, ())) for name in sorted(FAULTS)],
)
def test_fault_is_caught_by_its_requirement(name: str, verdicts: dict[str, Verdict]) -> None:
    fault = FAULTS[name]
    level = load_catalogue().by_id(fault.requirement).level
    verdict = verdicts[name]
    expected = "failed" if level == "MUST" else "warning"
    KILLED[name] = verdict.outcome == expected
    assert verdict.outcome == expected, (
        f"fault {name!r} ({fault.description}) should make {fault.requirement} {expected}; "
        f"the report says {verdict.outcome!r}, exit {verdict.run.exit_code}\n"
        f"{verdict.run.output[-3000:]}"
    )
    if level == "MUST":
        assert verdict.run.exit_code == 1, verdict.run.output[-3000:]


@pytest.mark.parametrize(("name", "start"), sorted(_CLOCKS.items()))
def test_a_healthy_server_on_a_faults_clock_passes_its_requirement(
    name: str, start: str, live: Callable[..., Any], tmp_path: Path
) -> None:
    """Fairness: the clock that shows a fault does not fail a server without it."""
    requirement = FAULTS[name].requirement
    server = live("--clock-start", start, kit_issuer=False)
    _expect_clock_near(server, datetime.fromisoformat(start))
    run = run_suites(server, tmp_path / "report", requirement)
    assert run.outcome_of(requirement) == "passed", run.output[-3000:]
    assert run.failing() == [], run.output[-3000:]


def test_each_clock_puts_its_fault_in_sight() -> None:
    """From each start, for the whole run, the faulty answer differs from the correct one."""
    fixtures = load_fixtures()
    chosen = sandbox_document("http://127.0.0.1")["procedures"]
    periods = fixtures.working_periods(chosen["agencyCode"])
    calendar = fixtures.calendar
    run = timedelta(seconds=RUN_TIMEOUT)
    night = datetime.fromisoformat(_CLOCKS["receipt-time-not-rolled"])
    for sent in (night, night + run):
        assert calendar.official_receipt_time(sent, periods) != sent
    morning = datetime.fromisoformat(_CLOCKS["appointment-in-calendar-days"])
    for sent in (morning, morning + run):
        received = calendar.official_receipt_time(sent, periods).date()
        for code in (chosen["primary"], chosen["withFee"]):
            days = fixtures.procedures[code]["processingDays"]
            working = calendar.add_working_days(received, days)
            assert working > received + timedelta(days=days), (code, sent, working)


def _expect_clock_near(target: Target, start: datetime) -> None:
    """The server's clock runs from ``start``: the iat of a token it issues just now."""
    token = client_token(target.base_url, *SANDBOX_SYSTEM)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert 0 <= claims["iat"] - start.timestamp() < RUN_TIMEOUT, claims
