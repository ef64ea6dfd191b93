"""The kit's wiring into locust's events; importing this module registers it.

Imports locust: only locustfiles import this module.

- ``--egov-*`` options (each also read from an ``EGOV_LOAD_*`` variable); locust sends them
  from the master to its workers with every spawn message.
- the user mix: class weights from ``--egov-mix``, a weight of 0 leaves the class out.
- contract sampling of responses, in every process that runs users.
- the parts of the run beyond locust's statistics (accepted dossiers, arrivals, violations)
  ride on each worker's stats report to the master.
- at the end: drafts cleaned up where users ran; ``measurements.json``, the accepted dossier
  ids and, with ``--egov-slo``, ``summary.json`` and the exit code (0 held, 1 broken) written
  where the statistics are (the master, or the single process).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import gevent  # type: ignore[import-untyped]  # no stubs installed
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from .data import CONTEXT_KEY, VN_TZ, LoadSetupError, RunContext, known_context, run_context
from .options import DEFAULT_SAMPLE_EVERY, WORKLOADS, LoadSettings, OptionError
from .profiles import PROFILES
from .record import RunTotals
from .sampling import operations
from .slo import PERCENTILES, SloError, evaluate, load_service_levels
from .summary import build_summary, exit_code, report_lines, write_report

logger = logging.getLogger("egov.load")
# Token requests go through httpx, which logs each one at INFO: noise beside locust's own log.
logging.getLogger("httpx").setLevel(logging.WARNING)
# Reading the contract takes a second or two of CPU. Done later, inside the gevent loop, it
# would stall a worker's heartbeats long enough for its master to give it up as missing. Done
# here, it leaves gevent's cached clock that far behind, and locust's --run-time timer would
# fire that much early: so the clock is brought up to date afterwards.
operations()
gevent.get_hub().loop.update_now()

EGOV_KEY = "egov"
"""Where a worker's part of the run travels in its stats report."""


@dataclass
class _Run:
    """What the process that holds the statistics gathers about the run."""

    totals: RunTotals = field(default_factory=RunTotals)
    started: float | None = None
    stopped: float | None = None
    started_at: str | None = None
    context: RunContext | None = None
    failed: bool = False
    """The run could not be set up: no verdict, exit 2."""


_RUN = _Run()
"""This process's run: locust runs one environment per process."""

Listener = TypeVar("Listener", bound=Callable[..., None])


def _on(hook: Any) -> Callable[[Listener], Listener]:
    """Register the decorated function with a locust event hook (locust's are untyped)."""

    def register(listener: Listener) -> Listener:
        hook.add_listener(listener)
        return listener

    return register


@_on(events.init_command_line_parser)
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("egov-conformance", "the kit's load-test options")
    group.add_argument(
        "--egov-target",
        env_var="EGOV_LOAD_TARGET",
        default="",
        help="a target configuration file or a base URL (default: --host, the sandbox layout)",
    )
    group.add_argument(
        "--egov-shape",
        env_var="EGOV_LOAD_SHAPE",
        default="steady",
        choices=list(PROFILES),
        help="traffic shape; -u is its peak, -t its duration",
    )
    group.add_argument(
        "--egov-workload", env_var="EGOV_LOAD_WORKLOAD", default="closed", choices=WORKLOADS
    )
    group.add_argument(
        "--egov-rate",
        env_var="EGOV_LOAD_RATE",
        default="",
        help="open workload: arrivals per second at the peak user count",
    )
    group.add_argument(
        "--egov-mix",
        env_var="EGOV_LOAD_MIX",
        default="",
        help="user weights, e.g. applicant=6,visitor=3,officer=2,platform=1",
    )
    group.add_argument(
        "--egov-think", env_var="EGOV_LOAD_THINK", default="", help="closed workload: MIN-MAX s"
    )
    group.add_argument(
        "--egov-sample-every",
        env_var="EGOV_LOAD_SAMPLE_EVERY",
        type=int,
        default=DEFAULT_SAMPLE_EVERY,
        help="check one response in N per operation against the contract (0: none)",
    )
    group.add_argument("--egov-report", env_var="EGOV_LOAD_REPORT", default="", help="report dir")
    group.add_argument("--egov-slo", env_var="EGOV_LOAD_SLO", default="", help="levels file")
    group.add_argument(
        "--egov-max-duration",
        env_var="EGOV_LOAD_MAX_DURATION",
        default="",
        help="the longest run time allowed, in seconds (default 3600)",
    )


@_on(events.init)
def _apply_mix(environment: Any, runner: Any = None, **_kwargs: Any) -> None:
    if isinstance(runner, WorkerRunner):
        return  # the master decides who runs; a worker only spawns what it is told
    options = environment.parsed_options
    _share_peak(options)
    try:
        settings = LoadSettings.from_options(options, environment.host)
    except OptionError as problem:
        if options is not None and getattr(options, "headless", False):
            logger.error("%s", problem)
            sys.exit(2)
        return  # the web UI may still get a host; the run checks again when it starts
    chosen = [
        cls for cls in environment.user_classes if settings.mix.get(getattr(cls, "role", ""), 1) > 0
    ]
    for cls in chosen:
        role = getattr(cls, "role", "")
        if role in settings.mix:
            cls.weight = settings.mix[role]
    environment.user_classes = chosen


def _share_peak(options: Any) -> None:
    # Locust forwards to workers every option that is not one of its own, so the peak user
    # count (-u, one of its own) travels as egov_users: workers pace the open workload by it.
    if options is not None and getattr(options, "num_users", None):
        options.egov_users = options.num_users


@_on(events.test_start)
def _start(environment: Any, **_kwargs: Any) -> None:
    _RUN.started = time.monotonic()
    _RUN.started_at = datetime.now(VN_TZ).isoformat(timespec="seconds")
    if isinstance(environment.runner, MasterRunner):
        _share_peak(environment.parsed_options)
        return
    try:
        _RUN.context = run_context(environment)
    except (LoadSetupError, OptionError) as problem:
        logger.error("cannot start the load run: %s", problem)
        _RUN.failed = True
        environment.process_exit_code = 2
        gevent.spawn(environment.runner.quit)


@_on(events.request)
def _sample(
    name: str, response: Any = None, context: dict[str, Any] | None = None, **_kwargs: Any
) -> None:
    run = (context or {}).get(CONTEXT_KEY)
    if not isinstance(run, RunContext):
        return
    run.record.requests += 1  # counted where locust's statistics count, so the two agree
    if response is None or not response.status_code:
        return
    sampler = run.record.sampler
    if sampler.wants(name):
        headers = response.headers
        content_type = headers.get("content-type") if headers else None
        sampler.check(name, int(response.status_code), content_type, response.content)


@_on(events.report_to_master)
def _report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    if _RUN.context is not None:
        data[EGOV_KEY] = _RUN.context.record.drain()


@_on(events.worker_report)
def _receive(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    part = data.get(EGOV_KEY)
    if part:
        _RUN.totals.add(part, client_id)


@_on(events.test_stop)
def _stop(environment: Any, **_kwargs: Any) -> None:
    _RUN.stopped = time.monotonic()


@_on(events.quitting)
def _finish(environment: Any, **_kwargs: Any) -> None:
    context = known_context(environment)
    if context is not None:
        deleted, left = context.clean_up()
        if deleted or left:
            logger.info("clean-up: %d draft(s) deleted, %d left", deleted, left)
    if isinstance(environment.runner, WorkerRunner) or _RUN.failed:
        return
    run = _RUN
    if context is not None:
        run.totals.add(context.record.drain(), "local")
    try:
        settings = LoadSettings.from_options(environment.parsed_options, environment.host)
    except OptionError as problem:
        logger.error("%s", problem)
        return
    measurements = measure(environment, run, settings)
    summary = None
    if settings.slo:
        try:
            levels = evaluate(load_service_levels(settings.slo), measurements)
        except SloError as problem:
            logger.error("%s", problem)
            environment.process_exit_code = 2
            return
        summary = build_summary(measurements, levels, settings.slo)
        for line in report_lines(summary):
            logger.info("%s", line)
        environment.process_exit_code = exit_code(summary)
    if settings.report_dir:
        write_report(Path(settings.report_dir), measurements, summary)


def _entry(entry: Any) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "method": entry.method,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "avg": round(entry.avg_response_time, 1),
        "min": round(entry.min_response_time or 0, 1),
        "max": round(entry.max_response_time, 1),
    }
    for name in PERCENTILES:
        stats[name] = entry.get_response_time_percentile(float(name[1:]) / 100)
    return stats


def measure(environment: Any, run: _Run, settings: LoadSettings) -> dict[str, Any]:
    """The run's measurements: locust's statistics per operation plus the kit's totals."""
    stats = environment.runner.stats
    stopped = run.stopped or time.monotonic()
    duration = stopped - run.started if run.started is not None else 0.0
    totals = run.totals
    workload: dict[str, Any] = {"model": settings.workload}
    if settings.workload == "open":
        workload.update(rate=settings.rate, arrivals=totals.arrivals, dropped=totals.dropped)
    else:
        workload.update(thinkSeconds=list(settings.think))
    return {
        "target": {"name": settings.target},
        "shape": settings.shape,
        "users": settings.users,
        "mix": dict(settings.mix),
        "startedAt": run.started_at,
        "durationSeconds": round(duration, 3),
        "workload": workload,
        "operations": {
            name: _entry(entry) for (name, _method), entry in sorted(stats.entries.items())
        },
        "total": _entry(stats.total),
        "failures": [
            {
                "operation": error.name,
                "method": error.method,
                "error": str(error.error),
                "occurrences": error.occurrences,
            }
            for error in stats.errors.values()
        ],
        "contract": totals.contract_json(settings.sample_every),
        "acceptedDossiers": totals.accepted,
        "workers": dict(totals.requests_by_worker),
        "harnessErrors": totals.harness_errors,
    }
