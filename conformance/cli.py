"""``egov-conformance run``: certify a target, write the reports, exit 0, 1 or 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx

from .config import PROFILES, ConfigError, TargetConfig, load_target
from .runner import EXIT_SETUP, RunResult, print_summary, run_suites


def add_run_command(commands: Any) -> None:
    """Register ``run``."""
    run = commands.add_parser(
        "run",
        help="run the conformance suites against a target",
        description="Run the conformance suites against a target and write the certification "
        "report. Exit 0 when every MUST of the chosen profiles passed, 1 when one failed, "
        "2 for a configuration or connection problem.",
    )
    add_run_options(run)
    run.set_defaults(handler=_run)


def add_run_options(parser: argparse.ArgumentParser, *, target: bool = True) -> None:
    """The options ``run`` and ``demo`` share."""
    if target:
        parser.add_argument(
            "--target", required=True, help="target configuration (.yaml/.json) or a base URL"
        )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=[*PROFILES, "all"],
        help="certification profile (repeatable; default: the configuration's, or all)",
    )
    parser.add_argument("--report", type=Path, default=Path("conformance-report"),
                        help="directory for the reports (default: conformance-report)")  # fmt: skip
    parser.add_argument(
        "--requirement", action="append", default=[], help="run only this requirement (repeatable)"
    )
    parser.add_argument("--seed", type=int, help="seed of the generated data, to replay a run")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (for CI)")


def _run(arguments: argparse.Namespace) -> int:
    return run_and_report(arguments.target, arguments)


def preflight(target: str) -> TargetConfig:
    """Load the configuration and check the target answers; `ConfigError` says what to fix."""
    config = load_target(target)
    for interface in sorted(set(config.base_urls) & {"identity", "catalogue", "dossiers"}):
        url = config.base_url(interface)
        try:
            httpx.get(url + "/", timeout=config.connect_timeout)
        except httpx.HTTPError as problem:
            raise ConfigError(
                f"the {interface} interface at {url} does not answer ({type(problem).__name__}); "
                "check that the system is running and that the URL in the configuration is right"
            ) from None
    return config


def run_and_report(target: str, arguments: argparse.Namespace) -> int:
    """Check the set-up, run the suites, print the summary; the exit code of the run."""
    try:
        preflight(target)
    except ConfigError as problem:
        print(f"egov-conformance: {problem}", file=sys.stderr)
        return EXIT_SETUP
    result: RunResult = run_suites(
        target,
        profiles=arguments.profile,
        report_dir=arguments.report,
        requirements=arguments.requirement,
        quiet=arguments.quiet,
        seed=arguments.seed,
    )
    if result.report is None:
        print("egov-conformance: the run could not start:", file=sys.stderr)
        print(result.output.strip()[-3000:], file=sys.stderr)
        return EXIT_SETUP
    print_summary(result.report)
    print(f"reports: {arguments.report}/report.html, report.vi.html, report.json, junit.xml")
    return result.exit_code
