"""``egov-conformance load`` against a live reference server: held levels, broken levels.

Slow: each run lasts ``EGOV_LOAD_TEST_SECONDS`` (15 s by default; the acceptance run is 30 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reference.live import LiveServer, free_port, sign_in

from .conftest import LOAD_SECONDS, REFERENCE_SLO, ROOT, run

OFFICER = "canbo.h22.honghai.01"
DELAY_SECONDS = 1.5
"""What the slowing proxy adds to every request: three times the medians the levels allow."""
SLOWED_SECONDS = 10
"""The slowed run is short: what breaks shows within seconds."""


def load(
    target: str, report: Path, *extra: str, seconds: int = LOAD_SECONDS
) -> subprocess.CompletedProcess[str]:
    return run(
        "-m", "egov_cli", "load", "--target", target, "--users", "8",
        "--duration", str(seconds), "--slo", str(REFERENCE_SLO), "--report", str(report),
        *extra, timeout=seconds + 120,
    )  # fmt: skip


def summary_of(report: Path) -> dict[str, Any]:
    return dict(json.loads((report / "summary.json").read_text("utf-8")))


@pytest.mark.slow
def test_load_run_against_the_reference_server_holds_every_level(
    reference: LiveServer, tmp_path: Path
) -> None:
    """Exit 0, locust's CSV and HTML written, every accepted dossier readable afterwards."""
    report = tmp_path / "report"
    done = load(reference.base_url, report)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed: all" in done.stdout
    summary = summary_of(report)
    assert summary["verdict"] == "passed"
    assert summary["broken"] == []
    assert summary["workload"]["model"] == "closed"
    assert summary["totals"]["requests"] > 50
    assert summary["contract"]["sampled"] > 0
    assert summary["contract"]["violationCount"] == 0
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust.html"):
        assert (report / name).stat().st_size > 0, name
    accepted = (report / "accepted-dossiers.txt").read_text("utf-8").split()
    assert accepted, "no officer accepted a dossier during the run"
    assert summary["acceptedDossiers"]["count"] == len(accepted)
    headers = {"Authorization": f"Bearer {sign_in(reference.base_url, OFFICER)}"}
    for dossier_id in accepted:
        answer = httpx.get(f"{reference.base_url}/dossiers/{dossier_id}", headers=headers)
        assert answer.status_code == 200, (dossier_id, answer.text)
        assert answer.json()["status"] not in ("draft", "submitted"), dossier_id


@pytest.fixture
def slowed(reference: LiveServer) -> Iterator[str]:
    """The reference server behind a proxy that delays every request by ``DELAY_SECONDS``."""
    port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, "-m", "tests.load.delay_proxy", "--listen", str(port),
         "--upstream", str(reference.port), "--delay", str(DELAY_SECONDS)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proxy.stdout is not None
        assert proxy.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proxy.terminate()
        proxy.wait(10)
        if proxy.stdout is not None:
            proxy.stdout.close()


@pytest.mark.slow
def test_load_run_against_a_slowed_server_exits_1_and_names_the_broken_levels(
    slowed: str, tmp_path: Path
) -> None:
    """The open workload keeps arriving; latency levels (and missed arrivals) break: exit 1."""
    report = tmp_path / "report"
    done = load(slowed, report, "--workload", "open", "--rate", "4", seconds=SLOWED_SECONDS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN: p50 latency of listProcedures" in done.stdout
    assert "FAILED:" in done.stdout
    summary = summary_of(report)
    assert summary["verdict"] == "failed"
    assert summary["workload"]["model"] == "open"
    assert "latency/listProcedures/p50" in summary["broken"]
    assert "minArrivalRatio" in summary["broken"]  # the open workload did not slow down
    assert summary["workload"]["dropped"] > 0
    levels = {level["level"]: level for level in summary["levels"]}
    assert levels["latency/listProcedures/p50"]["measured"] >= DELAY_SECONDS * 1000
