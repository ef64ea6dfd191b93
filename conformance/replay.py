"""``egov-conformance replay``: run one test of a report again, as the report says it ran.

A regulator (or the vendor, after a fix) takes a ``report.json``, names one test by the node id
the report records, and gets that test's outcome anew: same kit, same seed, same profiles, the
same target. The report holds the target's base URLs and the configuration's digest, not the
configuration (it may hold secrets): a run from a bare URL replays on its own, a run from a
file needs ``--target`` again.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import doctor
from .config import ConfigError, load_target, sandbox_target
from .runner import EXIT_FAILED, EXIT_PASSED, EXIT_SETUP, run_suites

# failed > error > warning > passed > skipped, as a requirement takes the worst of its tests.
_RANK = {"skipped": 0, "passed": 1, "warning": 2, "error": 3, "failed": 4}
_EXIT = {"passed": EXIT_PASSED, "warning": EXIT_PASSED, "failed": EXIT_FAILED}


class ReplayError(Exception):
    """The replay cannot start; the message says why and what to give instead."""


def add_replay_command(commands: Any) -> None:
    """Register ``replay``."""
    replay = commands.add_parser(
        "replay",
        help="run one test of a report again, with the report's seed and target",
        description="Run one test of a report again against the report's target, with its "
        "seed and profiles, and print the outcome beside the recorded one. Exit 0 when the "
        "test passed (or only warned), 1 when it failed, 2 when it ended in error, was "
        "skipped, or could not be run.",
    )
    replay.add_argument(
        "--report", required=True, type=Path, help="the report.json of the run (or its directory)"
    )
    replay.add_argument(
        "--test",
        required=True,
        metavar="NODEID",
        help="the test, as the report names it (test_x.py::test_y)",
    )
    replay.add_argument(
        "--target",
        help="the configuration or base URL to replay against "
        "(default: the report's base URL, when it came from a bare URL run)",
    )
    replay.add_argument(
        "--out", type=Path, help="directory for the replay's own reports (default: not kept)"
    )
    replay.add_argument("--quiet", action="store_true", help="no progress lines")
    replay.set_defaults(handler=_replay)


def read_report(path: Path) -> dict[str, Any]:
    """The report at ``path`` (a report.json, or the directory holding one)."""
    path = path / "report.json" if path.is_dir() else path
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as problem:
        raise ReplayError(f"{path}: not a readable report.json ({problem})") from None
    if not isinstance(document, dict) or "requirements" not in document:
        raise ReplayError(f"{path}: not a report of egov-conformance (no requirements)")
    return document


def contributions(report: dict[str, Any], node: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each requirement row of the report that the test ``node`` contributed to, with its entry."""
    return [
        (row, test)
        for row in report["requirements"]
        for test in row.get("tests", ())
        if test["name"] == node
    ]


def test_outcome(report: dict[str, Any], node: str) -> str | None:
    """The test's outcome in the report: the worst of its contributions (None: not in it)."""
    outcomes = [test["outcome"] for _row, test in contributions(report, node)]
    return max(outcomes, key=lambda o: _RANK.get(o, 0)) if outcomes else None


def recorded_target(report: dict[str, Any]) -> str:
    """The base URL a bare-URL run was made against; `ReplayError` for a configuration run."""
    target = report.get("target", {})
    urls = set(target.get("baseUrls", {}).values())
    if len(urls) == 1:
        url = urls.pop()
        # A bare URL means the sandbox layout, whose digest the kit computes the same way.
        if sandbox_target(url).sha256 == target.get("configSha256"):
            return str(url)
    raise ReplayError(
        "the report was made from a configuration file (configSha256 "
        f"{str(target.get('configSha256', '?'))[:12]}…), which a report does not hold; give "
        "the same file with --target"
    )


def replay(
    report: dict[str, Any], node: str, *, target: str | None, out: Path, quiet: bool = False
) -> int:
    """Run ``node`` again and print its outcome beside the recorded one; the exit code."""
    recorded = test_outcome(report, node)
    if recorded is None:
        raise ReplayError(f"the report has no test {node!r}; name one of its tests[].name")
    target = target or recorded_target(report)
    _warn_if_different(report, target)
    if not doctor.before_run(target, quiet=True):
        return EXIT_SETUP
    result = run_suites(
        target,
        profiles=[profile["name"] for profile in report["profiles"]],
        report_dir=out,
        quiet=quiet,
        seed=report.get("seeds", {}).get("run"),
        select=[node],
    )
    found = contributions(result.report, node) if result.report is not None else []
    if not found:
        print(f"egov-conformance replay: {node} did not run; pytest said:", file=sys.stderr)
        print(result.output.strip()[-2000:], file=sys.stderr)
        return EXIT_SETUP
    return _tell(node, found, recorded)


def _tell(node: str, found: list[tuple[dict[str, Any], dict[str, Any]]], recorded: str) -> int:
    outcome = max((test["outcome"] for _row, test in found), key=lambda o: _RANK.get(o, 0))
    same = "as recorded" if outcome == recorded else f"recorded: {recorded}"
    print(f"{outcome.upper()} {node} ({same})")
    rows = [row for row, test in found if test["outcome"] == outcome]
    for row, test in found:
        if test["outcome"] != outcome:
            continue
        if test.get("failure"):
            failure = test["failure"]
            print(f"  {row['id']}: expected {failure['expected']}; got {failure['actual']}")
        elif outcome != "passed":
            print(f"  {row['id']}: {test.get('skipReason') or row.get('reason', '')}")
    if outcome == "failed" and all(row["outcome"] == "waived" for row in rows):
        # As in `run`: a failure the configuration waives does not fail the certification.
        print(f"  waived: {', '.join(r['id'] + ' until ' + r['waiver']['expires'] for r in rows)}")
        return EXIT_PASSED
    return _EXIT.get(outcome, EXIT_SETUP)


def _warn_if_different(report: dict[str, Any], target: str) -> None:
    try:
        config = load_target(target)
    except ConfigError:
        return  # the set-up check that follows says what is wrong with it
    if config.sha256 != report.get("target", {}).get("configSha256"):
        print(
            "egov-conformance replay: this is not the configuration the report was made "
            "with (its sha256 differs); replaying against it all the same",
            file=sys.stderr,
        )


def _replay(arguments: argparse.Namespace) -> int:
    try:
        report = read_report(arguments.report)
        if arguments.out is not None:
            return replay(
                report,
                arguments.test,
                target=arguments.target,
                out=arguments.out,
                quiet=arguments.quiet,
            )
        with tempfile.TemporaryDirectory(prefix="egov-replay-") as scratch:
            return replay(
                report,
                arguments.test,
                target=arguments.target,
                out=Path(scratch),
                quiet=arguments.quiet,
            )
    except ReplayError as problem:
        print(f"egov-conformance replay: {problem}", file=sys.stderr)
        return EXIT_SETUP
