"""``--target-image``: no engine is one sentence and exit 2; the container path, engine mocked.

The container class stands in for testcontainers' ``DockerContainer`` (the wrapper of the
docker client): it records what the kit asked of it, and "publishes" the image's port by
serving HTTP on the bound host port, as a started container would.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conformance import containers
from conformance.containers import engine_problem, free_port, run_with_image
from egov_cli import main


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *_args: Any) -> None:
        pass


def _serve(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class FakeContainer:
    """What the kit uses of ``DockerContainer``, with a pretend engine behind it."""

    made: ClassVar[list[FakeContainer]] = []

    def __init__(self, image: str, *, answers: bool = True, fails: bool = False) -> None:
        self.image = image
        self.ports: dict[int, int | None] = {}
        self.env: dict[str, str] = {}
        self.answers, self.fails = answers, fails
        self.started = self.stopped = False
        self._server: ThreadingHTTPServer | None = None
        FakeContainer.made.append(self)

    def with_bind_ports(self, container: int, host: int | None = None) -> FakeContainer:
        self.ports[container] = host
        return self

    def with_env(self, key: str, value: str) -> FakeContainer:
        self.env[key] = value
        return self

    def start(self) -> FakeContainer:
        if self.fails:
            raise RuntimeError("pull access denied for vendor/portal")
        self.started = True
        if self.answers:
            (host_port,) = self.ports.values()
            assert host_port is not None
            self._server = _serve(host_port)
        return self

    def get_container_host_ip(self) -> str:
        return "127.0.0.1"

    def get_exposed_port(self, port: int) -> int:
        host_port = self.ports[port]
        assert host_port is not None
        return host_port

    def get_logs(self) -> tuple[bytes, bytes]:
        return b"listening on 0.0.0.0:8000\n", b"database not ready\n"

    def stop(self) -> None:
        self.stopped = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[FakeContainer]:
    """An engine that answers, and the containers started on it."""
    FakeContainer.made = []
    monkeypatch.setattr(containers, "engine_problem", lambda: None)
    return FakeContainer.made


def test_without_an_engine_run_says_so_in_one_sentence_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    for command in ("run", "doctor"):
        assert main([command, "--target-image", "vendor/portal:4.2.1", "--quiet"]) == 2
        captured = capsys.readouterr()
        message = captured.err.strip()
        assert message.count("\n") == 0, message
        assert "needs a running Docker engine and there is none" in message
        assert "docker.sock does not exist" in message
        assert "Traceback" not in captured.out + captured.err


def test_an_engine_that_does_not_answer_is_named() -> None:
    port = free_port()
    problem = engine_problem({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert problem is not None
    assert f"nothing answers at tcp://127.0.0.1:{port} (ConnectError)" in problem


def test_an_engine_that_answers_its_ping_is_found() -> None:
    server = _serve(0)
    try:
        assert engine_problem({"DOCKER_HOST": f"tcp://127.0.0.1:{server.server_port}"}) is None
    finally:
        server.shutdown()
        server.server_close()


def test_the_image_is_started_waited_for_run_against_and_stopped(
    engine: list[FakeContainer],
) -> None:
    seen: list[str] = []

    def action(target: str) -> int:
        seen.append(target)
        return 1

    code = run_with_image(
        "vendor/portal:4.2.1",
        action,
        target=None,
        port=8000,
        environment=["PUBLIC_URL={url}", "MODE=sandbox"],
        wait_seconds=30,
        container_class=FakeContainer,
    )
    assert code == 1  # the run's own exit code comes through
    (container,) = engine
    host_port = container.ports[8000]
    assert seen == [f"http://127.0.0.1:{host_port}"]
    assert container.env == {"PUBLIC_URL": f"http://localhost:{host_port}", "MODE": "sandbox"}
    assert container.started
    assert container.stopped


def test_a_configured_base_url_decides_where_the_port_is_published(
    engine: list[FakeContainer], tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "target.yaml"
    config.write_text(
        f"""
target: {{name: Portal in a container}}
baseUrl: http://127.0.0.1:{port}
identities:
  applicantA: {{kind: static-token, token: a}}
  applicantB: {{kind: static-token, token: b}}
  organisation: {{kind: static-token, token: c}}
  officer: {{kind: static-token, token: d}}
procedures: {{primary: "1.001193", agencyCode: 000.00.01.H22}}
""",
        encoding="utf-8",
    )
    seen: list[str] = []
    code = run_with_image(
        "vendor/portal:4.2.1",
        lambda target: seen.append(target) or 0,
        target=str(config),
        port=8080,
        environment=["PUBLIC_URL={url}"],
        container_class=FakeContainer,
    )
    assert code == 0
    (container,) = engine
    assert container.ports == {8080: port}
    assert container.env == {"PUBLIC_URL": f"http://127.0.0.1:{port}"}
    assert seen == [str(config)]  # the configuration is used as written: its digest holds
    assert container.stopped


def test_an_image_that_never_answers_is_stopped_with_its_log(
    engine: list[FakeContainer], capsys: pytest.CaptureFixture[str]
) -> None:
    def make(image: str) -> FakeContainer:
        return FakeContainer(image, answers=False)

    code = run_with_image(
        "vendor/portal:4.2.1",
        lambda target: pytest.fail("the run must not start"),
        target=None,
        port=8000,
        wait_seconds=1,
        container_class=make,
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "did not answer" in err
    assert "database not ready" in err
    assert engine[0].stopped


def test_an_image_the_engine_cannot_start_is_exit_2(
    engine: list[FakeContainer], capsys: pytest.CaptureFixture[str]
) -> None:
    def make(image: str) -> FakeContainer:
        return FakeContainer(image, fails=True)

    code = run_with_image(
        "vendor/portal:4.2.1", lambda _t: 0, target=None, port=8000, container_class=make
    )
    assert code == 2
    assert "could not start vendor/portal:4.2.1: pull access denied" in capsys.readouterr().err


def test_without_testcontainers_the_extra_is_named(
    engine: list[FakeContainer], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> Any:
        raise ImportError("No module named 'testcontainers'")

    monkeypatch.setattr(containers, "_container_class", missing)
    code = run_with_image("vendor/portal:4.2.1", lambda _t: 0, target=None, port=8000)
    assert code == 2
    assert "pip install 'egov-conformance[containers]'" in capsys.readouterr().err
    assert engine == []


def test_a_malformed_environment_pair_is_exit_2(
    engine: list[FakeContainer], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_with_image(
        "vendor/portal:4.2.1",
        lambda _t: 0,
        target=None,
        port=8000,
        environment=["NOEQUALS"],
        container_class=FakeContainer,
    )
    assert code == 2
    assert "--image-env wants NAME=VALUE" in capsys.readouterr().err
