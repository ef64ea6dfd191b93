"""The kit's identity provider: discovery, JWK Set, minted tokens, the kind kit-issuer, trust.

The contract's schemas judge what it serves and mints; a reference server started with
``--trust-issuer`` (and one without) shows what a portal does with its tokens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from conformance import doctor
from conformance.config import (
    SANDBOX_KIT_APPLICANT,
    SANDBOX_SUBJECTS,
    ConfigError,
    Identity,
    load_target,
    sandbox_document,
    sandbox_target,
)
from conformance.doctor import Level
from conformance.identities import kit_claims, token_source
from conformance.outcomes import HarnessError
from conformance.simulators import IdentityProvider, SimulatorHost
from conformance.simulators.identity import trust_option
from egov_contract import contract, fixtures_dir
from tests.reference.live import LiveServer, free_port

KIT_IDENTITIES = {
    "applicantA": {"kind": "kit-issuer", "accountType": "individual",
                   "personalId": "079190012345", "name": "Trần Thị Bình"},
    "applicantB": dict(SANDBOX_KIT_APPLICANT),
    "organisation": {"kind": "kit-issuer", "accountType": "organisation",
                     "taxCode": "5700101059", "name": "Công ty TNHH Thương mại Hạ Long Xanh",
                     "acr": "vneid-level1"},
    "officer": {"kind": "kit-issuer", "accountType": "officer", "agencyCode": "000.00.01.H22",
                "name": "Phạm Thu Hằng", "subject": "officer-of-the-kit"},
    "system": {"kind": "kit-issuer", "accountType": "system", "clientId": "one-stop-h22"},
}  # fmt: skip


def errors_of(schema: str, instance: Any) -> list[str]:
    """What the contract's ``schema`` finds wrong with ``instance``."""
    validator = contract().schema_validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def identity(name: str) -> Identity:
    return Identity(name, "kit-issuer", KIT_IDENTITIES[name])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_config(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.fixture
def host() -> Iterator[SimulatorHost]:
    serving = SimulatorHost()
    yield serving
    serving.stop()


@pytest.fixture
def provider(host: SimulatorHost) -> IdentityProvider:
    served = IdentityProvider(host)
    host.start()
    return served


# ---- what it serves ----------------------------------------------------------------------


def test_discovery_is_a_valid_document_of_the_issuer_under_idp(
    provider: IdentityProvider, host: SimulatorHost
) -> None:
    base = f"http://127.0.0.1:{host.port}"
    answer = httpx.get(f"{base}/idp/.well-known/openid-configuration", timeout=5)
    assert answer.status_code == 200
    document = answer.json()
    assert errors_of("identity.json#/$defs/openIdConfiguration", document) == []
    assert document["issuer"] == provider.issuer == f"{base}/idp"
    assert document["jwks_uri"] == provider.jwks_uri == f"{base}/idp/jwks"
    wanted = {"sub", "acr", "egov_account_type", "personal_id", "tax_code", "name", "agency_code"}
    assert wanted <= set(document["claims_supported"])  # what ACC-05 asks of a discovery


def test_jwks_is_a_valid_public_set_holding_the_signing_key(provider: IdentityProvider) -> None:
    answer = httpx.get(provider.jwks_uri, timeout=5)
    assert answer.status_code == 200
    keys = answer.json()
    assert errors_of("identity.json#/$defs/jwks", keys) == []
    (key,) = keys["keys"]
    assert key["kid"] == provider.kid
    assert (key["kty"], key["alg"], key["crv"]) == ("EC", "ES256", "P-256")
    assert "d" not in key


def test_nobody_signs_in_and_userinfo_answers_for_current_kit_tokens_only(
    provider: IdentityProvider,
) -> None:
    token = httpx.post(f"{provider.issuer}/token", data={"grant_type": "x"}, timeout=5)
    assert token.status_code == 400
    assert errors_of("identity.json#/$defs/tokenError", token.json()) == []
    assert httpx.get(f"{provider.issuer}/authorize", timeout=5).status_code == 400
    claims = kit_claims(identity("applicantB"))
    info = httpx.get(f"{provider.issuer}/userinfo", headers=bearer(provider.mint(claims)))
    assert info.status_code == 200
    assert errors_of("identity.json#/$defs/userInfo", info.json()) == []
    assert info.json()["personal_id"] == SANDBOX_SUBJECTS["applicantB"]
    expired = provider.mint(claims, shift=7200)
    assert httpx.get(f"{provider.issuer}/userinfo", headers=bearer(expired)).status_code == 401
    system = provider.mint(kit_claims(identity("system")))
    assert httpx.get(f"{provider.issuer}/userinfo", headers=bearer(system)).status_code == 403


# ---- what it mints -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KIT_IDENTITIES))
def test_minted_tokens_are_valid_claims_that_verify_with_the_served_keys(
    provider: IdentityProvider, name: str
) -> None:
    token = provider.mint(kit_claims(identity(name)))
    assert errors_of("identity.json#/$defs/jwt", token) == []
    keys = KeySet.import_key_set(httpx.get(provider.jwks_uri, timeout=5).json())
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    assert decoded.header["kid"] == provider.kid
    claims = decoded.claims
    assert errors_of("identity.json#/$defs/tokenClaims", claims) == []
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "egov-portal"
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 5


def test_claims_follow_the_configured_identity() -> None:
    individual = kit_claims(identity("applicantB"))
    assert individual["personal_id"] == "001203012345"
    assert individual["acr"] == "vneid-level2"  # the default
    assert individual["sub"] == kit_claims(identity("applicantB"))["sub"]  # stable
    assert individual["sub"] != kit_claims(identity("applicantA"))["sub"]
    assert kit_claims(identity("organisation"))["acr"] == "vneid-level1"
    assert kit_claims(identity("officer"))["sub"] == "officer-of-the-kit"
    system = kit_claims(identity("system"))
    assert system["client_id"] == "one-stop-h22"
    assert "acr" not in system


def test_a_shift_makes_a_validly_signed_token_that_has_expired(
    provider: IdentityProvider,
) -> None:
    now = int(time.time())
    token = provider.mint(kit_claims(identity("applicantB")), shift=7200)
    claims = jwt.decode(token, KeySet.import_key_set(provider.jwks())).claims
    assert errors_of("identity.json#/$defs/tokenClaims", claims) == []
    assert abs(claims["iat"] - (now - 7200)) < 5
    assert claims["exp"] < now - 3500
    assert provider.verify(token) is None
    other = provider.mint(kit_claims(identity("applicantB")), audience="egov-conformance-kit")
    (wrong,) = errors_of(
        "identity.json#/$defs/tokenClaims",
        jwt.decode(other, KeySet.import_key_set(provider.jwks())).claims,
    )
    assert wrong.startswith("['aud']")  # the one thing wrong with it
    assert provider.verify(other) is None


# ---- the kind kit-issuer in a target configuration ---------------------------------------


def test_a_configuration_of_kit_issuer_identities_loads(tmp_path: Path) -> None:
    document = sandbox_document("http://127.0.0.1:8000")
    document["identities"] = KIT_IDENTITIES
    config = load_target(write_config(tmp_path, document))
    assert {i.kind for i in config.identities.values()} == {"kit-issuer"}
    assert config.identities["organisation"].settings["taxCode"] == "5700101059"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"personalId": None}, "'personalId' is a required property"),
        ({"accountType": "robot"}, "'robot' is not one of"),
        ({"personalId": "12345"}, "/identities/applicantB/personalId"),
        ({"loginHint": "001203012345"}, "'loginHint' was unexpected"),
    ],
)
def test_a_wrong_kit_issuer_identity_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, Any], said: str
) -> None:
    document = sandbox_document("http://127.0.0.1:8000")
    wrong = {**SANDBOX_KIT_APPLICANT, **change}
    document["identities"]["applicantB"] = {k: v for k, v in wrong.items() if v is not None}
    with pytest.raises(ConfigError) as raised:
        load_target(write_config(tmp_path, document))
    assert "/identities/applicantB" in str(raised.value)
    assert said in str(raised.value)


def test_the_sandbox_with_a_simulator_port_has_applicant_b_issued_by_the_kit() -> None:
    document = sandbox_document("http://127.0.0.1:8000", 8765)
    assert document["identities"]["applicantB"] == dict(SANDBOX_KIT_APPLICANT)
    assert document["simulators"] == {"host": "127.0.0.1", "port": 8765}
    assert errors_of("target-config.json", document) == []
    bare = sandbox_target("http://127.0.0.1:8000")  # a bare URL: the server trusts no kit
    assert {i.kind for i in bare.identities.values()} == {"oidc-sandbox", "client-credentials"}


def test_the_kit_applicant_is_the_fixture_citizen_the_sandbox_signs_in_as_applicant_b() -> None:
    citizens = json.loads((fixtures_dir() / "citizens.json").read_text("utf-8"))
    (citizen,) = [c for c in citizens if c["personalId"] == SANDBOX_KIT_APPLICANT["personalId"]]
    assert citizen["fullName"] == SANDBOX_KIT_APPLICANT["name"]
    assert SANDBOX_KIT_APPLICANT["personalId"] == SANDBOX_SUBJECTS["applicantB"]


def test_a_kit_issuer_token_without_the_kits_provider_is_a_harness_error() -> None:
    config = sandbox_target("http://127.0.0.1:9")
    source = token_source(identity("applicantB"), config)
    with pytest.raises(HarnessError, match="kit-issuer: its tokens need the kit's identity"):
        source.token()


def test_a_kit_issuer_token_source_mints_with_the_given_provider(
    provider: IdentityProvider,
) -> None:
    source = token_source(
        identity("officer"), sandbox_target("http://127.0.0.1:9"), lambda: provider
    )
    claims = provider.verify(source.token())
    assert claims is not None
    assert claims["agency_code"] == "000.00.01.H22"
    assert source.token() == source.token()  # cached until shortly before it expires


# ---- a portal that trusts the kit, and one that does not ---------------------------------


@pytest.fixture(scope="module")
def kit_port() -> int:
    return free_port()


def _server(work: Path, *options: str) -> Iterator[LiveServer]:
    live = LiveServer(f"sqlite:///{work / 'ref.sqlite3'}", work / "server.log", *options)
    live.start(120)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory, kit_port: int) -> Iterator[LiveServer]:
    trust = trust_option(f"http://127.0.0.1:{kit_port}")
    yield from _server(tmp_path_factory.mktemp("trusting"), "--trust-issuer", trust)


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _server(tmp_path_factory.mktemp("untrusting"))


def _kit(port: int, key: ECKey | None = None) -> tuple[SimulatorHost, IdentityProvider]:
    host = SimulatorHost(port=port)
    return host, IdentityProvider(host, key)


@pytest.mark.slow
def test_the_reference_accepts_a_kit_token_only_when_started_trusting_the_kit(
    trusting: LiveServer, untrusting: LiveServer, kit_port: int
) -> None:
    host, kit = _kit(kit_port)
    claims = kit_claims(identity("applicantB"))
    with host:
        token = kit.mint(claims)
        accepted = httpx.get(f"{trusting.base_url}/dossiers", headers=bearer(token), timeout=10)
        refused = httpx.get(f"{untrusting.base_url}/dossiers", headers=bearer(token), timeout=10)
        expired = httpx.get(
            f"{trusting.base_url}/dossiers", headers=bearer(kit.mint(claims, shift=7200))
        )
        elsewhere = httpx.get(
            f"{trusting.base_url}/dossiers",
            headers=bearer(kit.mint(claims, audience="egov-conformance-kit")),
        )
    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 401
    assert "not trusted" in refused.json()["detail"]
    assert expired.status_code == 401
    assert elsewhere.status_code == 401


@pytest.mark.slow
def test_the_reference_fetches_the_keys_again_for_an_unknown_kid(
    trusting: LiveServer, kit_port: int
) -> None:
    claims = kit_claims(identity("applicantB"))
    for run in range(2):  # two runs of the kit at one address, each with a key of its own
        time.sleep(1.1)  # the reference fetches again at most once a second
        parameters: Any = {"kid": f"kit-run-{run}", "use": "sig", "alg": "ES256"}
        host, kit = _kit(kit_port, ECKey.generate_key("P-256", parameters, private=True))
        with host:
            answer = httpx.get(
                f"{trusting.base_url}/dossiers", headers=bearer(kit.mint(claims)), timeout=10
            )
        assert answer.status_code == 200, answer.text


# ---- the doctor --------------------------------------------------------------------------


def _applicant_b(config_path: str) -> list[str]:
    config = load_target(config_path)
    return [f.line() for f in doctor.diagnose(config) if f.subject == "identity applicantB"]


@pytest.mark.slow
def test_doctor_says_which_issuer_a_target_refusing_kit_tokens_must_trust(
    untrusting: LiveServer, trusting: LiveServer, kit_port: int, tmp_path: Path
) -> None:
    refused = _applicant_b(write_config(tmp_path, sandbox_document(untrusting.base_url, kit_port)))
    kit = f"http://127.0.0.1:{kit_port}/idp"
    assert refused == [
        "✗ identity applicantB: the target refused its token (GET /accounts/me answered 401) — "
        f"the target must trust issuer {kit} with JWKS URL {kit}/jwks (and fetch it again on "
        "an unknown kid: the key is new every run) (identities.applicantB)"
    ]
    time.sleep(1.1)  # a key of another test may be cached
    accepted = _applicant_b(write_config(tmp_path, sandbox_document(trusting.base_url, kit_port)))
    (line,) = accepted
    assert line.startswith("✓ identity applicantB: got a token the target accepts (GET /accounts")


def test_doctor_refuses_kit_tokens_when_the_simulators_have_no_fixed_address(
    tmp_path: Path,
) -> None:
    document = sandbox_document("http://127.0.0.1:9", 8765)
    del document["simulators"]
    config = load_target(write_config(tmp_path, document))
    probe = doctor._Probe(config, httpx.Client())
    with probe.http:
        (finding,) = doctor._identity(probe, config.identities["applicantB"], discovered=True)
    assert finding.level is Level.PROBLEM
    assert "chosen anew every run" in finding.text
    assert finding.fix.startswith("set simulators.port")
    assert probe.kit is None  # nothing was started for it
