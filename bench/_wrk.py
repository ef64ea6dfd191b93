"""Driving wrk: one load run, bounded in time (and in count for submissions), as numbers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("lua") / "bench.lua"
INSTALL_HINT = (
    "wrk is not installed; the bench uses it as its load generator. On Debian or Ubuntu: "
    "`apt-get install -y wrk` (as root), then run the bench again."
)


class BenchError(RuntimeError):
    """A bench run could not be made; the message says what to fix."""


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    requests: int
    """Answers received (2xx or not)."""
    ok: int
    """2xx answers."""
    seconds: float
    """Wall time of the measured part."""
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def wrk_path() -> str:
    """The wrk executable, or a `BenchError` saying how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise BenchError(INSTALL_HINT)
    return found


def run_wrk(
    base_url: str,
    *,
    method: str = "GET",
    path: str = "/",
    token: str | None = None,
    body: bytes | None = None,
    ids: list[str] | None = None,
    connections: int = 16,
    duration: float = 5.0,
    cpus: str | None = None,
) -> Load:
    """One wrk run against ``base_url`` (loopback only).

    Without ``ids`` it runs for ``duration`` seconds. With ``ids`` each id is put once into
    ``path`` (a ``%s`` template) and the run ends when all are answered, or after
    ``duration`` seconds at the latest.
    """
    if not base_url.startswith("http://127.0.0.1:"):
        raise BenchError(f"the bench only loads 127.0.0.1, not {base_url}")
    executable = wrk_path()
    with tempfile.TemporaryDirectory(prefix="egov-wrk-") as scratch:
        work = Path(scratch)
        env = {**os.environ, "BENCH_METHOD": method, "BENCH_PATH": path}
        if token:
            env["BENCH_TOKEN"] = token
        if body is not None:
            (work / "body.json").write_bytes(body)
            env["BENCH_BODY_FILE"] = str(work / "body.json")
        done_file = work / "done"
        if ids is not None:
            if not ids:
                raise BenchError("a counted run needs at least one id")
            (work / "ids.txt").write_text("\n".join(ids) + "\n")
            env["BENCH_IDS_FILE"] = str(work / "ids.txt")
            env["BENCH_DONE_FILE"] = str(done_file)
            connections = min(connections, len(ids))
        command = [
            executable,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "30s",
            "-s",
            str(SCRIPT),
            base_url,
        ]
        if cpus and shutil.which("taskset"):
            command = ["taskset", "-c", cpus, *command]
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if ids is not None:
            # wrk sleeps for the whole duration even when every thread stopped; SIGINT ends the
            # sleep and it reports at once.
            while process.poll() is None and time.monotonic() - started < duration + 5:
                if done_file.exists():
                    process.send_signal(signal.SIGINT)
                    break
                time.sleep(0.02)
        try:
            output, _ = process.communicate(timeout=duration + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise BenchError(f"wrk did not finish: {output[-2000:]}") from None
    return _parse(output, counted=ids is not None)


def _parse(output: str, *, counted: bool) -> Load:
    line = next((x for x in output.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk printed no figures:\n{output[-2000:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    latency = data["latency_us"]
    errors = {k: int(v) for k, v in data["errors"].items() if v}
    if counted:
        count = data["counted"]
        seconds = (count["last_us"] - count["first_us"]) / 1e6
        if count["last_us"] == 0:  # not every id was answered within the duration
            seconds = data["duration_us"] / 1e6
        requests, ok = int(count["answered"]), int(count["ok"])
    else:
        seconds = data["duration_us"] / 1e6
        requests = int(data["requests"])
        ok = requests - int(data["errors"]["status"])
    return Load(
        requests=requests,
        ok=ok,
        seconds=seconds,
        p50_ms=latency["p50"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        errors=errors,
    )
