"""The servers under test, each a process of its own on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from ._wrk import BenchError


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A server process: started, answering ``GET /agencies``, then stopped."""

    def __init__(
        self,
        name: str,
        arguments: list[str],
        log: Path,
        *,
        port: int,
        cpus: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        command = [sys.executable, *arguments]
        if cpus and shutil.which("taskset"):
            command = ["taskset", "-c", cpus, *command]
        self._command = command
        self._log = log
        self._env = {**os.environ, **(env or {})}
        self._cwd: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def use_source(self, source: Path) -> None:
        """Import the server's code from another source tree (e.g. an older checkout)."""
        path = os.pathsep.join(x for x in (str(source), os.environ.get("PYTHONPATH", "")) if x)
        self._env["PYTHONPATH"] = path
        self._cwd = source  # ``python -m`` puts the working directory first on the path

    def start(self, timeout: float = 60.0) -> Server:
        """Start the process and wait until it answers."""
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                self._command, stdout=log, stderr=subprocess.STDOUT, env=self._env, cwd=self._cwd
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self._log.read_text(errors="replace")[-2000:]
                raise BenchError(f"{self.name} exited at start:\n{tail}")
            try:
                if httpx.get(f"{self.base_url}/agencies", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"{self.name} did not answer within {timeout:.0f} s; see {self._log}")

    def cpu_seconds(self) -> float:
        """CPU time the server's processes (its workers included) have used so far.

        On a machine shared with other work, requests per CPU-second of the server measure
        its cost per request without the share of the CPU it happened to get.
        """
        if self.process is None:
            return 0.0
        return sum(_cpu_seconds(pid) for pid in _process_tree(self.process.pid))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


def reference_server(
    db_url: str, log: Path, *, workers: int = 1, cpus: str | None = None
) -> Server:
    """``egov-conformance serve`` on ``db_url``."""
    port = free_port()
    arguments = ["-m", "egov_cli", "serve", "--port", str(port), "--db", db_url]
    arguments += ["--workers", str(workers), "--log-level", "warning"]
    return Server("the reference server", arguments, log, port=port, cpus=cpus)


def bare_server(body_file: Path, log: Path, *, workers: int = 1, cpus: str | None = None) -> Server:
    """The bare Starlette app (`bench.bare`), answering ``body_file`` on GET."""
    port = free_port()
    arguments = ["-m", "bench.bare", "--port", str(port), "--workers", str(workers)]
    arguments += ["--log-level", "warning"]
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(x for x in (root, os.environ.get("PYTHONPATH", "")) if x)
    env = {"EGOV_BENCH_BARE_BODY": str(body_file), "PYTHONPATH": path}
    return Server("the bare Starlette app", arguments, log, port=port, cpus=cpus, env=env)


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``; just ``pid`` elsewhere)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return found


def _cpu_seconds(pid: int) -> float:
    """User and system time of one process, from ``/proc/<pid>/stat``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS
