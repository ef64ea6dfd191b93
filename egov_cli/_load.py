"""``egov-conformance load``: realistic traffic against a target, judged by service levels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SHAPES = ("steady", "ramp", "working-day", "deadline-spike")


def add_load_command(commands: Any) -> None:
    """Register ``load``."""
    load = commands.add_parser(
        "load",
        help="run a load test and judge it by service levels",
        description="Run locust headless against the target with the kit's users (applicants, "
        "visitors, officers, the payment platform), in a named traffic shape, then judge the "
        "run by a service-level file. Writes locust's CSV and HTML, measurements.json, "
        "accepted-dossiers.txt and summary.json to the report directory. Exit 0 every level "
        "held, 1 a level broke, 2 configuration or connection problem.",
    )
    load.add_argument("--target", required=True, help="a target configuration file or a base URL")
    load.add_argument("--shape", default="steady", choices=SHAPES, help="traffic shape")
    load.add_argument("--users", type=int, default=10, help="peak concurrent users (default 10)")
    load.add_argument(
        "--duration",
        default="60",
        help="run time: seconds, or 30s / 10m / 1h (default 60); the run stops by itself",
    )
    load.add_argument("--slo", type=Path, required=True, help="service-level file (YAML/JSON)")
    load.add_argument("--report", type=Path, required=True, help="directory for the report")
    load.add_argument(
        "--workload",
        default="closed",
        choices=("closed", "open"),
        help="closed: users think, then act; open: arrivals at --rate whatever answers take",
    )
    load.add_argument("--rate", type=float, help="open workload: arrivals per second at peak")
    load.add_argument("--mix", help="user weights, e.g. applicant=6,visitor=3,officer=2,platform=1")
    load.add_argument("--think", help="closed workload: think time MIN-MAX seconds (0.5-2)")
    load.add_argument(
        "--sample-every",
        type=int,
        default=20,
        help="check one response in N per operation against the contract (0: off; default 20)",
    )
    load.add_argument(
        "--workers", type=int, default=0, help="locust worker processes on this machine (0: one)"
    )
    load.add_argument(
        "--max-duration",
        type=float,
        help="refuse runs longer than this many seconds (default 3600, EGOV_LOAD_MAX_DURATION)",
    )
    load.set_defaults(handler=_load)


def _load(arguments: argparse.Namespace) -> int:
    from conformance.load.options import OptionError
    from conformance.load.runner import LoadRequest, duration_seconds, run_load

    try:
        duration = duration_seconds(arguments.duration)
    except OptionError as problem:
        print(f"error: {problem}")
        return 2
    request = LoadRequest(
        target=arguments.target,
        slo=arguments.slo,
        report_dir=arguments.report,
        shape=arguments.shape,
        users=arguments.users,
        duration=duration,
        workload=arguments.workload,
        rate=arguments.rate,
        mix=arguments.mix,
        sample_every=arguments.sample_every,
        think=arguments.think,
        workers=arguments.workers,
        max_duration=arguments.max_duration,
    )
    return run_load(request)
