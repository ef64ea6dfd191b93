"""Starting the system under test from its container image (``--target-image``).

The container runs through testcontainers (the optional ``containers`` extra, imported only
here and only when asked for), with the image's port published where the target's base URL
says (or on a free loopback port, for the sandbox layout), so that a configuration file means
the same with or without an image. The kit waits until the system answers, runs, and stops it.
Without a Docker engine this says so in one sentence; an engine is looked for before
testcontainers is imported, so the answer is the same whether the extra is installed or not.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .config import ConfigError, load_target

EXIT_SETUP = 2
DEFAULT_SOCKET = "/var/run/docker.sock"
_LOG_TAIL = 2000


def engine_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """Why no Docker engine can run a container here, in one sentence; None when one answers."""
    host = environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    scheme, _, rest = host.partition("://")
    transport: httpx.HTTPTransport | None = None
    if scheme == "unix":
        transport, url = httpx.HTTPTransport(uds=rest), "http://docker/_ping"
    elif scheme in ("tcp", "http", "https"):
        url = f"{'https' if scheme == 'https' else 'http'}://{rest.rstrip('/')}/_ping"
    else:
        return None  # ssh:// or npipe://: testcontainers reaches those itself, and says so
    cli = " (the docker command is installed, but no daemon runs)" if shutil.which("docker") else ""
    if scheme == "unix" and not Path(rest).exists():
        why = f"{rest} does not exist"
    else:
        try:
            with httpx.Client(transport=transport, timeout=5.0) as client:
                answer = client.get(url)
        except httpx.HTTPError as problem:
            why = f"nothing answers at {host} ({type(problem).__name__})"
        else:
            if answer.status_code == 200:
                return None
            why = f"the engine at {host} answered HTTP {answer.status_code} to a ping"
    return (
        f"--target-image needs a running Docker engine and there is none: {why}{cli}; "
        "start Docker or point DOCKER_HOST at an engine, or run the system yourself and give "
        "its URL with --target."
    )


def _container_class() -> Callable[[str], Any]:
    module = importlib.import_module("testcontainers.core.container")
    found: Callable[[str], Any] = module.DockerContainer
    return found


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def published_port(target: str | None) -> tuple[int, str | None]:
    """Where the container's port is published: the target's base URL port (and that URL).

    Raises:
        ConfigError: the configuration cannot be read.
    """
    if not target:
        return free_port(), None
    config = load_target(target)
    url = config.base_urls.get("dossiers") or next(iter(config.base_urls.values()))
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80), url


def wait_until_answers(url: str, seconds: float) -> bool:
    """True once ``url`` answers any HTTP response, False after ``seconds`` without one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=2.0)
            return True
        except httpx.HTTPError:
            time.sleep(0.5)
    return False


def _environment(pairs: Sequence[str], url: str) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"--image-env wants NAME=VALUE, got {pair!r}")
        found[name] = value.replace("{url}", url)
    return found


def run_with_image(
    image: str,
    action: Callable[[str], int],
    *,
    target: str | None,
    port: int,
    environment: Sequence[str] = (),
    wait_seconds: float = 120.0,
    container_class: Callable[[str], Any] | None = None,
) -> int:
    """Start ``image``, wait until it answers, return ``action(target)``; always stop it."""
    problem = engine_problem()
    if problem is not None:
        return _fail(problem)
    try:
        make = container_class or _container_class()
    except ImportError:
        return _fail(
            "--target-image needs testcontainers: pip install 'egov-conformance[containers]'"
        )
    try:
        host_port, url = published_port(target)
        env = _environment(environment, url or f"http://localhost:{host_port}")
    except (ConfigError, ValueError) as error:
        return _fail(str(error))
    container = make(image).with_bind_ports(port, host_port)
    for name, value in env.items():
        container = container.with_env(name, value)
    try:
        container.start()
    except Exception as error:  # docker's, requests' and testcontainers' errors alike
        return _fail(f"the Docker engine could not start {image}: {error}")
    try:
        base = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(port)}"
        if not wait_until_answers(base, wait_seconds):
            return _fail(
                f"{image} did not answer at {base} within {wait_seconds:.0f} s; "
                f"its log ends:\n{_log_tail(container)}"
            )
        print(f"{image} answers at {base}")
        return action(target or base)
    finally:
        container.stop()


def _log_tail(container: Any) -> str:
    try:
        out, err = container.get_logs()
    except Exception:  # a log is a courtesy; the message above already says what failed
        return "(no log)"
    text = (bytes(out or b"") + bytes(err or b"")).decode("utf-8", "replace")
    return text[-_LOG_TAIL:] or "(empty)"


def _fail(message: str) -> int:
    print(f"egov-conformance: {message}", file=sys.stderr)
    return EXIT_SETUP
