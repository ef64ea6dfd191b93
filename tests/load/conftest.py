"""What the load tests share: the levels file, a subprocess runner, and a live reference server.

Locust runs in subprocesses only: importing it here would monkey-patch this interpreter with
gevent and break the other tests of the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reference.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SLO = ROOT / "load" / "slo.yaml"
REFERENCE_SLO = Path(__file__).with_name("reference-slo.yaml")
"""The levels the end-to-end runs are judged by (looser tails than the defaults: shared CI)."""
LOAD_SECONDS = int(os.environ.get("EGOV_LOAD_TEST_SECONDS", "15"))
"""Duration of the end-to-end runs; the acceptance run is 30 s (EGOV_LOAD_TEST_SECONDS=30)."""


def run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """A Python subprocess of this interpreter, from the repository root, bounded in time."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=dict(os.environ),
        check=False,
    )


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``egov-conformance serve`` on loopback with a temporary SQLite database."""
    where = tmp_path_factory.mktemp("reference")
    server = LiveServer(f"sqlite:///{where / 'reference.sqlite3'}", where / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
