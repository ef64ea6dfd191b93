"""``egov-conformance doctor``: each set-up mistake is one line with its fix; ``run`` stops on it.

The checks that need no target (the clock, the simulators' address) run against crafted
input; the rest against a reference server on loopback, healthy, with a configuration that
gets each thing wrong a vendor commonly gets wrong.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from conformance import doctor
from conformance.config import SANDBOX_SYSTEM, load_target
from conformance.doctor import Level, clock_finding
from egov_cli import main
from tests.reference.live import LiveServer, free_port

SANDBOX = 'clientId: conformance-harness, redirectUri: "http://127.0.0.1/callback"'


def _config(tmp_path: Path, base_url: str, **changes: str) -> Path:
    """A configuration of the reference sandbox at ``base_url``, with lines replaced."""
    lines = {
        "applicantA": f'{{kind: oidc-sandbox, loginHint: "079190012345", {SANDBOX}}}',
        "applicantB": f'{{kind: oidc-sandbox, loginHint: "001203012345", {SANDBOX}}}',
        "organisation": f'{{kind: oidc-sandbox, loginHint: "5700101059", {SANDBOX}}}',
        "officer": f"{{kind: oidc-sandbox, loginHint: canbo.h22.honghai.01, {SANDBOX}}}",
        "system": f"{{kind: client-credentials, clientId: {SANDBOX_SYSTEM[0]}, "
        f"clientSecret: {SANDBOX_SYSTEM[1]}}}",
    }
    lines.update({k: v for k, v in changes.items() if k in lines})
    procedures = changes.get(
        "procedures",
        '{primary: "1.001193", withFee: "1.000894", partlyOnline: "1.004227", '
        "agencyCode: 000.00.01.H22}",
    )
    identities = "\n".join(f"  {name}: {spec}" for name, spec in lines.items())
    path = tmp_path / "target.yaml"
    path.write_text(
        f"target: {{name: Doctor's patient}}\nbaseUrl: {base_url}\ncapabilities: [events]\n"
        f"identities:\n{identities}\nprocedures: {procedures}\n" + changes.get("extra", ""),
        encoding="utf-8",
    )
    return path


# ---- without a target --------------------------------------------------------------------


def test_a_clock_within_a_minute_agrees_and_the_skew_is_said() -> None:
    now = 1_800_000_000.0
    finding = clock_finding(formatdate(now + 12, usegmt=True), now)
    assert finding.level is Level.OK
    assert finding.line() == "✓ clock: the target's clock agrees with ours (skew +12 s)"


def test_a_clock_off_by_more_than_a_minute_is_a_problem_with_its_fix() -> None:
    now = 1_800_000_000.0
    finding = clock_finding(formatdate(now - 95, usegmt=True), now)
    assert finding.level is Level.PROBLEM
    assert "the target's clock is 95 s behind ours (more than ±60 s)" in finding.line()
    assert "NTP" in finding.fix


def test_a_busy_simulator_port_is_a_problem_and_a_public_url_a_warning(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        config = load_target(str(_config(
            tmp_path, "http://127.0.0.1:1",
            extra=f"simulators: {{port: {port}, publicBaseUrl: https://sim.example}}\n",
        )))  # fmt: skip
        (finding,) = doctor._simulators(config)
    assert finding.level is Level.PROBLEM
    assert finding.line().startswith(f"✗ simulators: cannot listen on 127.0.0.1:{port}: ")
    assert finding.fix == "choose another simulators.host or simulators.port"

    free = load_target(str(_config(
        tmp_path, "http://127.0.0.1:1",
        extra=f"simulators: {{port: {free_port()}, publicBaseUrl: https://sim.example}}\n",
    )))  # fmt: skip
    ok, warning = doctor._simulators(free)
    assert ok.level is Level.OK
    assert warning.level is Level.WARNING
    assert "https://sim.example" in warning.text
    assert "cannot be proven from here unless the target calls it back" in warning.text


def test_loopback_simulators_for_a_remote_target_are_a_warning(tmp_path: Path) -> None:
    config = load_target(str(_config(tmp_path, "https://motcua.example")))
    _ok, warning = doctor._simulators(config)
    assert warning.level is Level.WARNING
    assert "a target on another machine cannot call back" in warning.text


def test_a_target_that_is_down_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["doctor", "--target", url]) == 2
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"✗ target: {url} does not answer (ConnectError) — check that the system is running "
        "and that the URL is right"
    ]


def test_an_unreadable_configuration_is_a_problem_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "target.yaml"
    path.write_text("target: {name: X}\nbaseUrl: not-a-url\n", encoding="utf-8")
    assert main(["doctor", "--target", str(path), "--quiet"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("✗ configuration: ")
    assert "/baseUrl" in out


# ---- against a reference server ----------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("doctor")
    live = LiveServer(f"sqlite:///{work / 'ref.sqlite3'}", work / "server.log").start(120)
    yield live
    live.stop()


@pytest.mark.slow
def test_a_healthy_target_passes_every_check(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--target", server.base_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("✓") for line in lines), lines
    said = "\n".join(lines)
    for subject in ("target", "discovery document", "JWKS", "clock", "identity applicantA",
                    "identity system", "simulators", "procedure 1.001193 (procedures.primary)",
                    "procedure 1.000894 (procedures.withFee)", "agency 000.00.01.H22"):  # fmt: skip
        assert f"✓ {subject}" in said, subject
    assert "skew" in said
    assert main(["doctor", "--target", server.base_url, "--quiet"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_each_mistake_is_one_line_with_its_fix(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tmp_path,
        server.base_url,
        applicantB="{kind: static-token, token: not-a-token-the-target-issued}",
        system=f"{{kind: client-credentials, clientId: {SANDBOX_SYSTEM[0]}, "
        "clientSecret: wrong-secret}",
        procedures='{primary: "1.004227", withFee: "1.001193", partlyOnline: "9.999999", '
        "agencyCode: 000.00.99.H22}",
    )
    assert main(["doctor", "--target", str(config), "--quiet"]) == 2
    problems = capsys.readouterr().out.splitlines()
    assert problems == [
        "✗ identity applicantB: the target refused its token (GET /accounts/me answered 401) "
        "— the token has expired or is not one the target trusts; renew token "
        "(identities.applicantB)",
        "✗ identity system: the token endpoint answered 401 — check clientSecret "
        "(identities.system)",
        "✗ procedure 1.004227 (procedures.primary): it is onlineLevel 'partial'; the primary "
        "procedure must be fully online — choose a procedure with onlineLevel full",
        "✗ procedure 1.001193 (procedures.withFee): it has no fees — choose a procedure that "
        "charges a fee",
        "✗ procedure 9.999999 (procedures.partlyOnline): GET /procedures/9.999999 answered 404 "
        "— name a procedure the target publishes in procedures.partlyOnline",
        "✗ agency 000.00.99.H22 (procedures.agencyCode): GET /agencies/000.00.99.H22 answered "
        "404 — name the agency of the target whose officer is identities.officer",
    ]


@pytest.mark.slow
def test_run_stops_on_a_problem_before_any_test(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tmp_path,
        server.base_url,
        system=f"{{kind: client-credentials, clientId: {SANDBOX_SYSTEM[0]}, clientSecret: x}}",
    )
    report = tmp_path / "report"
    code = main(["run", "--target", str(config), "--report", str(report), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "✗ identity system: the token endpoint answered 401 — check clientSecret "
        "(identities.system)"
    )
    assert not report.exists()
