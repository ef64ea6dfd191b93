"""Schema-level testing of a target with the upstream schemathesis CLI.

Each operation is called with a token of a role it declares in ``x-egov-roles``, so that
schemathesis reaches the operation's logic instead of stopping at 403.

Two ways to run it: `run_spec`, one CLI process per spec; and `Batch`, a few worker processes
that each import schemathesis once and run the CLI for several specs in turn (``python -m
conformance.schemathesis_run JOBS.json``): starting the CLI costs seconds, so the conformance
suite, which runs every spec of the chosen profiles, pays it once per worker, not once per spec.

How hard schemathesis tries is a named effort, like hypothesis profiles: ``dev``, ``ci`` (the
default) or ``thorough``, chosen by ``EGOV_EFFORT`` (or ``HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egov_contract import contract, specs_dir

HOOKS_MODULE = "conformance.schemathesis_hooks"

# A request that matches the schema may still be refused by a rule the contract states in
# words: 412 (a stale If-Match) and 422 (a domain check: unknown procedure, wrong file type…).
# Schemathesis cannot know those rules, so its positive-data check accepts them too.
POSITIVE_STATUSES = ("2xx", "401", "403", "404", "409", "412", "422", "429")

ALL_PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass(frozen=True)
class Effort:
    """How hard schemathesis tries: examples per operation and the phases it runs."""

    name: str
    max_examples: int
    phases: tuple[str, ...]


EFFORTS: Mapping[str, Effort] = {
    # A quick look while writing a server: the spec's examples and a few generated cases.
    "dev": Effort("dev", 1, ("examples",)),
    # The default of a conformance run: small enough for the whole kit to stay fast.
    "ci": Effort("ci", 2, ("examples", "fuzzing")),
    # Certification evidence: every phase, boundary values and stateful sequences included.
    "thorough": Effort("thorough", 50, ALL_PHASES),
}


def effort_from_environment(environ: Mapping[str, str] | None = None) -> Effort:
    """The effort ``EGOV_EFFORT`` names, else ``HYPOTHESIS_PROFILE`` when it names one; ``ci``.

    Raises ValueError naming the valid efforts when ``EGOV_EFFORT`` names none of them
    (``HYPOTHESIS_PROFILE`` may name a profile of the vendor's own hypothesis settings).
    """
    environ = os.environ if environ is None else environ
    name = environ.get("EGOV_EFFORT")
    if not name:
        profile = environ.get("HYPOTHESIS_PROFILE", "")
        name = profile if profile in EFFORTS else "ci"
    try:
        return EFFORTS[name]
    except KeyError:
        raise ValueError(
            f"unknown schemathesis effort EGOV_EFFORT={name!r}; use one of {', '.join(EFFORTS)}"
        ) from None


@dataclass(frozen=True)
class Failure:
    """One failing operation as schemathesis reports it: its check codes and its account."""

    operation: str
    codes: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class SchemathesisRun:
    """What one run of the CLI over one spec produced."""

    spec: str
    exit_code: int
    output: str
    junit: Path | None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when schemathesis found no failure."""
        return self.exit_code == 0

    def failures(self) -> list[Failure]:
        """The failing operations of the JUnit report (none when it was not written)."""
        if self.junit is None or not self.junit.is_file():
            return []
        found = []
        for case in ElementTree.parse(self.junit).getroot().iter("testcase"):
            for problem in case:
                if problem.tag in ("failure", "error"):
                    codes = tuple(re.findall(r"ST\d{3}", problem.get("message") or ""))
                    found.append(Failure(case.get("name", "?"), codes, problem.text or ""))
        return found


def write_config(path: Path, spec: str, tokens: dict[str, str]) -> None:
    """A ``schemathesis.toml`` giving each operation of ``spec`` a token of one of its roles."""
    lines = [
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(list(POSITIVE_STATUSES))}",
        "",
    ]
    for name, _method, _path, operation in contract().operations():
        if name != spec:
            continue
        roles = [role for role in operation.get("x-egov-roles", []) if role in tokens]
        if roles:
            lines += [
                "[[operations]]",
                f'include-operation-id = "{operation["operationId"]}"',
                f'headers = {{ Authorization = "Bearer {tokens[roles[0]]}" }}',
                "",
            ]
    path.write_text("\n".join(lines), encoding="utf-8")


def cli_arguments(
    spec: str,
    base_url: str,
    config: Path,
    junit: Path,
    *,
    max_examples: int,
    phases: Sequence[str] = ALL_PHASES,
    seed: int | None = None,
    operations: Iterable[str] | None = None,
) -> list[str]:
    """The arguments of ``schemathesis`` (after the program name) for one spec."""
    arguments = [
        "--config-file",
        str(config),
        "run",
        str(specs_dir() / f"{spec}.yaml"),
        "--url",
        base_url,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--phases",
        ",".join(phases),
        "--no-color",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    if seed is not None:
        arguments += ["--seed", str(seed)]
    if operations is not None:
        chosen = sorted(set(operations))
        arguments += [
            "--include-operation-id-regex",
            "^(" + "|".join(map(re.escape, chosen)) + ")$",
        ]
    return arguments


def run_spec(
    spec: str,
    base_url: str,
    tokens: dict[str, str],
    work_dir: Path,
    *,
    max_examples: int = 20,
    seed: int | None = None,
    timeout: float = 600.0,
    phases: Sequence[str] = ALL_PHASES,
) -> SchemathesisRun:
    """Run ``schemathesis run`` with every check over one spec against ``base_url``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / f"{spec}.schemathesis.toml"
    write_config(config, spec, tokens)
    junit = work_dir / f"{spec}.junit.xml"
    arguments = cli_arguments(
        spec, base_url, config, junit, max_examples=max_examples, phases=phases, seed=seed
    )
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS_MODULE}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=work_dir,
    )
    seconds = time.monotonic() - started
    return SchemathesisRun(spec, done.returncode, done.stdout + done.stderr, junit, seconds)


# ---- batches: a few workers, each running the CLI for several specs ---------------------------


@dataclass(frozen=True)
class Job:
    """One spec to run: the CLI arguments and where its answer goes."""

    spec: str
    arguments: tuple[str, ...]
    junit: Path
    output: Path
    result: Path
    weight: int = 1


@dataclass
class Batch:
    """Worker processes running the jobs; `result` waits for one spec's run."""

    jobs: dict[str, Job]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def start(cls, jobs: Sequence[Job], work_dir: Path, workers: int = 2) -> Batch:
        """Split the jobs between at most ``workers`` processes, heaviest first, and start them."""
        shares: list[list[Job]] = [[] for _ in range(max(1, min(workers, len(jobs))))]
        for job in sorted(jobs, key=lambda j: -j.weight):
            min(shares, key=lambda share: sum(j.weight for j in share)).append(job)
        batch = cls({job.spec: job for job in jobs})
        environment = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS_MODULE}
        for number, share in enumerate(shares):
            listing = work_dir / f"worker-{number}.json"
            listing.write_text(json.dumps([_job_data(job) for job in share]), encoding="utf-8")
            log = (work_dir / f"worker-{number}.log").open("ab")
            batch.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "conformance.schemathesis_run", str(listing)],
                    cwd=work_dir,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return batch

    def result(self, spec: str, timeout: float) -> SchemathesisRun:
        """The run of ``spec`` once its worker wrote it; exit code -1 when it never did."""
        job = self.jobs[spec]
        deadline = time.monotonic() + timeout
        while not job.result.is_file():
            if time.monotonic() > deadline or all(p.poll() is not None for p in self.processes):
                if job.result.is_file():
                    break
                output = job.output.read_text("utf-8") if job.output.is_file() else ""
                return SchemathesisRun(
                    spec,
                    -1,
                    output + f"\n(no result: the worker stopped or {timeout:.0f} s passed)",
                    None,
                )
            time.sleep(0.2)
        answer = json.loads(job.result.read_text("utf-8"))
        output = job.output.read_text("utf-8") if job.output.is_file() else ""
        return SchemathesisRun(
            spec, int(answer["exitCode"]), output, job.junit, float(answer["seconds"])
        )

    def stop(self) -> None:
        """Stop the workers still running (this batch's own processes only)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _job_data(job: Job) -> dict[str, Any]:
    return {
        "spec": job.spec,
        "arguments": list(job.arguments),
        "output": str(job.output),
        "result": str(job.result),
    }


def _work(listing: Path) -> int:
    """Run each job of ``listing`` with the CLI in this process, one after the other."""
    import schemathesis.cli  # imported once per worker: the point of a batch

    for job in json.loads(listing.read_text("utf-8")):
        started = time.monotonic()
        captured = io.StringIO()
        with redirect_stdout(captured), redirect_stderr(captured):
            try:
                code = schemathesis.cli.schemathesis.main(
                    args=job["arguments"], standalone_mode=False
                )
            except SystemExit as stopped:
                code = stopped.code
            except Exception as problem:  # one spec's crash is that spec's result
                print(f"schemathesis crashed: {type(problem).__name__}: {problem}")
                code = 2
        Path(job["output"]).write_text(captured.getvalue(), encoding="utf-8")
        result = {
            "exitCode": code if isinstance(code, int) else 2,
            "seconds": time.monotonic() - started,
        }
        written = Path(job["result"] + ".part")
        written.write_text(json.dumps(result), encoding="utf-8")
        written.replace(job["result"])  # whole or absent: the suite polls for this file
    return 0


if __name__ == "__main__":
    sys.exit(_work(Path(sys.argv[1])))
