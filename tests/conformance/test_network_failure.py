"""A network failure in the middle of a run is the kit's ``error``, never the vendor's failure.

A small TCP proxy on loopback stands between the kit and a healthy reference server (which
names the proxy as its public URL, so that sign-ins go through it too). After a set number of
HTTP requests it drops every connection and refuses new ones, as a network that goes away
mid-run does. The run must grade what it could not finish ``error``, with the network named
in the reason, fail nothing because of it, and exit 2. The exit codes themselves are checked
on built reports below: 1 only when a MUST failed, 2 when MUSTs are only in error.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conformance.config import CAPABILITIES
from conformance.outcomes import FailureDetail, Outcome, TestOutcome
from conformance.report import build_report, exit_code
from egov_contract import load_catalogue
from tests.reference.live import LiveServer, free_port

# The set-up check takes about 30 requests; the rest lets the first tests pass before the cut.
ALLOWED_REQUESTS = 90
REQUIREMENTS = ("RCV-01", "RCV-03", "RCV-08", "SUB-06", "LIF-02", "LIF-03", "WDR-03", "SUP-01")
_REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/1\.[01]\r\n")
_NETWORK = re.compile(
    r"ConnectError|RemoteProtocolError|ReadError|WriteError|Connection refused|"
    r"failed before an answer came|could not get"
)


class CuttingProxy:
    """Forwards loopback TCP to ``upstream``; after ``allowed`` requests the network is gone."""

    def __init__(self, upstream: int, allowed: int) -> None:
        self.upstream = upstream
        self.allowed = allowed
        self.requests = 0
        self.cut = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.cut.is_set():
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            except OSError:
                return
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while data := source.recv(65536):
                if outbound and _REQUEST_LINE.match(data):
                    with self._lock:
                        self.requests += 1
                        over = self.requests > self.allowed
                    if over:
                        self.stop()
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def stop(self) -> None:
        """Drop every connection and stop listening: connecting is refused from now on."""
        self.cut.set()
        self._listener.close()
        with self._lock:
            for end in self._sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[CuttingProxy]:
    port = free_port()
    proxy = CuttingProxy(port, ALLOWED_REQUESTS)
    server = LiveServer(f"sqlite:///{tmp_path / 'ref.sqlite3'}", tmp_path / "server.log",
                        "--public-url", proxy.url, port=port).start(120)  # fmt: skip
    yield proxy
    proxy.stop()
    server.stop()


@pytest.mark.slow
def test_a_network_that_goes_away_mid_run_is_error_and_exit_2(
    proxied: CuttingProxy, tmp_path: Path
) -> None:
    report_dir = tmp_path / "report"
    command = [sys.executable, "-m", "egov_cli", "run", "--target", proxied.url,
               "--report", str(report_dir), "--quiet"]  # fmt: skip
    for requirement in REQUIREMENTS:
        command += ["--requirement", requirement]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    said = done.stdout + done.stderr
    assert proxied.cut.is_set(), f"the network never went away ({proxied.requests} requests)"

    report = json.loads((report_dir / "report.json").read_text("utf-8"))
    tests = [(row, test) for row in report["requirements"] for test in row["tests"]]
    outcomes = [test["outcome"] for _row, test in tests]
    assert "passed" in outcomes, "the cut came before any test could pass"
    assert "failed" not in outcomes, [t["name"] for _r, t in tests if t["outcome"] == "failed"]
    errored = [row for row, test in tests if test["outcome"] == "error"]
    assert errored
    for row in errored:
        assert row["outcome"] == "error"
        assert _NETWORK.search(row["reason"]), row["reason"]
    assert report["summary"]["failedMust"] == []
    assert done.returncode == 2, said
    assert "no MUST failed, but no verdict could be reached" in done.stderr
    assert re.search(r"MUSTs [0-9]+ error \(", done.stderr), done.stderr[-2000:]


def _graded(*broken: tuple[str, Outcome]) -> dict[str, object]:
    """A report of the repository profile: every MUST passed but those named."""
    outcomes = []
    for row in load_catalogue().for_profile("repository"):
        outcome = dict(broken).get(row.id, Outcome.PASSED)
        failure = FailureDetail(row.id, "a 200", "a 500", "it broke")
        outcomes.append(TestOutcome(
            name=f"test_x.py::test_{row.id}", title=row.id, requirements=(row.id,),
            outcome=outcome, duration_ms=1.0,
            failure=failure if outcome is Outcome.FAILED else None,
            reason="the kit could not reach a verdict: ConnectError" if outcome is Outcome.ERROR
            else None,
        ))  # fmt: skip
    started = datetime(2026, 12, 1, 9, 0).astimezone()
    return build_report(
        outcomes,
        profiles=["repository"],
        target={
            "name": "T",
            "baseUrls": {"repository": "http://t.example"},
            "configSha256": "0" * 64,
        },
        capabilities=CAPABILITIES,
        started=started,
        finished=started + timedelta(minutes=1),
        seeds={"run": 1},
    )


def test_exit_codes_tell_the_targets_failure_from_a_missing_verdict() -> None:
    must = next(r.id for r in load_catalogue().for_profile("repository") if r.level == "MUST")
    assert exit_code(_graded()) == 0
    assert exit_code(_graded((must, Outcome.ERROR))) == 2
    assert exit_code(_graded((must, Outcome.FAILED))) == 1
    other = [r.id for r in load_catalogue().for_profile("repository") if r.level == "MUST"][1]
    assert exit_code(_graded((must, Outcome.ERROR), (other, Outcome.FAILED))) == 1
