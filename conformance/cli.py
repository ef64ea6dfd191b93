"""The certification commands: ``run``, ``doctor``, ``replay``, ``bundle`` and ``verify-bundle``.

``run`` checks the set-up first (`conformance.doctor`) and stops on a problem, runs the suites,
writes the reports and exits 0, 1 or 2 (`EXIT_CODES`). The other commands live in modules of
their own and are registered here, so `egov_cli` needs one line per command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import doctor
from .config import PROFILES
from .runner import EXIT_SETUP, RunResult, print_summary, run_suites

EXIT_CODES = (
    "Exit status: 0 every chosen profile is certifiable; 1 a MUST failed (the target's "
    "fault); 2 a configuration or connection problem: the set-up check found one, the run "
    "could not start, or no MUST failed but some MUST ended in error, was skipped or was not "
    "tested (a network failure mid-run, a --requirement run), so no verdict could be reached."
)


def add_run_command(commands: Any) -> None:
    """Register ``run``."""
    run = commands.add_parser(
        "run",
        help="check the set-up, then run the conformance suites against a target",
        description="Check the set-up (as `doctor` does; a problem stops here), run the "
        "conformance suites against a target and write the certification report. " + EXIT_CODES,
    )
    add_target_options(run)
    add_run_options(run, target=False)
    run.set_defaults(handler=_run)


def add_certification_commands(commands: Any) -> None:
    """Register ``doctor``, ``replay``, ``bundle`` and ``verify-bundle``."""
    from .bundle import add_bundle_commands
    from .replay import add_replay_command

    check = commands.add_parser(
        "doctor",
        help="check a target's set-up before a run: one line per problem, with its fix",
        description="Check what most failed certifications turn out to be: the target "
        "answers, its discovery document and JWKS, a token for every identity that the target "
        "accepts, its clock, the simulators' address, the procedures and the agency. Exit 0 "
        "when no problem was found, 2 otherwise.",
    )
    add_target_options(check)
    check.add_argument("--quiet", action="store_true", help="print the problems only")
    check.set_defaults(handler=_doctor)
    add_replay_command(commands)
    add_bundle_commands(commands)


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """``--target`` and the options that start the target from a container image."""
    parser.add_argument(
        "--target",
        help="target configuration (.yaml/.json) or a base URL; with --target-image, where "
        "the container's port is published (default: a free loopback port, sandbox layout)",
    )
    group = parser.add_argument_group("starting the target from its container image")
    group.add_argument(
        "--target-image",
        metavar="IMAGE",
        help="start the system under test from IMAGE (needs Docker and the "
        "'containers' extra), run, then stop it",
    )
    group.add_argument(
        "--image-port",
        type=int,
        default=8000,
        metavar="PORT",
        help="the port the image serves on (default 8000)",
    )
    group.add_argument(
        "--image-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of the container (repeatable); {url} in VALUE "
        "becomes the target's base URL",
    )
    group.add_argument(
        "--image-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long the container may take to answer (default 120)",
    )


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
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("conformance-report"),
        help="directory for the reports (default: conformance-report)",
    )
    parser.add_argument(
        "--requirement", action="append", default=[], help="run only this requirement (repeatable)"
    )
    parser.add_argument("--seed", type=int, help="seed of the generated data, to replay a run")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (for CI)")


def with_target(arguments: argparse.Namespace, action: Callable[[str], int]) -> int:
    """Call ``action`` with the target: ``--target``, or a container started from its image."""
    if arguments.target_image:
        from .containers import run_with_image

        return run_with_image(
            arguments.target_image,
            action,
            target=arguments.target,
            port=arguments.image_port,
            environment=arguments.image_env,
            wait_seconds=arguments.image_wait,
        )
    if not arguments.target:
        print(
            "egov-conformance: give --target (a configuration or a base URL) or --target-image",
            file=sys.stderr,
        )
        return EXIT_SETUP
    return action(arguments.target)


def _run(arguments: argparse.Namespace) -> int:
    return with_target(arguments, lambda target: run_and_report(target, arguments))


def _doctor(arguments: argparse.Namespace) -> int:
    def check(target: str) -> int:
        _config, findings = doctor.examine(target)
        # One stream, in order: the command's whole output is the diagnosis.
        return doctor.report(findings, quiet=arguments.quiet, err=sys.stdout)

    return with_target(arguments, check)


def run_and_report(target: str, arguments: argparse.Namespace) -> int:
    """Check the set-up, run the suites, print the summary; the exit code of the run."""
    if not doctor.before_run(target, quiet=arguments.quiet):
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
    if result.exit_code == EXIT_SETUP:
        print(no_verdict(result.report), file=sys.stderr)
    return result.exit_code


def no_verdict(report: dict[str, Any]) -> str:
    """Why a run that failed no MUST still exits 2: the MUSTs that stand in the way instead."""
    blocking = {b for profile in report["profiles"] for b in profile.get("blocking", ())}
    standing: dict[str, list[str]] = {}
    for row in report["requirements"]:
        if row["id"] in blocking:
            standing.setdefault(row["outcome"], []).append(row["id"])
    parts = [
        f"{len(ids)} {outcome} ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})"
        for outcome, ids in sorted(standing.items())
    ]
    return (
        "egov-conformance: no MUST failed, but no verdict could be reached — MUSTs "
        f"{'; '.join(parts)}: exit 2 (a set-up or connection problem, or a partial run)"
    )
