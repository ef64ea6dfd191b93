"""Locust's own distributed mode: one master, two workers, on loopback, ending by itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reference.live import LiveServer, free_port

from .conftest import ROOT

RUN_SECONDS = 10


@pytest.mark.slow
def test_master_and_two_workers_share_the_run_and_stop_at_its_end(
    reference: LiveServer, tmp_path: Path
) -> None:
    """``--expect-workers 2``: both workers send requests; the shape ends the run; exit 0."""
    port = str(free_port())
    locust = [sys.executable, "-m", "locust", "-f", str(ROOT / "load" / "locustfile.py")]
    master_log = (tmp_path / "master.log").open("wb")
    master = subprocess.Popen(
        [*locust, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
         "--expect-workers", "2", "--expect-workers-max-wait", "30", "--headless",
         "-u", "6", "-t", f"{RUN_SECONDS}s", "--host", reference.base_url,
         "--egov-report", str(tmp_path),
         "--csv", str(tmp_path / "locust"), "--only-summary"],
        cwd=ROOT, stdout=master_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        code = master.wait(RUN_SECONDS + 60)  # the run stops by itself; nobody stops it here
        worker_codes = [worker.wait(30) for worker in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.wait(10)
        master_log.close()
    log = (tmp_path / "master.log").read_text("utf-8", errors="replace")
    assert code == 0, log[-3000:]
    assert worker_codes == [0, 0]
    assert "Shape test stopping" in log
    # No levels file: this checks the distribution, not the shared machine's latencies.
    measured = json.loads((tmp_path / "measurements.json").read_text("utf-8"))
    contributed = measured["workers"]
    assert len(contributed) == 2, contributed
    assert all(requests > 0 for requests in contributed.values()), contributed
    assert sum(contributed.values()) == measured["total"]["requests"]
    assert abs(measured["durationSeconds"] - RUN_SECONDS) < 3
