"""``egov-conformance load``: check everything, run locust headless as a subprocess, judge.

Locust runs in its own process(es) because importing it monkey-patches the interpreter with
gevent; the CLI stays a plain Python process that validates the options, the levels file and
the target, checks the target answers and the first accounts sign in, starts locust on the
kit's locustfile (with ``--workers N``: a master and N workers on loopback), and reads the
summary locust's master wrote. Every run is bounded: the duration is capped, the shape stops
by itself at the duration, and a generator that overstays is killed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..config import ConfigError, load_target
from .data import LoadSetupError, preflight
from .options import LoadSettings, OptionError, max_duration, parse_mix, parse_think
from .profiles import ProfileError, profile
from .slo import SloError, load_service_levels
from .summary import CSV_PREFIX, HTML_FILE, NOT_RUN, SUMMARY_FILE, exit_code, report_lines

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
START_GRACE_SECONDS = 60.0
"""Time locust may take to start (imports, workers connecting) before the run's clock."""
STOP_GRACE_SECONDS = 30.0
"""Time it may take after the run to clean up, gather the workers' reports and write files."""


@dataclass(frozen=True)
class LoadRequest:
    """What ``egov-conformance load`` was asked to do."""

    target: str
    slo: Path
    report_dir: Path
    shape: str = "steady"
    users: int = 10
    duration: int = 60
    workload: str = "closed"
    rate: float | None = None
    mix: str | None = None
    sample_every: int = 20
    think: str | None = None
    workers: int = 0
    max_duration: float | None = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(request: LoadRequest) -> str:
    """Validate ``request`` and the target before any load; the host locust is given.

    Raises:
        OptionError, ProfileError, SloError, ConfigError, LoadSetupError: with one sentence.
    """
    cap = max_duration(request.max_duration)
    if request.duration > cap:
        raise OptionError(
            f"--duration {request.duration} s is over the cap of {cap:g} s; shorten the run or "
            "raise the cap with --max-duration (or EGOV_LOAD_MAX_DURATION)"
        )
    if request.workers < 0:
        raise OptionError(f"--workers must be 0 (one process) or more, got {request.workers}")
    LoadSettings(
        target=request.target,
        users=request.users,
        workload=request.workload,
        rate=request.rate,
        mix=parse_mix(request.mix),
        sample_every=request.sample_every,
        think=parse_think(request.think),
        duration=request.duration,
    )
    profile(request.shape, request.users, request.duration)
    load_service_levels(request.slo)
    config = load_target(request.target)
    preflight(config)
    return config.base_url("dossiers")


def locust_commands(request: LoadRequest, host: str) -> list[list[str]]:
    """The locust command lines: one process, or a master followed by its workers."""
    report = request.report_dir.resolve()
    common = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    kit = [
        "--egov-target", request.target,
        "--egov-shape", request.shape,
        "--egov-workload", request.workload,
        "--egov-sample-every", str(request.sample_every),
        "--egov-report", str(report),
        "--egov-slo", str(request.slo.resolve()),
    ]  # fmt: skip
    if request.rate is not None:
        kit += ["--egov-rate", str(request.rate)]
    if request.mix:
        kit += ["--egov-mix", request.mix]
    if request.think:
        kit += ["--egov-think", request.think]
    if request.max_duration is not None:
        kit += ["--egov-max-duration", str(request.max_duration)]
    main = [
        *common, "--headless", "--host", host, "-u", str(request.users),
        "-t", f"{request.duration}s", "--csv", str(report / CSV_PREFIX),
        "--html", str(report / HTML_FILE), "--only-summary", "--stop-timeout", "0", *kit,
    ]  # fmt: skip
    if not request.workers:
        return [main]
    port = str(_free_port())
    master = [
        *main, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
        "--expect-workers", str(request.workers), "--expect-workers-max-wait", "30",
    ]  # fmt: skip
    worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", port]
    return [master] + [worker] * request.workers


def _start(command: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ), cwd=Path.cwd()
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def run_locust(request: LoadRequest, host: str) -> int | None:
    """Run locust to the end; its master's exit code, or None when it had to be killed."""
    request.report_dir.mkdir(parents=True, exist_ok=True)
    commands = locust_commands(request, host)
    names = ["locust.log"] + [f"locust-worker-{n}.log" for n in range(1, len(commands))]
    logs = [(request.report_dir / name).open("ab") for name in names]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes = [_start(command, log) for command, log in zip(commands, logs, strict=True)]
        deadline = request.duration + START_GRACE_SECONDS + STOP_GRACE_SECONDS
        try:
            code = processes[0].wait(deadline)
        except subprocess.TimeoutExpired:
            return None
        for worker in processes[1:]:
            # The master's summary is what counts; _stop ends a straggler.
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(STOP_GRACE_SECONDS)
        return code
    finally:
        _stop(processes)
        for log in logs:
            log.close()


def run_load(request: LoadRequest, say: Callable[[str], Any] = print) -> int:
    """Run ``request``; 0 every level held, 1 one broke, 2 the run could not be made."""
    try:
        host = check(request)
    except (OptionError, ProfileError, SloError, ConfigError, LoadSetupError) as problem:
        say(f"error: {problem}")
        return NOT_RUN
    summary_path = request.report_dir / SUMMARY_FILE
    summary_path.unlink(missing_ok=True)  # a summary left by an earlier run must not count
    code = run_locust(request, host)
    if code is None:
        say(
            f"error: the load generator did not stop within {request.duration} s and its grace "
            f"time and was killed; see {request.report_dir / 'locust.log'}"
        )
        return NOT_RUN
    if not summary_path.is_file():
        say(
            f"error: the load generator exited {code} without writing its summary; see "
            f"{request.report_dir / 'locust.log'}"
        )
        return NOT_RUN
    summary = json.loads(summary_path.read_text("utf-8"))
    for line in report_lines(summary):
        say(line)
    say(f"report: {request.report_dir}")
    return exit_code(summary)


def duration_seconds(text: str) -> int:
    """A duration given as seconds (``30``) or with a unit (``30s``, ``10m``, ``1h``)."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        value = float(number)
    except ValueError:
        raise OptionError(f"a duration is seconds or 30s/10m/1h, got {text!r}") from None
    if value <= 0:
        raise OptionError(f"the duration must be positive, got {text!r}")
    return math.ceil(value * units[unit])
