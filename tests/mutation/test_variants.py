"""No false failures: the suites pass a server that makes other allowed choices.

Each variant of `reference_impl.faults.VARIANTS` is a choice the contract leaves open (ids,
ordering, extra fields, timing, 403 or 404 for another's object, asynchronous delivery…). The
full kit runs against the healthy server and against one with every variant on at once; each
must be certifiable with no requirement failed, warned or in error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reference_impl.faults import VARIANTS

from .conftest import run_suites

pytestmark = [pytest.mark.slow, pytest.mark.mutation]


def test_the_healthy_reference_server_is_certifiable(
    live: Callable[..., Any], tmp_path: Path
) -> None:
    run = run_suites(live(), tmp_path / "report")
    assert run.report is not None, run.output[-3000:]
    assert run.failing() == [], run.output[-3000:]
    assert run.exit_code == 0, run.output[-3000:]


def test_every_valid_variant_at_once_is_certifiable(
    live: Callable[..., Any], tmp_path: Path
) -> None:
    options = [option for name in sorted(VARIANTS) for option in ("--variant", name)]
    run = run_suites(live(*options), tmp_path / "report")
    assert run.report is not None, run.output[-3000:]
    assert run.failing() == [], run.output[-3000:]
    assert run.exit_code == 0, run.output[-3000:]
