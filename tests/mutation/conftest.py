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
import yaml

from conformance.config import sandbox_document
from conformance.simulators.identity import trust_option
from tests.reference.live import LiveServer, free_port

RUN_TIMEOUT = 600.0

KILLED: dict[str, bool] = {}
"""Each fault judged this session, and whether the kit caught it (`test_kill`)."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The kill rate, at the end of the run, whatever the output capture."""
    if not KILLED:
        return
    caught = sum(KILLED.values())
    terminalreporter.write_line(
        f"mutation kill rate: {caught}/{len(KILLED)} faults caught "
        f"({100 * caught / len(KILLED):.0f}%)"
    )
    missed = sorted(name for name, killed in KILLED.items() if not killed)
    if missed:
        terminalreporter.write_line("survivors: " + ", ".join(missed))


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


@dataclass(frozen=True)
class Target:
    """A live reference server and the port the kit's simulators listen on for it."""

    server: LiveServer
    simulator_port: int
    kit_issuer: bool = True

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return self.server.base_url

    def write_config(self, path: Path) -> Path:
        """The sandbox configuration of this server, with the simulators' fixed port."""
        document = sandbox_document(self.base_url, self.simulator_port, kit_issued=self.kit_issuer)
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        return path


def run_suites(target: Target, report_dir: Path, *requirements: str) -> SuiteRun:
    """The kit's command line against ``target``, restricted to ``requirements`` if given."""
    report_dir.mkdir(parents=True, exist_ok=True)
    config = target.write_config(report_dir.parent / "target.yaml")
    command = [sys.executable, "-m", "egov_cli", "run", "--target", str(config), "--profile",
               "all", "--report", str(report_dir), "--quiet"]  # fmt: skip
    for requirement in requirements:
        command += ["--requirement", requirement]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=dict(os.environ)
    )
    path = report_dir / "report.json"
    report = json.loads(path.read_text("utf-8")) if path.is_file() else None
    return SuiteRun(done.returncode, report, done.stdout + done.stderr)


def start_target(folder: Path, *options: str, kit_issuer: bool = True) -> Target:
    """A reference server with extra options, calling and trusting the kit's simulators.

    It pushes to the kit's NPSP and, with ``kit_issuer``, trusts the kit's identity provider
    (applicantB's tokens; a server whose clock is set apart from the kit's would see them as
    issued in the future). Its database and log are in ``folder``; the caller stops it.
    """
    port = free_port()
    simulators = f"http://127.0.0.1:{port}"
    trust = ("--trust-issuer", trust_option(simulators)) if kit_issuer else ()
    server = LiveServer(f"sqlite:///{folder / 'reference.sqlite3'}", folder / "server.log",
                        "--sync-url", simulators, *trust, *options).start()  # fmt: skip
    return Target(server, port, kit_issuer)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    """`start_target` in the test's folder; every server started is stopped at the end."""
    started: list[Target] = []

    def start(*options: str, kit_issuer: bool = True) -> Target:
        started.append(start_target(tmp_path, *options, kit_issuer=kit_issuer))
        return started[-1]

    yield start
    for target in started:
        target.server.stop()
