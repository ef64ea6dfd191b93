"""Running the suites in-process with the plugin, and turning the run into an exit code."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from . import pytest_plugin

SUITES_DIR = Path(__file__).parent / "suites"
EXIT_PASSED, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


@dataclass(frozen=True)
class RunResult:
    """A run's exit code, its report (absent when it never started) and pytest's words."""

    exit_code: int
    report: dict[str, Any] | None
    output: str


class _Capture:
    """A second plugin that keeps the run's state once pytest is done with it."""

    def __init__(self) -> None:
        self.run: pytest_plugin.ConformanceRun | None = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.run = pytest_plugin.conformance_run(session.config)


def _plugin_autoloads() -> bool:
    return any(e.name == "egov_conformance" for e in entry_points(group="pytest11"))


def run_suites(
    target: str,
    *,
    profiles: Sequence[str] = (),
    report_dir: Path | None = None,
    requirements: Sequence[str] = (),
    quiet: bool = False,
    seed: int | None = None,
    extra: Sequence[str] = (),
    select: Sequence[str] = (),
) -> RunResult:
    """Run the suites against ``target``; the exit code is `conformance.report.exit_code`'s.

    ``select`` names tests by the node ids a report records (``test_reception.py::test_…``);
    absent, every suite runs. ``extra`` goes to pytest as it is.
    """
    paths = [str(SUITES_DIR / node) for node in select] or [str(SUITES_DIR)]
    arguments = [
        *paths,
        "-c", str(SUITES_DIR / "pytest.ini"),
        "--rootdir", str(SUITES_DIR),
        "-p", "no:cacheprovider",
        "-qq", "--no-header", "-p", "no:warnings",
        "--target", target,
    ]  # fmt: skip
    for profile in profiles:
        arguments += ["--profile", profile]
    for requirement in requirements:
        arguments += ["--egov-requirement", requirement]
    if report_dir is not None:
        arguments += ["--egov-report", str(report_dir)]
    if quiet:
        arguments.append("--egov-quiet")
    if seed is not None:
        arguments += ["--egov-seed", str(seed)]
    arguments += list(extra)
    capture = _Capture()
    plugins: list[Any] = [capture]
    if not _plugin_autoloads():
        plugins.insert(0, pytest_plugin)
    output = io.StringIO()
    with redirect_stdout(output):
        code = pytest.main(arguments, plugins=plugins)
    text = output.getvalue()
    run = capture.run
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR) or run is None:
        return RunResult(EXIT_SETUP, None, text)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED or run.report is None:
        return RunResult(EXIT_SETUP, run.report, text + "\nno conformance test was selected")
    return RunResult(_exit_code(run.report), run.report, text)


def _exit_code(report: dict[str, Any]) -> int:
    from .report import exit_code

    return exit_code(report)


def print_summary(report: dict[str, Any], stream: Any = sys.stdout) -> None:
    """One line per profile and the totals, for a person at a terminal."""
    for profile in report["profiles"]:
        counts = profile["counts"]
        verdict = profile["verdict"].upper()
        line = f"{profile['name']:<18} {verdict:<16} " + " ".join(
            f"{key}={value}" for key, value in counts.items() if value
        )
        print(line, file=stream)
        if profile.get("blocking"):
            print(f"{'':<18} blocking: {', '.join(profile['blocking'])}", file=stream)
    summary = report["summary"]
    print(
        f"{summary['requirements']} requirements, {summary['tests']} tests, "
        f"{summary['durationMs'] / 1000:.1f} s",
        file=stream,
    )
