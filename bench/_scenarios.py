"""The bench's scenarios: read path, submit path, workers curve, full conformance run.

Every ratio is measured within one run, the two sides alternating round by round, so load
from other processes on a shared machine touches both sides alike; the median round counts.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ._portal import Portal, large_form
from ._report import Report, describe, median
from ._servers import Server, bare_server, reference_server
from ._wrk import BenchError, Load, run_wrk


@dataclass(frozen=True)
class Options:
    """How hard and how long to push."""

    duration: float = 3.0
    """Seconds of each timed (read, echo) wrk run."""
    rounds: int = 3
    """Alternating rounds per ratio; the median round is reported."""
    connections: int = 16
    submissions: int = 300
    """Submissions per round (each a distinct draft, prepared beforehand)."""
    workers: tuple[int, ...] = (1, 2, 4)
    postgres: str = "postgresql://postgres@127.0.0.1:5432/test"
    reference_src: Path | None = None
    """Run the reference server from this source tree instead (a before/after comparison)."""
    conformance_timeout: float = 1800.0


def cpu_plan() -> tuple[str | None, str | None]:
    """CPUs for the server and for wrk: one each when there are two or more."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return str(cpus[0]), ",".join(str(c) for c in cpus[1:])


def _reference(
    db_url: str, work: Path, options: Options, *, workers: int = 1, cpus: str | None = None
) -> Server:
    server = reference_server(db_url, work / "reference.log", workers=workers, cpus=cpus)
    if options.reference_src is not None:
        server.use_source(options.reference_src)
    return server


@dataclass
class Side:
    """One side of a ratio, over the rounds."""

    rates: list[float] = field(default_factory=list)
    """Successful requests per second of wall time."""
    per_cpu: list[float] = field(default_factory=list)
    """Successful requests per CPU-second of the server."""
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    last: Load | None = None

    def record(self, server: Server, run: Callable[[], Load]) -> Load:
        """Run one load against ``server``, noting its CPU time."""
        before = server.cpu_seconds()
        load = run()
        cpu = server.cpu_seconds() - before
        self.rates.append(load.rate)
        self.per_cpu.append(load.ok / cpu if cpu > 0 else 0.0)
        self.p50s.append(load.p50_ms)
        self.p99s.append(load.p99_ms)
        self.last = load
        return load

    def note(self) -> str:
        """How the last round went."""
        return describe(self.last) if self.last else ""


def _ratios(top: list[float], bottom: list[float]) -> list[float]:
    return [t / b for t, b in zip(top, bottom, strict=True) if b]


def _report_ratio(report: Report, scenario: str, name: str, top: Side, bottom: Side) -> None:
    wall = _ratios(top.rates, bottom.rates)
    cpu = _ratios(top.per_cpu, bottom.per_cpu)
    report.add(
        scenario,
        f"RATIO {name}, wall req/s",
        median(wall),
        "x",
        "rounds " + ", ".join(f"{r:.3f}" for r in wall),
    )
    report.add(
        scenario,
        f"RATIO {name}, req per server CPU-s",
        median(cpu),
        "x",
        "rounds " + ", ".join(f"{r:.3f}" for r in cpu),
    )


def read_path(report: Report, options: Options) -> None:
    """GET /dossiers/{id} (authenticated, validated, read) beside a bare GET of the same body."""
    server_cpu, client_cpu = cpu_plan()
    with tempfile.TemporaryDirectory(prefix="egov-bench-read-") as scratch:
        work = Path(scratch)
        db_url = f"sqlite:///{work / 'reference.sqlite3'}"
        with _reference(db_url, work, options, cpus=server_cpu) as reference:
            portal = Portal(reference.base_url)
            (dossier,) = portal.drafts(1, threads=1)
            portal.submit(dossier)
            body = portal.read(dossier)
            (work / "dossier.json").write_bytes(body)
            with bare_server(work / "dossier.json", work / "bare.log", cpus=server_cpu) as bare:
                bare_body = portal_bytes(bare.base_url, dossier)
                report.add(
                    "read",
                    "response body, reference / bare",
                    len(body),
                    "bytes",
                    f"bare answers {len(bare_body)} bytes",
                )
                path = f"/dossiers/{dossier}"
                # The same request bytes to both; the bare app ignores the token.
                get = partial(
                    run_wrk,
                    path=path,
                    token=portal.token,
                    cpus=client_cpu,
                    connections=options.connections,
                    duration=options.duration,
                )
                plain, full = Side(), Side()
                for _ in range(options.rounds):
                    plain.record(bare, partial(get, bare.base_url))
                    _check(full.record(reference, partial(get, reference.base_url)), "GET")
                report.add("read", "bare GET", median(plain.rates), "req/s", plain.note())
                report.add(
                    "read", "reference GET /dossiers/{id}", median(full.rates), "req/s", full.note()
                )
                report.add("read", "bare GET per server CPU-second", median(plain.per_cpu), "req")
                report.add(
                    "read", "reference GET per server CPU-second", median(full.per_cpu), "req"
                )
                latency = f"p99 {median(full.p99s):.1f} ms, {options.connections} connections"
                report.add("read", "reference p50 latency", median(full.p50s), "ms", latency)
                _report_ratio(report, "read", "reference / bare (goal >= 0.5)", full, plain)


def portal_bytes(base_url: str, dossier: str) -> bytes:
    """What the bare app answers for the dossier's path."""
    import httpx

    return httpx.get(f"{base_url}/dossiers/{dossier}", timeout=10).content


def submit_path(report: Report, options: Options) -> None:
    """POST /dossiers/{id}/submission (automatic check, code, durable commit) beside a bare echo."""
    server_cpu, client_cpu = cpu_plan()
    form = json.dumps(large_form(), ensure_ascii=False, separators=(",", ":")).encode()
    with tempfile.TemporaryDirectory(prefix="egov-bench-submit-") as scratch:
        work = Path(scratch)
        (work / "dossier.json").write_text("{}")
        db_url = f"sqlite:///{work / 'reference.sqlite3'}"
        with _reference(db_url, work, options, cpus=server_cpu) as reference:
            portal = Portal(reference.base_url)
            started = time.monotonic()
            drafts = portal.drafts(options.submissions * options.rounds)
            report.add(
                "submit",
                "drafts prepared (2 KB e-form, 2 files)",
                len(drafts),
                "drafts",
                f"in {time.monotonic() - started:.1f} s, not timed",
            )
            with bare_server(work / "dossier.json", work / "bare.log", cpus=server_cpu) as bare:
                post = partial(
                    run_wrk,
                    method="POST",
                    token=portal.token,
                    cpus=client_cpu,
                    connections=options.connections,
                )
                echo, submitted = Side(), Side()
                for round_ in range(options.rounds):
                    first = round_ * options.submissions
                    share = drafts[first : first + options.submissions]
                    echo.record(
                        bare,
                        partial(
                            post, bare.base_url, path="/echo", body=form, duration=options.duration
                        ),
                    )
                    load = submitted.record(
                        reference,
                        partial(
                            post,
                            reference.base_url,
                            path="/dossiers/%s/submission",
                            ids=share,
                            duration=max(60.0, options.duration),
                        ),
                    )
                    _check(load, "POST /dossiers/{id}/submission", expected=len(share))
                report.add(
                    "submit",
                    f"bare POST echo ({len(form)} B body)",
                    median(echo.rates),
                    "req/s",
                    echo.note(),
                )
                report.add(
                    "submit",
                    "reference submissions",
                    median(submitted.rates),
                    "req/s",
                    submitted.note(),
                )
                report.add(
                    "submit",
                    "reference submissions per server CPU-second",
                    median(submitted.per_cpu),
                    "req",
                )
                report.add(
                    "submit", "reference submission p50 latency", median(submitted.p50s), "ms"
                )
                report.add(
                    "submit",
                    "reference submission p99 latency",
                    median(submitted.p99s),
                    "ms",
                    f"worst {max(submitted.p99s):.1f} ms, {options.connections} connections",
                )
                _report_ratio(report, "submit", "submissions / bare echo", submitted, echo)


def _check(load: Load, what: str, expected: int | None = None) -> None:
    if load.requests and load.ok < load.requests:
        raise BenchError(f"{what}: {load.requests - load.ok} answers were not 2xx: {load}")
    if expected is not None and load.ok != expected:
        raise BenchError(f"{what}: {load.ok} of {expected} submissions were acknowledged")


@contextmanager
def postgres_schema(admin_url: str) -> Iterator[str]:
    """A database URL whose tables land in a fresh schema, dropped afterwards."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        raise BenchError("psycopg is not installed") from None
    schema = f"bench_{secrets.token_hex(5)}"
    conninfo = admin_url.replace("postgresql://", "postgres://", 1)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL at {admin_url} is not reachable: {exc}") from None
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def workers_curve(report: Report, options: Options) -> None:
    """Reads and submissions per second for 1, 2 and 4 workers on PostgreSQL."""
    for workers in options.workers:
        with (
            tempfile.TemporaryDirectory(prefix="egov-bench-workers-") as scratch,
            postgres_schema(options.postgres) as db_url,
        ):
            work = Path(scratch)
            with _reference(db_url, work, options, workers=workers) as reference:
                portal = Portal(reference.base_url)
                drafts = portal.drafts(options.submissions + 1)
                portal.submit(drafts[0])
                read = run_wrk(
                    reference.base_url,
                    path=f"/dossiers/{drafts[0]}",
                    token=portal.token,
                    connections=options.connections,
                    duration=options.duration,
                )
                _check(read, "GET /dossiers/{id}")
                submitted = run_wrk(
                    reference.base_url,
                    method="POST",
                    path="/dossiers/%s/submission",
                    token=portal.token,
                    ids=drafts[1:],
                    connections=options.connections,
                    duration=max(60.0, options.duration),
                )
                _check(submitted, "POST /dossiers/{id}/submission", expected=len(drafts) - 1)
                codes = portal.codes()
                numbers = sorted(int(code.rsplit("-", 1)[1]) for code in codes)
                gapless = numbers == list(range(1, len(numbers) + 1))
                report.add(
                    "workers",
                    f"PostgreSQL, {workers} worker(s): reads",
                    read.rate,
                    "req/s",
                    describe(read),
                )
                report.add(
                    "workers",
                    f"PostgreSQL, {workers} worker(s): submissions",
                    submitted.rate,
                    "req/s",
                    f"{describe(submitted)}, p99 {submitted.p99_ms:.0f} ms, "
                    f"{len(codes)} codes unique and gapless: {gapless}",
                )
                if not gapless or len(set(codes)) != len(codes):
                    raise BenchError(f"dossier codes are not unique and sequential: {codes}")


def conformance_run(report: Report, options: Options) -> None:
    """Wall time of ``egov-conformance run`` against a fresh reference server."""
    probe = subprocess.run(
        [sys.executable, "-m", "egov_cli", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        report.skip(
            "conformance",
            "`egov-conformance run` is not available yet (the conformance engine is being "
            "written); this part runs once `egov-conformance run --help` works",
        )
        return
    with tempfile.TemporaryDirectory(prefix="egov-bench-conformance-") as scratch:
        work = Path(scratch)
        db_url = f"sqlite:///{work / 'reference.sqlite3'}"
        with _reference(db_url, work, options) as reference:
            started = time.monotonic()
            command = [sys.executable, "-m", "egov_cli", "run", "--target", reference.base_url]
            command += ["--report", str(work / "report"), "--quiet"]
            try:
                run = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=options.conformance_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                report.add(
                    "conformance",
                    "full conformance run: wall time",
                    None,
                    "s",
                    f"not done in {options.conformance_timeout:.0f} s",
                )
                return
            wall = time.monotonic() - started
            summary = [line for line in run.stdout.splitlines() if line.strip()][-3:]
            report.add(
                "conformance",
                "full conformance run: wall time",
                wall,
                "s",
                f"exit {run.returncode}; " + " | ".join(summary)[:300],
            )
