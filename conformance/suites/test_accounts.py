"""Accounts and sign-in with the national e-identity (Decree 45/2020/ND-CP Art. 7, 8;
Decree 137/2024/ND-CP Art. 7(3); Decision 31/2021/QD-TTg Art. 11; OpenID Connect Core 1.0).

The helpers at the top (`sign_in`, `claims_of`, `published_keys`) are shared with the security
suite: a sign-in of the kit's own gives an ID token, which is a correctly signed token for
another audience than the portal.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from conformance.checks import body_of, describe, expect, expect_conforms, expect_status, fail
from conformance.client import TargetClient
from conformance.config import TargetConfig

PORTAL_AUDIENCE = "egov-portal"
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""JWK members that hold private key material (RFC 7518 Sec. 6.2.2, 6.3.2, 6.4)."""
ACCOUNT_TYPES = {"applicantA": "individual", "organisation": "organisation"}
"""The e-identity account type each configured applicant identity stands for."""


# ---- tokens and the sandbox sign-in (shared with test_security) ------------------------------


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it; a skip when it is not a JWT."""
    parts = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (IndexError, ValueError):
        pytest.skip("the identity provider's tokens are not JWTs; the kit cannot read them")
    if not isinstance(claims, dict):
        pytest.skip("the identity provider's tokens carry no JSON claims object")
    return claims


def on_interface(client: TargetClient, interface: str, url: str) -> str:
    """The path of an absolute ``url`` of the target below the base URL of ``interface``."""
    base = client.url(interface, "")
    if not url.startswith(base):
        pytest.skip(
            f"{url} is not below the {interface} interface's base URL {base}; the kit reaches "
            "the target's endpoints through the configured base URLs only"
        )
    return url[len(base) :] or "/"


def discovery(client: TargetClient) -> tuple[httpx.Response, dict[str, Any]]:
    """``getOpenIdConfiguration``: the answer and its body, which must be a 200 document."""
    answer = client.call("GET", "identity", "/.well-known/openid-configuration")
    document = expect_conforms("ACC-05", "getOpenIdConfiguration", answer)
    expect_status("ACC-05", answer, 200, why="the OpenID Connect discovery document")
    return answer, document


def published_keys(client: TargetClient) -> tuple[httpx.Response, KeySet]:
    """The identity provider's JWK Set, read from the discovery document's ``jwks_uri``."""
    _, document = discovery(client)
    answer = client.call("GET", "identity", on_interface(client, "identity", document["jwks_uri"]))
    body = expect_conforms("ACC-05", "getIdentityJwks", answer)
    expect_status("ACC-05", answer, 200, why="the JWK Set named by jwks_uri")
    try:
        return answer, KeySet.import_key_set(body)
    except (JoseError, ValueError, TypeError) as problem:
        raise fail(
            "ACC-05", "a JWK Set of usable public keys (RFC 7517)", str(problem), answer
        ) from None


def sign_in(client: TargetClient, target: TargetConfig, identity: str) -> dict[str, Any]:
    """A fresh authorization-code sign-in with PKCE of ``identity``; the token answer.

    Only an ``oidc-sandbox`` identity can be signed in by the kit without a person; others
    are a skip. The answer gains ``nonce`` and ``client_id`` (what the ID token must carry).
    """
    settings = target.identities[identity].settings if identity in target.identities else None
    if settings is None or target.identities[identity].kind != "oidc-sandbox":
        pytest.skip(
            f"the identity {identity!r} is not an oidc-sandbox identity the kit can sign in"
        )
    _, document = discovery(client)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    query = {
        "response_type": "code",
        "client_id": settings["clientId"],
        "redirect_uri": settings["redirectUri"],
        "scope": "openid profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        "login_hint": settings["loginHint"],
        "acr_values": settings.get("acr", "vneid-level2"),
    }
    authorize = on_interface(client, "identity", document["authorization_endpoint"])
    answer = client.call("GET", "identity", authorize, params=query)
    location = answer.headers.get("location", "")
    redirect = parse_qs(urlsplit(location).query)
    expect(
        "ACC-05",
        answer.status_code in (302, 303) and "code" in redirect,
        f"a 302 redirect to {settings['redirectUri']} with a code (authorization-code flow)",
        lambda: describe(answer),
        answer,
    )
    expect(
        "ACC-05",
        location.split("?", 1)[0].startswith(settings["redirectUri"].split("?")[0]),
        f"the redirect to go to the registered redirect URI {settings['redirectUri']}",
        location.split("?", 1)[0],
        answer,
    )
    expect(
        "ACC-05",
        redirect.get("state") == [state],
        "the redirect to return the state unchanged",
        f"state {redirect.get('state')}",
        answer,
    )
    form = {
        "grant_type": "authorization_code",
        "code": redirect["code"][0],
        "redirect_uri": settings["redirectUri"],
        "client_id": settings["clientId"],
        "code_verifier": verifier,
    }
    if settings.get("clientSecret"):
        form["client_secret"] = settings["clientSecret"]
    token_path = on_interface(client, "identity", document["token_endpoint"])
    tokens = client.call("POST", "identity", token_path, data=form)
    body: dict[str, Any] = expect_conforms("ACC-05", "createToken", tokens)
    expect_status("ACC-05", tokens, 200, why="the code and its PKCE verifier are redeemed")
    expect(
        "ACC-05",
        tokens.headers.get("cache-control", "").lower() == "no-store",
        "Cache-Control: no-store on the token answer (RFC 6749 Sec. 5.1)",
        f"Cache-Control {tokens.headers.get('cache-control')!r}",
        tokens,
    )
    return {**body, "nonce": nonce, "client_id": settings["clientId"], "response": tokens}


def verified_claims(
    requirement: str, token: str, keys: KeySet, what: str, *responses: httpx.Response
) -> dict[str, Any]:
    """The claims of ``token`` once its signature verifies with ``keys``."""
    try:
        return dict(jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims)
    except (JoseError, ValueError) as problem:
        raise fail(
            requirement,
            f"the {what} to verify with a key of the published JWK Set",
            f"{type(problem).__name__}: {problem}",
            *responses,
        ) from None


def audiences(claims: dict[str, Any]) -> list[Any]:
    """The ``aud`` claim as a list."""
    audience = claims.get("aud")
    return audience if isinstance(audience, list) else [audience]


def register(client: TargetClient, identity: str, requirement: str) -> dict[str, Any]:
    """``registerAccount`` with no contact details: the account (new, 201, or existing, 200)."""
    answer = client.call("POST", "identity", "/accounts", as_=identity, json={})
    account = expect_status(
        requirement, answer, 200, 201, why="an e-identity applicant registers an account"
    )
    expect(
        requirement,
        isinstance(account, dict),
        "the account as a JSON object",
        lambda: describe(answer),
        answer,
    )
    return dict(account)


def _needs_identity(target: TargetConfig, identity: str) -> None:
    if identity not in target.identities:
        pytest.skip(f"the target configuration has no identity {identity!r}")


# ---- ACC-01 and ACC-04: the e-identity token is enough ---------------------------------------


def _applicant_calls(target: TargetConfig) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(operationId, method, interface, path, request options) of applicant operations."""
    calls: list[tuple[str, str, str, str, dict[str, Any]]] = [
        ("getMyAccount", "GET", "identity", "/accounts/me", {}),
        ("listMyNotifications", "GET", "identity", "/accounts/me/notifications", {}),
        ("listDossiers", "GET", "dossiers", "/dossiers", {}),
        ("listResults", "GET", "results", "/results", {}),
    ]
    if target.claims("online-requests"):
        question = {
            "agencyCode": target.procedures.agency_code,
            "subject": "Hỏi về thời hạn giải quyết hồ sơ đăng ký khai sinh",
            "content": "Xin cho biết hồ sơ đăng ký khai sinh nộp trực tuyến được giải quyết trong "
            "bao lâu? (câu hỏi kiểm thử của bộ công cụ đánh giá)",
            "category": "question",
        }
        calls.append(("submitRequest", "POST", "requests", "/requests", {"json": question}))
        calls.append(("listRequests", "GET", "requests", "/requests", {}))
    if target.claims("repository"):
        calls.append(("listRepositoryItems", "GET", "repository", "/repository/items", {}))
    return calls


@pytest.mark.requirement("ACC-01")
@pytest.mark.parametrize("identity", ["applicantA", "organisation"])
def test_applicant_operations_accept_the_e_identity_token(
    identity: str, client: TargetClient, target: TargetConfig
) -> None:
    """An individual's or organisation's e-identity token opens every applicant operation."""
    claims = claims_of(client.token(identity))
    if claims.get("egov_account_type") != ACCOUNT_TYPES[identity]:
        pytest.skip(
            f"the configured {identity!r} token is of type "
            f"{claims.get('egov_account_type')!r}, not {ACCOUNT_TYPES[identity]!r}"
        )
    register(client, identity, "ACC-01")
    refused = []
    answers = []
    for operation, method, interface, path, options in _applicant_calls(target):
        answer = client.call(method, interface, path, as_=identity, **options)
        answers.append(answer)
        if not 200 <= answer.status_code < 300:
            refused.append(f"{operation}: {describe(answer)[:200]}")
    expect(
        "ACC-01",
        not refused,
        f"every applicant operation to accept the {ACCOUNT_TYPES[identity]}'s e-identity "
        "token (2xx) without another sign-in",
        "; ".join(refused),
        *answers,
    )


@pytest.mark.requirement("ACC-04")
def test_one_national_sign_in_opens_every_interface(
    client: TargetClient, target: TargetConfig
) -> None:
    """One sign-in at the national sign-in is accepted everywhere, without a second sign-in."""
    try:
        token = sign_in(client, target, "applicantA")["access_token"]
    except pytest.skip.Exception:
        token = client.token("applicantA")  # the configured provider's token, however obtained
    calls = [
        ("getMyAccount", "identity", "/accounts/me", (200, 404)),
        ("listDossiers", "dossiers", "/dossiers", (200,)),
        ("listResults", "results", "/results", (200,)),
    ]
    if target.claims("repository"):
        calls.append(("listRepositoryItems", "repository", "/repository/items", (200,)))
    asked = []
    answers = []
    for operation, interface, path, accepted in calls:
        answer = client.call("GET", interface, path, token=token)
        answers.append(answer)
        if answer.status_code not in accepted:
            asked.append(f"{operation}: {describe(answer)[:200]}")
    expect(
        "ACC-04",
        not asked,
        "the single sign-on token to be accepted by every interface (no 401, no redirect to "
        "another sign-in); getMyAccount may be 404 before registration",
        "; ".join(asked),
        *answers,
    )


# ---- ACC-02: registration --------------------------------------------------------------------


@pytest.mark.requirement("ACC-02")
@pytest.mark.parametrize("identity", ["applicantA", "organisation"])
def test_register_account_creates_an_account_of_the_signed_in_type(
    identity: str, client: TargetClient
) -> None:
    """An individual or organisation signed in by e-identity registers an account of its type."""
    claims = claims_of(client.token(identity))
    wanted = ACCOUNT_TYPES[identity]
    if claims.get("egov_account_type") != wanted:
        pytest.skip(
            f"the configured {identity!r} token is of type "
            f"{claims.get('egov_account_type')!r}, not {wanted!r}"
        )
    first = client.call("POST", "identity", "/accounts", as_=identity, json={})
    account = expect_conforms("ACC-02", "registerAccount", first)
    expect_status("ACC-02", first, 201, 200, why="201 creates the account, 200 returns it")
    identifier = (
        ("personalId", "personal_id") if wanted == "individual" else ("taxCode", "tax_code")
    )
    expect(
        "ACC-02",
        account.get("type") == wanted and account.get(identifier[0]) == claims.get(identifier[1]),
        f"an account of type {wanted} with the {identifier[0]} of the token "
        f"({claims.get(identifier[1])})",
        f"type {account.get('type')!r}, {identifier[0]} {account.get(identifier[0])!r}",
        first,
    )
    mine = client.call("GET", "identity", "/accounts/me", as_=identity)
    read = expect_conforms("ACC-02", "getMyAccount", mine)
    expect_status("ACC-02", mine, 200, why="the registered account is returned by getMyAccount")
    expect(
        "ACC-02",
        read.get("id") == account.get("id") and read.get("type") == wanted,
        f"getMyAccount to return the registered account {account.get('id')!r} of type {wanted}",
        f"id {read.get('id')!r}, type {read.get('type')!r}",
        mine,
    )
    again = client.call("POST", "identity", "/accounts", as_=identity, json={})
    repeated = expect_status("ACC-02", again, 200, why="registering twice returns the account")
    expect(
        "ACC-02",
        isinstance(repeated, dict) and repeated.get("id") == account.get("id"),
        "the same account when registering again",
        f"id {body_of(again)!r}"[:300],
        again,
    )


# ---- ACC-03: the identity is the authenticated one -------------------------------------------


@pytest.mark.requirement("ACC-03")
def test_update_my_account_refuses_to_change_the_authenticated_identity(
    client: TargetClient, target: TargetConfig
) -> None:
    """The personal ID, tax code, type and name come from the token and cannot be changed."""
    claims = claims_of(client.token("applicantA"))
    if claims.get("egov_account_type") != "individual":
        pytest.skip("the configured applicantA is not an individual")
    before = register(client, "applicantA", "ACC-03")
    expect(
        "ACC-03",
        before.get("personalId") == claims.get("personal_id")
        and before.get("type") == "individual",
        f"the account's personal ID and type to be the token's ({claims.get('personal_id')}, "
        "individual)",
        f"personalId {before.get('personalId')!r}, type {before.get('type')!r}",
    )
    other_id = _other_personal_id(client, target, str(claims.get("personal_id")))
    attempts: list[dict[str, Any]] = [
        {"personalId": other_id},
        {"taxCode": "5700101059"},
        {"type": "organisation"},
        {"name": "Người Khác Hoàn Toàn"},
        {"phone": "0987000111", "personalId": other_id},
    ]
    accepted = []
    answers = []
    for body in attempts:
        answer = client.call("PATCH", "identity", "/accounts/me", as_="applicantA", json=body)
        answers.append(answer)
        if answer.status_code not in (400, 422):
            accepted.append(f"{sorted(body)}: {describe(answer)[:160]}")
    expect(
        "ACC-03",
        not accepted,
        "every attempt to change identity data through updateMyAccount to be refused "
        "(400: the body names identity data)",
        "; ".join(accepted),
        *answers,
    )
    mine = client.call("GET", "identity", "/accounts/me", as_="applicantA")
    after = expect_status("ACC-03", mine, 200, why="the account is still there")
    kept = {key: after.get(key) for key in ("personalId", "taxCode", "type", "name", "phone")}
    wanted = {key: before.get(key) for key in kept}
    expect(
        "ACC-03",
        kept == wanted,
        f"identity data unchanged after the refused updates: {wanted}",
        str(kept),
        mine,
    )


def _other_personal_id(client: TargetClient, target: TargetConfig, own: str) -> str:
    """A well-formed personal ID that is not applicantA's: applicantB's when it is known."""
    if "applicantB" in target.identities:
        theirs = claims_of(client.token("applicantB")).get("personal_id")
        if isinstance(theirs, str) and theirs != own:
            return theirs
    return "001203012345" if own != "001203012345" else "079190012345"


# ---- ACC-05: the national sign-in is an OpenID Connect provider ------------------------------


@pytest.mark.requirement("ACC-05")
def test_discovery_document_publishes_the_issuer_and_its_public_keys(
    client: TargetClient,
) -> None:
    """The sign-in publishes its OpenID Connect discovery document and a JWK Set of public keys."""
    answer, document = discovery(client)
    expect(
        "ACC-05",
        "code" in document.get("response_types_supported", [])
        and "S256" in document.get("code_challenge_methods_supported", []),
        "the authorization-code flow with PKCE S256 among the supported ones",
        f"response types {document.get('response_types_supported')}, PKCE methods "
        f"{document.get('code_challenge_methods_supported')}",
        answer,
    )
    keys_answer, _ = published_keys(client)
    keys = body_of(keys_answer)["keys"]
    private = [k.get("kid") for k in keys if PRIVATE_MEMBERS & set(k)]
    unnamed = [k for k in keys if not k.get("kid")]
    expect(
        "ACC-05",
        bool(keys) and not private and not unnamed,
        "at least one public key, each with its kid, none with private members",
        f"{len(keys)} keys; private members in {private}; {len(unnamed)} without kid",
        keys_answer,
    )


@pytest.mark.requirement("ACC-05")
def test_code_flow_issues_tokens_that_verify_with_the_published_keys(
    client: TargetClient, target: TargetConfig
) -> None:
    """The authorization-code flow signs a citizen in; the tokens verify with the published keys."""
    _, document = discovery(client)
    tokens = sign_in(client, target, "applicantA")
    answer: httpx.Response = tokens["response"]
    keys_answer, keys = published_keys(client)
    access = verified_claims(
        "ACC-05", tokens["access_token"], keys, "access token", answer, keys_answer
    )
    expect(
        "ACC-05",
        access.get("iss") == document["issuer"] and PORTAL_AUDIENCE in audiences(access),
        f"an access token of issuer {document['issuer']} for the audience {PORTAL_AUDIENCE}",
        f"iss {access.get('iss')!r}, aud {access.get('aud')!r}",
        answer,
    )
    id_token = tokens.get("id_token")
    expect(
        "ACC-05",
        isinstance(id_token, str),
        "an ID token for a sign-in with scope openid",
        "no id_token",
        answer,
    )
    identity = verified_claims("ACC-05", str(id_token), keys, "ID token", answer, keys_answer)
    expect(
        "ACC-05",
        identity.get("iss") == document["issuer"]
        and tokens["client_id"] in audiences(identity)
        and identity.get("nonce") == tokens["nonce"],
        f"an ID token of issuer {document['issuer']} for the client {tokens['client_id']} "
        "carrying the nonce sent to authorize",
        f"iss {identity.get('iss')!r}, aud {identity.get('aud')!r}, nonce "
        f"{identity.get('nonce')!r}",
        answer,
    )
    userinfo_path = on_interface(client, "identity", document["userinfo_endpoint"])
    info = client.call("GET", "identity", userinfo_path, token=tokens["access_token"])
    claims = expect_conforms("ACC-05", "getUserInfo", info)
    expect_status("ACC-05", info, 200, why="the access token opens userinfo")
    expect(
        "ACC-05",
        claims.get("sub") == identity.get("sub"),
        "userinfo's sub to be the ID token's sub",
        f"{claims.get('sub')!r} against {identity.get('sub')!r}",
        info,
    )


@pytest.mark.requirement("ACC-05")
def test_configured_identities_tokens_verify_with_the_published_keys(
    client: TargetClient, target: TargetConfig
) -> None:
    """Every token the sign-in issued to the test identities verifies with its published keys."""
    _, document = discovery(client)
    keys_answer, keys = published_keys(client)
    checked = 0
    for identity in sorted(target.identities):
        token = client.token(identity)
        claims = claims_of(token)
        if claims.get("iss") != document["issuer"]:
            continue  # another trusted provider's token: not this sign-in's to vouch for
        verified_claims("ACC-05", token, keys, f"token of {identity}", keys_answer)
        checked += 1
    if not checked:
        pytest.skip(f"no configured identity's token was issued by {document['issuer']}")
