"""A reference server in its own process, on loopback, and signing in to it like a client."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

HARNESS_CLIENT = "conformance-harness"
REDIRECT_URI = "http://127.0.0.1/callback"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """``egov-conformance serve`` as a child process; stopped politely or killed."""

    def __init__(self, db_url: str, log: Path, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._args = [
            sys.executable,
            "-m",
            "egov_cli",
            "serve",
            "--port",
            str(self.port),
            "--db",
            db_url,
            "--log-level",
            "warning",
            *extra,
        ]
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> LiveServer:
        """Start the process and wait until it answers."""
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                self._args, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self._log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/agencies", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer in {timeout} s")

    def kill(self) -> None:
        """SIGKILL: the crash a durable server must survive."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def sign_in(base_url: str, login_hint: str) -> str:
    """An access token for a fixture subject, through the OIDC code flow with PKCE."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": HARNESS_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        "login_hint": login_hint,
    }
    answer = httpx.get(f"{base_url}/identity/authorize", params=query, timeout=10)
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{base_url}/identity/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": HARNESS_CLIENT,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


def client_token(base_url: str, client_id: str, secret: str) -> str:
    """An access token for a machine client (client-credentials grant)."""
    token = httpx.post(
        f"{base_url}/identity/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])
