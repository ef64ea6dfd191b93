"""``egov-conformance demo``: the reference server and the full conformance run against it.

The one command of the README's main job. The server runs as a child process on a free
loopback port with a fresh embedded database, so the suites meet it only over HTTP, exactly
as they meet a vendor's system.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def add_demo_command(commands: Any) -> None:
    """Register ``demo``."""
    from conformance.cli import add_run_options

    demo = commands.add_parser(
        "demo",
        help="start the reference server and certify it with every profile",
        description="Start the reference implementation on a free port with an embedded "
        "database, run every conformance profile against it, write the report and print a "
        "summary. Exit 0 when every profile is certifiable.",
    )
    add_run_options(demo, target=False)
    demo.set_defaults(handler=_demo)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_reference(
    work: Path, *extra: str, timeout: float = 120.0
) -> tuple[subprocess.Popen[bytes], str]:
    """The reference server as a child process, answering; and its base URL."""
    import httpx

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "egov_cli", "serve", "--port", str(port),
        "--db", f"sqlite:///{work / 'reference.sqlite3'}", "--log-level", "warning", *extra,
    ]  # fmt: skip
    log = (work / "reference-server.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the reference server exited; see {work / 'reference-server.log'}")
        try:
            if httpx.get(f"{base_url}/agencies", timeout=1.0).status_code == 200:
                return process, base_url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the reference server did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server politely, then firmly."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _demo(arguments: argparse.Namespace) -> int:
    import yaml

    from conformance.cli import run_and_report
    from conformance.config import sandbox_document
    from conformance.simulators.identity import trust_option

    with tempfile.TemporaryDirectory(prefix="egov-demo-") as work_dir:
        work = Path(work_dir)
        # The kit plays the national portal's sync endpoint (EVT-04), where the server pushes,
        # and an identity provider the server trusts (applicantB's tokens are the kit's).
        simulator_port = free_port()
        simulators = f"http://127.0.0.1:{simulator_port}"
        try:
            process, base_url = start_reference(
                work, "--sync-url", simulators, "--trust-issuer", trust_option(simulators)
            )
        except RuntimeError as problem:
            print(f"egov-conformance demo: {problem}", file=sys.stderr)
            return 2
        try:
            print(f"reference server at {base_url}; running the conformance suites…")
            document = sandbox_document(base_url, simulator_port)
            target = work / "target.yaml"
            target.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
            if not arguments.profile:
                arguments.profile = ["all"]
            return run_and_report(str(target), arguments)
        finally:
            stop(process)
