"""Every deliberate fault of the reference server is caught by the requirement it breaks.

For each fault of `reference_impl.faults.FAULTS`, the server starts with that fault on and the
kit runs the tests of the fault's requirement against it: the run must exit 1 and the report
must grade that requirement failed (warning, for a SHOULD). The kill rate is printed at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from egov_contract import load_catalogue
from reference_impl.faults import FAULTS

from .conftest import run_suites

pytestmark = [pytest.mark.slow, pytest.mark.mutation]

_KILLED: dict[str, bool] = {}


@pytest.fixture(scope="module", autouse=True)
def kill_rate() -> Iterator[None]:
    """Print the kill rate once every fault has run."""
    yield
    if _KILLED:
        caught = sum(_KILLED.values())
        print(f"\nmutation kill rate: {caught}/{len(_KILLED)} faults caught "
              f"({100 * caught / len(_KILLED):.0f}%)")  # fmt: skip
        missed = sorted(name for name, killed in _KILLED.items() if not killed)
        if missed:
            print("survivors: " + ", ".join(missed))


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_caught_by_its_requirement(
    name: str, live: Callable[..., Any], tmp_path: Path
) -> None:
    fault = FAULTS[name]
    level = load_catalogue().by_id(fault.requirement).level
    server = live("--fault", name)
    run = run_suites(server.base_url, tmp_path / "report", fault.requirement)
    expected = "failed" if level == "MUST" else "warning"
    outcome = run.outcome_of(fault.requirement)
    _KILLED[name] = outcome == expected
    assert outcome == expected, (
        f"fault {name!r} ({fault.description}) should make {fault.requirement} {expected}; "
        f"the report says {outcome!r}, exit {run.exit_code}\n{run.output[-3000:]}"
    )
    if level == "MUST":
        assert run.exit_code == 1, run.output[-3000:]
