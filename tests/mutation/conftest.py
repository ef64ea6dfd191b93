"""Mutation proof of the suites: the reference server with a fault on, or a valid variant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.reference.live import LiveServer

RUN_TIMEOUT = 600.0


@dataclass(frozen=True)
class SuiteRun:
    """One ``egov-conformance run`` against a live reference server."""

    exit_code: int
    report: dict[str, Any] | None
    output: str

    def outcome_of(self, requirement: str) -> str | None:
        """The report's outcome of ``requirement`` (None when the report lacks it)."""
        if self.report is None:
            return None
        for row in self.report["requirements"]:
            if row["id"] == requirement:
                return str(row["outcome"])
        return None

    def failing(self) -> list[str]:
        """Requirements the run found failed, warned or in error."""
        if self.report is None:
            return []
        return [
            f"{row['id']}={row['outcome']}"
            for row in self.report["requirements"]
            if row["outcome"] in ("failed", "warning", "error")
        ]


def run_suites(base_url: str, report_dir: Path, *requirements: str) -> SuiteRun:
    """The kit's command line against ``base_url``, restricted to ``requirements`` if given."""
    command = [sys.executable, "-m", "egov_cli", "run", "--target", base_url, "--profile", "all",
               "--report", str(report_dir), "--quiet"]  # fmt: skip
    for requirement in requirements:
        command += ["--requirement", requirement]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=dict(os.environ)
    )
    path = report_dir / "report.json"
    report = json.loads(path.read_text("utf-8")) if path.is_file() else None
    return SuiteRun(done.returncode, report, done.stdout + done.stderr)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    """Start a reference server with extra options; stopped after the test."""
    started: list[LiveServer] = []

    def start(*options: str) -> LiveServer:
        server = LiveServer(f"sqlite:///{tmp_path / 'reference.sqlite3'}",
                            tmp_path / "server.log", *options).start()  # fmt: skip
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
