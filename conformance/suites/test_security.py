"""Authentication and authorisation of every protected operation (RFC 6750 Sec. 3.1; RFC 7519
Sec. 7.2; RFC 8725 Sec. 3.1; the contract's "Paths, operations, roles").

The operations come from the specs, not from a list in this file: every operation of the chosen
profiles that declares ``security: [{bearer: []}]``, with its ``x-egov-roles``. Each is called
with real ids (applicantA's objects, see `test_isolation.Holdings`) and a schema-valid body
(the spec's own example), so that the token is the only thing wrong with the request. After a
sweep the kit reads those objects again: a refused request must have changed nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from conformance.checks import body_of, describe, expect, fail
from conformance.client import TargetClient
from conformance.config import SPEC_OF_INTERFACE, TargetConfig
from conformance.invariants import Invariants
from conformance.outcomes import CheckFailed
from conformance.pytest_plugin import ConformanceRun
from conformance.suites._kit_tokens import OTHER_AUDIENCE, KitTokens, kit_identities
from conformance.suites.test_accounts import audiences, claims_of, sign_in
from conformance.suites.test_isolation import Holdings, holdings_of
from egov_contract import contract

INTERFACE_OF_SPEC = {spec: interface for interface, spec in SPEC_OF_INTERFACE.items()}
IDENTITY_OF_ROLE = {"applicant": "applicantA", "officer": "officer", "system": "system"}
OFFICER_ON_SUBMITTED = frozenset({"requestWithdrawal", "submitSupplement", "listDossierFees"})
"""Applicant operations aimed at the submitted dossier rather than the draft."""
WORKERS = 6
"""Requests of a sweep in flight at once: a sweep sends one request per operation."""
EVIDENCE_LIMIT = 12
"""Failing exchanges attached to a failure; the message names every operation anyway."""
UNTRUSTED_ISSUER = "https://idp.untrusted.example"
SHORT_LIVED_SECONDS = 20
"""A token living at most this long is waited out to test a validly signed expired token."""


@dataclass(frozen=True)
class Operation:
    """A protected operation of the contract, with what it takes to call it validly."""

    spec: str
    method: str
    path: str
    operation_id: str
    roles: tuple[str, ...]
    capability: str | None
    body: Any
    media: str | None
    needs_key: bool

    @property
    def interface(self) -> str:
        """The configuration's name of the operation's interface."""
        return INTERFACE_OF_SPEC[self.spec]

    @property
    def token_identity(self) -> str:
        """The test identity whose token this operation takes."""
        return IDENTITY_OF_ROLE.get(self.roles[0], "applicantA") if self.roles else "applicantA"


def _request_body(operation: dict[str, Any]) -> tuple[Any, str | None]:
    content = (operation.get("requestBody") or {}).get("content") or {}
    for media, entry in content.items():
        examples = entry.get("examples") or {}
        first = next(iter(examples.values()), None)
        if first is not None and "value" in first:
            return first["value"], media
    return None, None


def _needs_idempotency_key(spec: str, operation: dict[str, Any]) -> bool:
    parameters = contract().specs[spec].get("components", {}).get("parameters", {})
    for parameter in operation.get("parameters", []):
        ref = parameter.get("$ref", "")
        found = parameters.get(ref.rsplit("/", 1)[-1], parameter) if ref else parameter
        if found.get("name") == "Idempotency-Key" and found.get("required"):
            return True
    return False


@cache
def _all_protected() -> tuple[Operation, ...]:
    found = []
    for spec, method, path, operation in contract().operations():
        if not operation.get("security"):
            continue  # public and platform operations declare security: []
        body, media = _request_body(operation)
        found.append(
            Operation(
                spec=spec,
                method=method.upper(),
                path=path,
                operation_id=operation["operationId"],
                roles=tuple(operation.get("x-egov-roles", ())),
                capability=operation.get("x-egov-capability"),
                body=body,
                media=media,
                needs_key=_needs_idempotency_key(spec, operation),
            )
        )
    return tuple(found)


def protected_operations(run: ConformanceRun) -> list[Operation]:
    """The protected operations of the chosen profiles that the target offers."""
    in_profiles = {
        operation
        for profile in run.profiles
        for requirement in run.catalogue.for_profile(profile)
        for operation in requirement.operations
    }
    target = run.target
    return [
        operation
        for operation in _all_protected()
        if operation.operation_id in in_profiles
        and operation.interface in target.base_urls
        and (operation.capability is None or target.claims(operation.capability))
    ]


# ---- path parameters: real objects of applicantA --------------------------------------------


class PathValues:
    """Values for path parameters, taken from applicantA's objects when they can be made."""

    def __init__(self, holdings: Holdings) -> None:
        self.holdings = holdings
        self.placeholders: list[str] = []
        self._values: dict[str, str] = {}
        agency = holdings.target.procedures.agency_code
        self._fallback = {
            "resultCode": f"{agency}-250317-9999-KQ1",
            "dossierCode": f"{agency}-250317-9999",
        }
        self._makers: dict[str, Callable[[], str]] = {
            "draft": lambda: str(holdings.draft()["id"]),
            "submitted": lambda: str(holdings.submitted()["id"]),
            "componentId": lambda: str(holdings.component()["id"]),
            "resultCode": holdings.result_code,
            "paymentId": lambda: str(holdings.payment()["payment"]["id"]),
            "transactionId": lambda: str(holdings.payment()["payment"]["transactionId"]),
            "ecopyId": lambda: str(holdings.ecopy()["id"]),
            "requestId": lambda: str(holdings.request()["id"]),
            "itemId": lambda: str(holdings.item()["id"]),
            "subscriptionId": lambda: str(holdings.subscription()["id"]),
            "dossierCode": lambda: str(holdings.submitted()["code"]),
        }

    def value(self, name: str) -> str:
        """The value of one parameter; a placeholder when the object cannot be made."""
        if name not in self._values:
            try:
                self._values[name] = self._makers[name]()
            except (CheckFailed, pytest.skip.Exception, KeyError):
                # The sweep judges tokens, not the steps that make objects: a syntactically
                # valid id of nothing still has to be refused for its token.
                self._values[name] = self._fallback.get(name, f"kit-none-{secrets.token_hex(6)}")
                self.placeholders.append(name)
        return self._values[name]

    def path(self, operation: Operation) -> str:
        """The operation's path with every parameter filled."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "dossierId":
                officer_only = "applicant" not in operation.roles
                aimed = officer_only or operation.operation_id in OFFICER_ON_SUBMITTED
                name = "submitted" if aimed else "draft"
            return quote(self.value(name), safe="")

        return re.sub(r"\{(\w+)\}", fill, operation.path)

    def prepare(self, operations: Iterable[Operation]) -> None:
        """Make every object the operations need, before any request is sent in parallel."""
        for operation in operations:
            self.path(operation)


def send(
    client: TargetClient,
    operation: Operation,
    values: PathValues,
    *,
    as_: str | None = None,
    token: str | None = None,
) -> httpx.Response:
    """One valid request to ``operation`` but for its credentials."""
    options: dict[str, Any] = {}
    if operation.body is not None:
        if operation.media == "application/x-www-form-urlencoded":
            options["data"] = operation.body
        else:
            options["json"] = operation.body
    headers = {"Idempotency-Key": f"kit-{secrets.token_hex(8)}"} if operation.needs_key else {}
    return client.call(
        operation.method,
        operation.interface,
        values.path(operation),
        as_=as_,
        token=token,
        headers=headers,
        **options,
    )


@dataclass
class State:
    """What a refused request must not change: applicantA's draft and submitted dossier."""

    draft: tuple[Any, ...] | None
    submitted: tuple[Any, ...] | None


def _read_state(client: TargetClient, values: PathValues) -> State:
    def seen(name: str) -> tuple[Any, ...] | None:
        if name in values.placeholders:
            return None
        answer = client.call("GET", "dossiers", f"/dossiers/{values.value(name)}", as_="applicantA")
        body = body_of(answer)
        if answer.status_code != 200 or not isinstance(body, dict):
            return (answer.status_code,)
        components = tuple(c.get("id") for c in body.get("components") or [])
        return (200, body.get("version"), body.get("status"), components)

    return State(seen("draft"), seen("submitted"))


def sweep(
    requirement: str,
    client: TargetClient,
    holdings: Holdings,
    operations: Sequence[Operation],
    allowed: Iterable[int],
    expected: str,
    credentials: Callable[[Operation], dict[str, Any]],
) -> None:
    """Call every operation with ``credentials(operation)``; fail unless each is ``allowed``.

    Then fail when applicantA's dossiers changed: a refused request does nothing.
    """
    if not operations:
        pytest.skip("no protected operation of the chosen profiles is offered by the target")
    values = PathValues(holdings)
    values.prepare(operations)
    before = _read_state(client, values)
    calls = [(operation, credentials(operation)) for operation in operations]
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(lambda c: send(client, c[0], values, **c[1]), calls))
    wrong = [
        (operation, answer)
        for operation, answer in zip(operations, answers, strict=True)
        if answer.status_code not in set(allowed)
    ]
    if wrong:
        listed = "; ".join(f"{o.operation_id}: {describe(a)[:120]}" for o, a in wrong)
        raise fail(
            requirement,
            f"{expected}, on every one of the {len(operations)} operations called",
            f"{len(wrong)} answered otherwise: {listed}",
            *(answer for _, answer in wrong[:EVIDENCE_LIMIT]),
        )
    after = _read_state(client, values)
    expect(
        requirement,
        after == before,
        "the refused requests to change nothing (applicantA's draft and submitted dossier as "
        f"before: {before})",
        f"now {after}",
    )


# ---- tokens ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def header_of(token: str) -> dict[str, Any]:
    """The JOSE header of a JWT."""
    try:
        header = json.loads(_unb64(token.split(".")[0]))
    except ValueError:
        pytest.skip("the identity provider's tokens are not JWTs; the kit cannot forge one")
    return dict(header) if isinstance(header, dict) else {}


@cache
def _stranger_key(algorithm: str) -> RSAKey | ECKey:
    """A key nobody trusts, of the family ``algorithm`` names (made once per run)."""
    if algorithm.startswith(("RS", "PS")):
        return RSAKey.generate_key(2048)
    return ECKey.generate_key("P-256")


def resign(token: str, **changes: Any) -> str:
    """``token``'s header and claims (with ``changes``), signed by a key nobody trusts."""
    header = header_of(token)
    algorithm = header.get("alg") if header.get("alg") in ("RS256", "ES256") else "ES256"
    header = {**header, "alg": algorithm}
    if "kid" in changes:
        header["kid"] = changes.pop("kid")
    claims = {**claims_of(token), **changes}
    return jwt.encode(header, claims, _stranger_key(str(algorithm)), algorithms=[str(algorithm)])


def flip_signature_byte(token: str) -> str:
    """``token`` with one bit of one byte of its signature flipped (encoded exactly)."""
    head, payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{_b64(bytes(raw))}"


def unsigned(token: str) -> str:
    """``token``'s claims with ``"alg": "none"`` and no signature."""
    header = {**header_of(token), "alg": "none"}
    return f"{_b64(json.dumps(header).encode())}.{token.split('.')[1]}."


def hmac_signed(token: str, secret: bytes) -> str:
    """``token``'s claims signed HS256 with ``secret`` (the algorithm-confusion attack)."""
    header = {**header_of(token), "alg": "HS256"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{token.split('.')[1]}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


class Tokens:
    """The configured identities' tokens, and tokens forged from them, per operation."""

    def __init__(self, client: TargetClient, target: TargetConfig) -> None:
        self.client = client
        self.target = target
        self._cache: dict[tuple[str, str], str] = {}

    def real(self, operation: Operation) -> str:
        """A valid token of the role the operation takes."""
        identity = operation.token_identity
        if identity not in self.target.identities:
            identity = "applicantA"
        return self.client.token(identity)

    def forged(self, kind: str, operation: Operation, make: Callable[[str], str]) -> str:
        """``make(real token)``, once per kind and role."""
        key = (kind, operation.token_identity)
        if key not in self._cache:
            self._cache[key] = make(self.real(operation))
        return self._cache[key]


@pytest.fixture
def tokens(client: TargetClient, target: TargetConfig) -> Tokens:
    """Real and forged tokens of the test identities."""
    return Tokens(client, target)


@pytest.fixture
def kit_tokens(
    request: pytest.FixtureRequest, client: TargetClient, target: TargetConfig
) -> KitTokens | None:
    """Tokens of the kit's identity provider when the target trusts it, else None."""
    if not kit_identities(target):
        return None
    return KitTokens(request.getfixturevalue("simulators").identity, client, target)


@pytest.fixture
def holdings(conformance: ConformanceRun, invariants: Invariants) -> Holdings:
    """applicantA's objects, made once per run."""
    return holdings_of(conformance).observed_by(invariants)


@pytest.fixture
def operations(conformance: ConformanceRun) -> list[Operation]:
    """The protected operations of the chosen profiles."""
    return protected_operations(conformance)


def _bearer(token: str) -> dict[str, Any]:
    return {"token": token}


@dataclass(frozen=True)
class Sweeper:
    """`sweep` over the run's protected operations, or the part of them ``only`` keeps."""

    client: TargetClient
    holdings: Holdings
    operations: Sequence[Operation]

    def refuse(
        self,
        requirement: str,
        allowed: Iterable[int],
        expected: str,
        credentials: Callable[[Operation], dict[str, Any]],
        only: Callable[[Operation], bool] | None = None,
    ) -> None:
        """Every chosen operation answers one of ``allowed`` and changes nothing."""
        chosen = [o for o in self.operations if only is None or only(o)]
        sweep(requirement, self.client, self.holdings, chosen, allowed, expected, credentials)


@pytest.fixture
def sweeper(client: TargetClient, holdings: Holdings, operations: list[Operation]) -> Sweeper:
    """The protected operations of the run, with applicantA's objects."""
    return Sweeper(client, holdings, operations)


# ---- SEC-01: no token ------------------------------------------------------------------------


@pytest.mark.requirement("SEC-01")
def test_protected_operations_refuse_a_request_without_a_token(
    client: TargetClient, sweeper: Sweeper
) -> None:
    """Every protected operation called without a bearer token is 401 and does nothing."""
    sweeper.refuse("SEC-01", {401}, "HTTP 401 without a token", lambda _operation: {})
    answer = client.call(
        "GET", "dossiers", "/dossiers", headers={"Authorization": "Basic a2l0Og=="}
    )
    expect(
        "SEC-01",
        answer.status_code == 401,
        "HTTP 401 for an Authorization header that carries no bearer token (Basic)",
        describe(answer),
        answer,
    )


# ---- SEC-02: tokens that must not verify -----------------------------------------------------


def _expired_resigned(token: str, _keys: bytes) -> str:
    now = int(time.time())
    return resign(token, exp=now - 600, iat=now - 4200, nbf=now - 4200)


FORGERIES: dict[str, tuple[str, Callable[[str, bytes], str]]] = {
    "other-key": (
        "whose signature is not the trusted provider's (valid claims, a stranger's key)",
        lambda token, _keys: resign(token),
    ),
    "flipped-byte": (
        "whose signature was tampered with (one byte changed)",
        lambda token, _keys: flip_signature_byte(token),
    ),
    "alg-none": ('with "alg": "none" and no signature', lambda token, _keys: unsigned(token)),
    "hs256": (
        "signed HS256 with the published key set as the secret (algorithm confusion)",
        hmac_signed,
    ),
    "expired-forged": ("whose exp has passed, signed by a stranger's key", _expired_resigned),
    "untrusted-issuer": (
        f"of the untrusted issuer {UNTRUSTED_ISSUER}",
        lambda token, _keys: resign(token, iss=UNTRUSTED_ISSUER, kid="kit-untrusted-1"),
    ),
}
"""Tokens made from a real one that must not verify: what is wrong, and how it is made."""


@pytest.mark.requirement("SEC-02")
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_protected_operations_refuse_a_forged_token(
    client: TargetClient, sweeper: Sweeper, tokens: Tokens, forgery: str
) -> None:
    """A token forged from a real one (key, signature, algorithm, issuer, expiry) is 401."""
    what, make = FORGERIES[forgery]
    keys = b""
    if forgery == "hs256":
        keys = client.call("GET", "identity", "/identity/jwks").content or b"egov-conformance"
    sweeper.refuse(
        "SEC-02",
        {401},
        f"HTTP 401 for a token {what}",
        lambda op: _bearer(tokens.forged(forgery, op, lambda token: make(token, keys))),
    )


@pytest.mark.requirement("SEC-02")
def test_protected_operations_refuse_an_expired_token_of_the_provider(
    client: TargetClient, sweeper: Sweeper, kit_tokens: KitTokens | None
) -> None:
    """A token the trusted provider signed is 401 once its exp has passed."""
    if kit_tokens is not None:
        sweeper.refuse(
            "SEC-02",
            {401},
            f"HTTP 401 for a token of the trusted issuer {kit_tokens.issuer}, correctly signed, "
            "whose exp passed an hour ago",
            lambda op: _bearer(kit_tokens.expired(op.token_identity)),
        )
        return
    token = client.token("applicantA")
    claims = claims_of(token)
    lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0))
    if lifetime > SHORT_LIVED_SECONDS:
        pytest.skip(
            f"the identity provider's tokens live {lifetime} s: the kit cannot wait for one to "
            "expire, and cannot sign one with the provider's key (the expired-but-forged case is "
            "test_protected_operations_refuse_a_forged_token[expired-forged]); a target that "
            "trusts the kit's issuer (an identity of kind kit-issuer) gets this test"
        )
    time.sleep(max(0, int(claims["exp"]) - int(time.time())) + 2)
    sweeper.refuse(
        "SEC-02",
        {401},
        "HTTP 401 for a validly signed token whose exp has passed",
        lambda _operation: _bearer(token),
    )


@pytest.mark.requirement("SEC-02")
def test_protected_operations_refuse_a_token_issued_in_the_future(
    sweeper: Sweeper, kit_tokens: KitTokens | None
) -> None:
    """A correctly signed token whose iat is an hour ahead (beyond 60 s of skew) is 401."""
    if kit_tokens is None:
        pytest.skip(
            "no provider hands out a token issued in the future: a target that trusts the "
            "kit's issuer (an identity of kind kit-issuer) gets this test"
        )
    sweeper.refuse(
        "SEC-02",
        {401},
        f"HTTP 401 for a token of the trusted issuer {kit_tokens.issuer}, correctly signed, "
        "whose iat is an hour ahead of now",
        lambda op: _bearer(kit_tokens.from_the_future(op.token_identity)),
    )


@pytest.mark.requirement("SEC-02")
def test_protected_operations_refuse_a_token_issued_for_another_audience(
    client: TargetClient, target: TargetConfig, sweeper: Sweeper, kit_tokens: KitTokens | None
) -> None:
    """A correctly signed token for another audience (an ID token, or the kit issuer's) is 401."""
    id_tokens, unusable = _id_tokens(client, target)
    if unusable and kit_tokens is None:
        pytest.skip(
            f"{unusable}; a target that trusts the kit's issuer (an identity of kind kit-issuer) "
            "gets this test with the kit's tokens"
        )
    if not unusable:
        sweeper.refuse(
            "SEC-02",
            {401},
            "HTTP 401 for a token whose audience is not egov-portal (the sign-in's ID token)",
            lambda op: _bearer(id_tokens.get(op.token_identity, id_tokens["applicantA"])),
        )
    if kit_tokens is not None:
        sweeper.refuse(
            "SEC-02",
            {401},
            f"HTTP 401 for a token of the trusted issuer {kit_tokens.issuer}, correctly signed, "
            f"whose audience is {OTHER_AUDIENCE!r}, not egov-portal",
            lambda op: _bearer(kit_tokens.for_other_audience(op.token_identity)),
        )


def _id_tokens(client: TargetClient, target: TargetConfig) -> tuple[dict[str, str], str]:
    """The ID tokens of the kit's own sign-ins, and why they cannot serve ("" when they can)."""
    id_tokens: dict[str, str] = {}
    for identity in ("applicantA", "officer"):
        try:
            answer = sign_in(client, target, identity)
        except pytest.skip.Exception:
            continue
        if isinstance(answer.get("id_token"), str):
            id_tokens[identity] = answer["id_token"]
    if "applicantA" not in id_tokens:
        return id_tokens, (
            "no sign-in of the kit's own gives an ID token: no correctly signed token for "
            "another audience than the portal is obtainable"
        )
    for identity, token in id_tokens.items():
        if "egov-portal" in audiences(claims_of(token)):
            return id_tokens, f"the ID token of {identity} names the portal as its audience too"
    return id_tokens, ""


# ---- SEC-03 and SEC-08: roles ----------------------------------------------------------------


ROLE_SWEEPS: dict[str, tuple[str, Callable[[Operation], bool], str]] = {
    "applicant-on-officer-or-system": (
        "applicantA",
        lambda o: "applicant" not in o.roles,
        "an applicant's token on an operation of officers or systems",
    ),
    "officer-on-system": (
        "officer",
        lambda o: "officer" not in o.roles and "applicant" not in o.roles,
        "an officer's token on a system operation",
    ),
}
"""Valid tokens of one role on the operations of others: whose token, on which, said how."""


@pytest.mark.requirement("SEC-03")
@pytest.mark.parametrize("case", sorted(ROLE_SWEEPS))
def test_operations_refuse_the_roles_they_are_not_for(sweeper: Sweeper, case: str) -> None:
    """A valid token of a role an operation does not list (``x-egov-roles``) is 403."""
    identity, only, what = ROLE_SWEEPS[case]
    sweeper.refuse("SEC-03", {403}, f"HTTP 403 for {what}", lambda _o: {"as_": identity}, only)


@pytest.mark.requirement("SEC-08")
@pytest.mark.parametrize("identity", ["applicantA", "organisation", "officer"])
def test_system_operations_refuse_every_token_but_a_system_clients(
    identity: str, sweeper: Sweeper
) -> None:
    """Operations for other state systems refuse the tokens of people (401 or 403)."""
    sweeper.refuse(
        "SEC-08",
        {401, 403},
        f"HTTP 401 or 403 for {identity}'s token on a system-only operation",
        lambda _operation: {"as_": identity},
        lambda o: o.roles == ("system",),
    )


# ---- SEC-06: agencies ------------------------------------------------------------------------


@pytest.mark.requirement("SEC-06")
def test_officer_actions_refuse_an_officer_of_another_agency(
    client: TargetClient, target: TargetConfig, holdings: Holdings, sweeper: Sweeper
) -> None:
    """An officer of another agency gets 403 or 404 for every officer action here."""
    if "officerOtherAgency" not in target.identities:
        pytest.skip("the target configuration has no identity 'officerOtherAgency'")
    result_before = _result_status(client, holdings)
    sweeper.refuse(
        "SEC-06",
        {403, 404},
        "HTTP 403 or 404 for an officer of another agency acting on this agency's objects",
        lambda _operation: {"as_": "officerOtherAgency"},
        lambda o: o.roles == ("officer",),
    )
    expect(
        "SEC-06",
        _result_status(client, holdings) == result_before,
        f"applicantA's result to stay {result_before!r}",
        f"{_result_status(client, holdings)!r}",
    )


def _result_status(client: TargetClient, holdings: Holdings) -> str | None:
    try:
        code = holdings.result_code()
    except (CheckFailed, pytest.skip.Exception):
        return None
    answer = client.call("GET", "results", f"/results/{code}", as_="applicantA")
    body = body_of(answer)
    return str(body.get("status")) if isinstance(body, dict) else None
