"""``python -m bench``: the reference server beside a bare Starlette app, in one run.

Run from the repository root. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ._report import Report
from ._scenarios import (
    Options,
    conformance_run,
    cpu_plan,
    read_path,
    submit_path,
    workers_curve,
)
from ._wrk import BenchError, wrk_path

SCENARIOS: dict[str, Callable[[Report, Options], None]] = {
    "read": read_path,
    "submit": submit_path,
    "workers": workers_curve,
    "conformance": conformance_run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this scenario (repeatable; default: all, in the order read, submit, "
        "workers, conformance)",
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per timed run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per ratio")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--submissions", type=int, default=300, help="submissions per round (distinct drafts)"
    )
    parser.add_argument(
        "--workers",
        default="1,2,4",
        help="worker counts of the PostgreSQL curve, comma-separated (default 1,2,4)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("EGOV_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL for the workers curve (a schema of its own is made and dropped)",
    )
    parser.add_argument(
        "--reference-src",
        type=Path,
        help="serve the reference implementation from this source tree instead (e.g. an "
        "exported older commit, for before/after figures)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; 0 when all ran, 2 when the bench could not be set up."""
    arguments = _parser().parse_args(argv)
    try:
        wrk = wrk_path()
    except BenchError as problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    options = Options(
        duration=arguments.duration,
        rounds=arguments.rounds,
        connections=arguments.connections,
        submissions=arguments.submissions,
        workers=tuple(int(n) for n in arguments.workers.split(",") if n),
        postgres=arguments.postgres,
        reference_src=arguments.reference_src.resolve() if arguments.reference_src else None,
    )
    server_cpu, client_cpu = cpu_plan()
    report = Report(
        machine={
            "cpus": os.cpu_count(),
            "server_cpu": server_cpu,
            "wrk_cpus": client_cpu,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
            "wrk": wrk,
            "reference_src": str(options.reference_src or "this checkout"),
        }
    )
    print(f"bench: {report.machine}", flush=True)
    started = time.monotonic()
    failed = False
    for name in arguments.only or list(SCENARIOS):
        try:
            SCENARIOS[name](report, options)
        except BenchError as problem:
            failed = True
            report.skip(name, f"failed: {problem}")
    print(f"\nbench: done in {time.monotonic() - started:.0f} s\n{report.table()}")
    if arguments.json:
        report.write(arguments.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
