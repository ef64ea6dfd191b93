"""The target configuration: loading, validation with pointers, secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.config import ConfigError, load_target, sandbox_target

VALID = """
target: {name: Cổng dịch vụ công tỉnh (thử nghiệm), vendor: Example JSC}
baseUrl: https://portal.example.vn/api/
interfaces: {paymentPlatform: https://pay.example.vn}
profiles: [one-stop]
capabilities: [payment]
identities:
  applicantA: {kind: static-token, token: {env: EGOV_TEST_TOKEN_A}}
  applicantB: {kind: static-token, token: literal-token-b}
  organisation: {kind: token-command, command: "print-token org"}
  officer: {kind: client-credentials, clientId: officer-client, clientSecret: s3cret-officer}
procedures: {primary: "1.001193", agencyCode: 000.00.01.H22}
waivers:
  - requirement: RCV-07
    justification: The appointment calendar ships in the next release of the portal.
    expires: 2027-01-31
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "target.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_load_target_reads_a_valid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGOV_TEST_TOKEN_A", "token-from-env")
    config = load_target(write(tmp_path, VALID))
    assert config.base_url("dossiers") == "https://portal.example.vn/api"
    assert config.base_url("paymentPlatform") == "https://pay.example.vn"
    assert config.identities["applicantA"].settings["token"] == "token-from-env"
    assert config.profiles == ("one-stop",)
    assert config.claims("payment")
    assert not config.claims("ecopies")
    assert config.waivers[0].expires.isoformat() == "2027-01-31"  # a YAML date, read as such
    assert {"token-from-env", "literal-token-b", "s3cret-officer"} <= set(config.secret_values())
    assert len(config.sha256) == 64


def test_load_target_names_every_broken_field_by_pointer(tmp_path: Path) -> None:
    broken = VALID.replace('primary: "1.001193"', 'primary: "1.1"').replace(
        "kind: static-token, token: literal-token-b", "kind: static-token"
    )
    with pytest.raises(ConfigError) as raised:
        load_target(write(tmp_path, broken))
    message = str(raised.value)
    assert "/procedures/primary" in message
    assert "/identities/applicantB" in message
    assert "target.yaml" in message


def test_load_target_says_which_environment_variable_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EGOV_TEST_TOKEN_A", raising=False)
    with pytest.raises(ConfigError, match="EGOV_TEST_TOKEN_A"):
        load_target(write(tmp_path, VALID))


@pytest.mark.parametrize("value", ["no-such-file.yaml", "ftp://portal.example.vn"])
def test_load_target_refuses_what_is_neither_a_file_nor_a_url(value: str) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_target(value)


def test_load_target_refuses_unreadable_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not readable"):
        load_target(write(tmp_path, "target: [unclosed"))


def test_a_bare_url_means_the_sandbox_with_every_profile_and_capability() -> None:
    config = sandbox_target("http://127.0.0.1:8000/")
    assert config.sandbox
    assert config.base_url("results") == "http://127.0.0.1:8000"
    assert set(config.identities) >= {"applicantA", "applicantB", "organisation", "officer"}
    assert config.claims("ecopies")
    assert config.claims("events")
    assert config.report_target()["configSha256"] == config.sha256


def test_the_documented_example_configuration_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EGOV_TOKEN_APPLICANT_B", "EGOV_OFFICER_SECRET", "EGOV_SYSTEM_SECRET",
                 "EGOV_PAYMENT_SECRET"):  # fmt: skip
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    config = load_target(str(Path(__file__).parents[2] / "docs" / "examples" / "target.yaml"))
    assert config.profiles == ("one-stop",)
    assert config.base_url("identity") == "https://sso-test.example.vn"
    assert config.base_url("dossiers") == "https://dvc-test.example.vn/api"
    assert config.waivers[0].requirement == "RCV-07"
