"""The sandbox identity provider and the portal accounts, through HTTP."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from reference_impl.dossier_store import insert_new, save
from reference_impl.events import notify
from reference_impl.oidc import HARNESS_CLIENT_ID
from reference_impl.signing import issue_jwt
from reference_impl.tokens import access_token, subject_claims

from .conftest import Server
from .support import assert_problem

CITIZEN = "001203012345"
OTHER_CITIZEN = "079190012345"
ORGANISATION = "5700101059"
OFFICER = "canbo.h22.honghai.01"
SYSTEM = "one-stop-h22"
REDIRECT = "http://127.0.0.1/callback"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy"
REASON = "Thiếu bản sao giấy chứng sinh (component GCS)."


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize(server: Server, **overrides: str | None) -> Any:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": HARNESS_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "af0ifjsldkj",
        "nonce": "n-0S6_WzA2Mj",
        "code_challenge": challenge_of(VERIFIER),
        "code_challenge_method": "S256",
        "login_hint": CITIZEN,
    }
    params.update(overrides)
    query = {k: v for k, v in params.items() if v is not None}
    return server.client.get("/identity/authorize", params=query, follow_redirects=False)


def redirected(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def token(server: Server, **form: str) -> Any:
    return server.client.post("/identity/token", data=form)


def code_for(server: Server, login_hint: str = CITIZEN) -> str:
    return redirected(authorize(server, login_hint=login_hint))["code"]


def redeem(server: Server, code: str, **overrides: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": HARNESS_CLIENT_ID,
        "code_verifier": VERIFIER,
        **overrides,
    }
    return token(server, **form)


def signed_in(server: Server, login_hint: str = CITIZEN) -> dict[str, Any]:
    response = redeem(server, code_for(server, login_hint))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def identity_keys(server: Server) -> KeySet:
    return KeySet.import_key_set(server.client.get("/identity/jwks").json())


def assert_token_error(response: Any, status: int, error: str) -> dict[str, Any]:
    body = assert_problem(response, status)
    assert body["error"] == error
    assert body["error_description"].isascii()
    assert response.headers["cache-control"] == "no-store"
    return body


# ---- discovery and keys ----------------------------------------------------------------------


def test_discovery_document_names_the_issuer_and_its_endpoints(server: Server) -> None:
    """The discovery document's issuer is the token issuer and every endpoint lives under it."""
    config = server.client.get("/.well-known/openid-configuration").json()
    issuer = server.services.settings.issuer
    assert config["issuer"] == issuer
    assert config["jwks_uri"] == f"{issuer}/identity/jwks"
    assert config["token_endpoint"] == f"{issuer}/identity/token"
    assert config["authorization_endpoint"] == f"{issuer}/identity/authorize"
    assert config["token_endpoint_auth_methods_supported"] == ["client_secret_post", "none"]
    assert config["code_challenge_methods_supported"] == ["S256"]


def test_jwks_publishes_public_keys_only(server: Server) -> None:
    """The JWK Set carries kid, use and alg and no private member."""
    keys = server.client.get("/identity/jwks").json()["keys"]
    assert keys
    for key in keys:
        assert {"kid", "use", "alg"} <= set(key)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


# ---- the authorization-code flow -------------------------------------------------------------


def test_code_flow_with_pkce_signs_a_citizen_in(server: Server) -> None:
    """authorize → 302 with code and state → token → userinfo → a protected call works."""
    answer = redirected(authorize(server))
    assert answer["state"] == "af0ifjsldkj"
    response = redeem(server, answer["code"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] > 0
    assert tokens["refresh_token"]
    id_token = jwt.decode(tokens["id_token"], identity_keys(server))
    assert id_token.claims["aud"] == HARNESS_CLIENT_ID
    assert id_token.claims["nonce"] == "n-0S6_WzA2Mj"
    assert id_token.claims["personal_id"] == CITIZEN
    assert id_token.claims["iss"] == server.services.settings.issuer

    info = server.client.get("/identity/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == id_token.claims["sub"]
    assert info.json()["personal_id"] == CITIZEN
    registered = server.client.post("/accounts", json={}, headers=bearer(tokens["access_token"]))
    assert registered.status_code == 201, registered.text
    assert registered.json()["personalId"] == CITIZEN


def test_code_flow_signs_an_officer_in(server: Server) -> None:
    """An officer's login hint gives a token with the officer's agency."""
    tokens = signed_in(server, OFFICER)
    info = server.client.get("/identity/userinfo", headers=bearer(tokens["access_token"]))
    assert info.json()["egov_account_type"] == "officer"
    assert info.json()["agency_code"] == "000.00.01.H22"


def test_loopback_redirect_uri_may_use_any_port(server: Server) -> None:
    """RFC 8252 Sec. 7.3: a loopback redirect URI is matched without its port."""
    response = authorize(server, redirect_uri="http://127.0.0.1:53124/callback")
    assert response.status_code == 302
    assert response.headers["location"].startswith("http://127.0.0.1:53124/callback?code=")


@pytest.mark.parametrize(
    ("overrides", "status", "pointer"),
    [
        ({"client_id": "no-such-client"}, 422, "#/query/client_id"),
        ({"client_id": SYSTEM}, 422, "#/query/client_id"),
        ({"client_id": None}, 400, "#/query/client_id"),
        ({"redirect_uri": "https://evil.example/callback"}, 422, "#/query/redirect_uri"),
        ({"redirect_uri": None}, 400, "#/query/redirect_uri"),
        # Well-formed (a valid province code, 001) but no fixture subject.
        ({"login_hint": "001203099999"}, 422, "#/query/login_hint"),
        ({"login_hint": "999999999999"}, 400, "#/query/login_hint"),
        ({"login_hint": None}, 400, "#/query/login_hint"),
        ({"login_hint": "Not A Hint!"}, 400, "#/query/login_hint"),
    ],
)
def test_authorize_refuses_unredirectable_requests_without_redirecting(
    server: Server, overrides: dict[str, str | None], status: int, pointer: str
) -> None:
    """Missing or malformed: 400; well-formed but unknown client, redirect URI or subject: 422.

    Never a redirect, since the redirect target itself is not trusted.
    """
    assert_problem(authorize(server, **overrides), status, pointer)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid email"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
    ],
)
def test_authorize_redirects_other_errors_to_the_client(
    server: Server, overrides: dict[str, str | None], error: str
) -> None:
    """Once client and redirect URI are verified, errors go back as RFC 6749 redirects."""
    answer = redirected(authorize(server, **overrides))
    assert answer["error"] == error
    assert answer["error_description"]
    assert answer["state"] == "af0ifjsldkj"
    assert "code" not in answer


def test_code_is_single_use_and_reuse_revokes_its_tokens(server: Server) -> None:
    """A code used twice is invalid_grant, and the refresh token of its first use dies."""
    code = code_for(server)
    first = redeem(server, code).json()
    assert_token_error(redeem(server, code), 400, "invalid_grant")
    refreshed = token(
        server,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        client_id=HARNESS_CLIENT_ID,
    )
    assert_token_error(refreshed, 400, "invalid_grant")


def test_code_expires_after_ten_minutes(server: Server) -> None:
    """The spec's code lifetime: 10 minutes."""
    code = code_for(server)
    server.clock.advance(timedelta(minutes=10, seconds=1))
    assert_token_error(redeem(server, code), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"redirect_uri": "http://localhost/callback"}, "invalid_grant"),
        ({"code": "never-issued"}, "invalid_grant"),
    ],
)
def test_token_refuses_a_code_that_does_not_match(
    server: Server, overrides: dict[str, str], error: str
) -> None:
    """Wrong PKCE verifier, another redirect URI or an unknown code: invalid_grant."""
    code = overrides.pop("code", None) or code_for(server)
    assert_token_error(redeem(server, code, **overrides), 400, error)


def test_token_needs_the_verifier_when_a_challenge_was_sent(server: Server) -> None:
    """A code bound to a challenge without code_verifier is invalid_request."""
    code = code_for(server)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": HARNESS_CLIENT_ID,
    }
    body = assert_token_error(token(server, **form), 400, "invalid_request")
    assert body["errors"][0]["pointer"] == "/code_verifier"
    assert redeem(server, code).status_code == 200


def test_token_refuses_a_public_client_that_sends_a_secret(server: Server) -> None:
    """A public client has no secret: sending one fails client authentication (401)."""
    response = redeem(server, code_for(server), client_secret="sandbox-only-guess-000000")
    assert_token_error(response, 401, "invalid_client")


def test_token_refuses_a_form_that_breaks_the_contract(server: Server) -> None:
    """A missing code is invalid_request; an unknown grant type unsupported_grant_type."""
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT, "client_id": "x"}
    body = assert_token_error(token(server, **form), 400, "invalid_request")
    assert body["errors"]
    assert_token_error(token(server, grant_type="password"), 400, "unsupported_grant_type")


def test_refresh_token_rotates_and_reuse_revokes_the_family(server: Server) -> None:
    """A refresh gives new tokens and a new refresh token; the old one used again kills both."""
    first = signed_in(server)
    form = {"grant_type": "refresh_token", "client_id": HARNESS_CLIENT_ID}
    second = token(server, refresh_token=first["refresh_token"], **form)
    assert second.status_code == 200, second.text
    renewed = second.json()
    assert renewed["refresh_token"] != first["refresh_token"]
    info = server.client.get("/identity/userinfo", headers=bearer(renewed["access_token"]))
    assert info.json()["personal_id"] == CITIZEN
    assert_token_error(
        token(server, refresh_token=first["refresh_token"], **form), 400, "invalid_grant"
    )
    assert_token_error(
        token(server, refresh_token=renewed["refresh_token"], **form), 400, "invalid_grant"
    )


def test_refresh_token_expires(server: Server) -> None:
    """A refresh token is revocable by expiry."""
    first = signed_in(server)
    server.clock.advance(timedelta(days=2))
    response = token(
        server,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        client_id=HARNESS_CLIENT_ID,
    )
    assert_token_error(response, 400, "invalid_grant")


# ---- client credentials ----------------------------------------------------------------------


def test_client_credentials_with_the_right_secret_give_a_system_token(server: Server) -> None:
    """A fixture system gets a system token, which a system operation accepts."""
    secret = server.services.fixtures.systems[SYSTEM]["clientSecret"]
    response = token(
        server, grant_type="client_credentials", client_id=SYSTEM, client_secret=secret
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "refresh_token" not in answer
    assert "id_token" not in answer
    claims = jwt.decode(answer["access_token"], identity_keys(server)).claims
    assert claims["egov_account_type"] == "system"
    assert claims["client_id"] == SYSTEM
    assert server.client.get("/events", headers=bearer(answer["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(SYSTEM, "sandbox-only-wrong-secret-0000"), ("no-such-system", "sandbox-only-0000000000")],
)
def test_client_credentials_with_a_bad_secret_are_invalid_client(
    server: Server, client_id: str, secret: str
) -> None:
    """A wrong secret or an unknown client is 401 invalid_client."""
    response = token(
        server, grant_type="client_credentials", client_id=client_id, client_secret=secret
    )
    assert_token_error(response, 401, "invalid_client")


def test_a_machine_client_may_not_redeem_codes(server: Server) -> None:
    """A fixture system is a client-credentials client: other grants are unauthorized_client."""
    secret = server.services.fixtures.systems[SYSTEM]["clientSecret"]
    response = redeem(server, "some-code", client_id=SYSTEM, client_secret=secret)
    assert_token_error(response, 400, "unauthorized_client")


# ---- bearer token verification ---------------------------------------------------------------


def flip_signature(value: str) -> str:
    header, payload, signature = value.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return ".".join((header, payload, signature[:middle] + flipped + signature[middle + 1 :]))


def foreign_token(claims: dict[str, Any]) -> str:
    key = ECKey.generate_key("P-256", parameters={"kid": "evil", "alg": "ES256"})
    return jwt.encode({"alg": "ES256", "kid": "evil"}, claims, key)


def test_protected_operations_refuse_bad_tokens(server: Server) -> None:
    """Tampered, expired, wrong-audience, untrusted-issuer and missing tokens are all 401."""
    services = server.services
    claims = subject_claims(services, CITIZEN)
    assert claims is not None
    good = access_token(services, claims)[0]
    now = int(services.clock.now().timestamp())
    other_audience = issue_jwt(
        services.keys,
        {
            **claims,
            "iss": services.settings.issuer,
            "aud": "another-portal",
            "iat": now,
            "exp": now + 600,
        },
    )
    untrusted = foreign_token(
        {
            **claims,
            "iss": "https://idp.evil.example",
            "aud": "egov-portal",
            "iat": now,
            "exp": now + 600,
        }
    )
    forged_own = foreign_token(
        {
            **claims,
            "iss": services.settings.issuer,
            "aud": "egov-portal",
            "iat": now,
            "exp": now + 600,
        }
    )
    for bad in (flip_signature(good), other_audience, untrusted, forged_own, "not-a-jwt"):
        response = server.client.get("/identity/userinfo", headers=bearer(bad))
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert_problem(server.client.get("/identity/userinfo"), 401)
    assert server.client.get("/identity/userinfo", headers=bearer(good)).status_code == 200
    server.clock.advance(timedelta(seconds=services.settings.token_lifetime_seconds + 1))
    assert_problem(server.client.get("/identity/userinfo", headers=bearer(good)), 401)


def test_id_token_is_not_an_access_token(server: Server) -> None:
    """The ID token's audience is the client, so a portal refuses it as a bearer token."""
    tokens = signed_in(server)
    assert_problem(server.client.get("/accounts/me", headers=bearer(tokens["id_token"])), 401)


def test_userinfo_refuses_a_system_token(server: Server) -> None:
    """A machine client has no user info: 403."""
    response = server.client.get("/identity/userinfo", headers=bearer(server.system_token(SYSTEM)))
    assert_problem(response, 403)


# ---- accounts --------------------------------------------------------------------------------

CONTACTS = {
    "email": "nguyen.van.an@example.com",
    "phone": "0912345678",
    "address": "Số 12 phố Hàng Bạc, phường Hoàn Kiếm, thành phố Hà Nội",
    "preferredChannels": ["portal", "sms"],
}


def register(server: Server, who: str = CITIZEN, body: dict[str, Any] | None = None) -> Any:
    return server.call("POST", "/accounts", who=who, json=CONTACTS if body is None else body)


def test_register_account_creates_then_returns_it_unchanged(server: Server) -> None:
    """201 with the contact details and Location, then 200 with the same account."""
    created = register(server)
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith("/accounts/me")
    account = created.json()
    assert account["name"] == "Nguyễn Văn An"
    assert account["phone"] == CONTACTS["phone"]
    assert account["preferredChannels"] == ["portal", "sms"]
    again = register(server, body={"email": "other@example.com"})
    assert again.status_code == 200
    assert again.json() == account


def test_register_account_for_an_organisation_defaults_to_the_portal(server: Server) -> None:
    """An organisation registers with nothing but its token; notifications go to the portal."""
    created = register(server, ORGANISATION, {})
    assert created.status_code == 201
    assert created.json()["taxCode"] == ORGANISATION
    assert created.json()["preferredChannels"] == ["portal"]


def test_register_account_refuses_identity_data_and_channels_without_contact(
    server: Server,
) -> None:
    """Identity data in the body is 400; sms without a phone is 400."""
    assert_problem(register(server, body={"personalId": CITIZEN}), 400)
    assert_problem(register(server, body={"preferredChannels": ["sms"]}), 400)
    assert server.call("GET", "/accounts/me", who=CITIZEN).status_code == 404


def test_register_account_is_for_applicants_only(server: Server) -> None:
    """Officers and systems may not register (403); no token is 401."""
    assert_problem(register(server, OFFICER, {}), 403)
    headers = bearer(server.system_token(SYSTEM))
    assert_problem(server.client.post("/accounts", json={}, headers=headers), 403)
    assert_problem(server.client.post("/accounts", json={}), 401)


def test_get_my_account_is_404_before_registration(server: Server) -> None:
    """An applicant without an account gets 404, then its own account once registered."""
    assert_problem(server.call("GET", "/accounts/me", who=CITIZEN), 404)
    register(server)
    mine = server.call("GET", "/accounts/me", who=CITIZEN).json()
    assert mine["personalId"] == CITIZEN
    assert_problem(server.call("GET", "/accounts/me", who=OTHER_CITIZEN), 404)


def test_get_my_account_provisions_an_officer_on_first_call(server: Server) -> None:
    """An officer's account exists from the first call, with the agency of the token."""
    first = server.call("GET", "/accounts/me", who=OFFICER)
    assert first.status_code == 200, first.text
    assert first.json()["type"] == "officer"
    assert first.json()["agencyCode"] == "000.00.01.H22"
    assert server.call("GET", "/accounts/me", who=OFFICER).json() == first.json()


def update_account(server: Server, body: dict[str, Any], who: str = CITIZEN) -> Any:
    return server.call("PATCH", "/accounts/me", who=who, json=body)


def test_update_my_account_replaces_and_removes_contacts(server: Server) -> None:
    """Members sent replace the stored ones; null removes one."""
    register(server)
    server.clock.advance(timedelta(hours=1))
    changed = update_account(server, {"phone": "+84987654321", "address": None})
    assert changed.status_code == 200, changed.text
    account = changed.json()
    assert account["phone"] == "+84987654321"
    assert "address" not in account
    assert account["updatedAt"] > account["createdAt"]
    assert server.call("GET", "/accounts/me", who=CITIZEN).json() == account


def test_update_my_account_refuses_a_channel_without_its_contact(server: Server) -> None:
    """Removing the phone while sms is preferred is 422 and changes nothing."""
    register(server)
    body = assert_problem(update_account(server, {"phone": None}), 422, "/phone")
    assert body["errors"][0]["rule"] == "channel-contact"
    both = update_account(server, {"email": None, "preferredChannels": ["email", "sms"]})
    problem = assert_problem(both, 422)
    assert len(problem["errors"]) == 1  # sms still has its phone; email has no address
    assert problem["errors"][0]["pointer"] == "/preferredChannels/0"
    assert server.call("GET", "/accounts/me", who=CITIZEN).json()["phone"] == CONTACTS["phone"]


def test_update_my_account_refuses_identity_data_and_strangers(server: Server) -> None:
    """Name in the body is 400; no account is 404; officers are 403."""
    register(server)
    assert_problem(update_account(server, {"name": "Someone Else"}), 400)
    assert_problem(update_account(server, {}), 400)
    assert_problem(update_account(server, {"phone": "0912345678"}, OTHER_CITIZEN), 404)
    assert_problem(update_account(server, {"phone": "0912345678"}, OFFICER), 403)


# ---- notifications ---------------------------------------------------------------------------


def send_notifications(server: Server, owner_key: str, count: int) -> None:
    with server.services.database.transaction() as conn:
        for number in range(count):
            notify(
                conn,
                server.services,
                owner_key,
                "dossier-status",
                f"Hồ sơ {number}",
                f"Thông báo số {number}.",
                {"dossierId": f"d-{number}", "dossierCode": "000.00.01.H22-250317-0001"},
            )
            server.clock.advance(timedelta(minutes=1))
        notify(
            conn,
            server.services,
            owner_key,
            "dossier-refused",
            "Từ chối",
            "Hồ sơ bị từ chối.",
            {"dossierId": "d-x", "dossierCode": "000.00.01.H22-250317-0002"},
            reason=REASON,
        )


def test_list_my_notifications_newest_first_with_pages_and_kinds(server: Server) -> None:
    """The inbox lists newest first, pages by cursor and filters by kind."""
    register(server)
    send_notifications(server, f"individual:{CITIZEN}", 3)
    everything = server.call("GET", "/accounts/me/notifications", who=CITIZEN).json()
    assert everything["items"][0]["kind"] == "dossier-refused"
    assert everything["items"][0]["reason"] == REASON
    times = [n["createdAt"] for n in everything["items"]]
    assert times == sorted(times, reverse=True)
    assert everything["nextCursor"] is None

    first = server.call("GET", "/accounts/me/notifications?limit=2", who=CITIZEN).json()
    assert len(first["items"]) == 2
    rest = server.call(
        "GET",
        "/accounts/me/notifications",
        who=CITIZEN,
        params={"limit": 2, "cursor": first["nextCursor"]},
    ).json()
    assert [n["id"] for n in first["items"] + rest["items"]] == [
        n["id"] for n in everything["items"]
    ]
    refused = server.call(
        "GET", "/accounts/me/notifications?kind=dossier-status", who=CITIZEN
    ).json()
    assert len(refused["items"]) == 3


def test_list_my_notifications_shows_only_the_callers(server: Server) -> None:
    """Another applicant's notifications never show; no account is 404; officers 403."""
    register(server)
    register(server, OTHER_CITIZEN, {})
    send_notifications(server, f"individual:{CITIZEN}", 1)
    other = server.call("GET", "/accounts/me/notifications", who=OTHER_CITIZEN).json()
    assert other["items"] == []
    assert_problem(server.call("GET", "/accounts/me/notifications", who=ORGANISATION), 404)
    assert_problem(server.call("GET", "/accounts/me/notifications", who=OFFICER), 403)
    bad = server.call("GET", "/accounts/me/notifications?cursor=garbage", who=CITIZEN)
    assert_problem(bad, 404, "#/query/cursor")


def test_a_dossier_refusal_reaches_the_inbox_with_its_reason(server: Server) -> None:
    """A status change saved by the dossier store is listed, the refusal with its reason."""
    register(server)
    services = server.services
    now = services.clock.now().isoformat()
    document: dict[str, Any] = {
        "id": "dossier-1",
        "code": "000.00.01.H22-250317-0001",
        "status": "submitted",
        "procedureCode": "1.001193",
        "agencyCode": "000.00.01.H22",
        "applicant": {
            "accountId": "acc-1",
            "type": "individual",
            "name": "Nguyễn Văn An",
            "personalId": CITIZEN,
        },
        "submittedAt": now,
        "officialReceiptTime": now,
        "version": 1,
    }
    with services.database.transaction() as conn:
        insert_new(conn, f"individual:{CITIZEN}", document)
        document["status"] = "refused"
        save(
            conn,
            services,
            document,
            action="refuseDossier",
            actor={"role": "officer"},
            from_status="submitted",
            reason=REASON,
        )
    listed = server.call("GET", "/accounts/me/notifications", who=CITIZEN)
    assert listed.status_code == 200, listed.text
    [notice] = listed.json()["items"]
    assert notice["kind"] == "dossier-refused"
    assert notice["reason"] == REASON
    assert notice["refs"]["dossierCode"] == document["code"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/accounts/me", None),
        ("PATCH", "/accounts/me", {"phone": "0912345678"}),
        ("GET", "/accounts/me/notifications", None),
    ],
)
def test_account_operations_need_an_applicant_token(
    server: Server, method: str, path: str, body: Any
) -> None:
    """No token is 401; a system token is 403."""
    assert_problem(server.client.request(method, path, json=body), 401)
    headers = bearer(server.system_token(SYSTEM))
    assert_problem(server.client.request(method, path, json=body, headers=headers), 403)
