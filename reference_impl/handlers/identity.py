"""Identity: the sandbox e-identity provider (OpenID Connect) and the portal accounts.

Decree 45/2020/ND-CP steps 1 and 2 (account registration, sign-in), Decree 137/2024/ND-CP
Art. 7(3) (national e-identity accounts), Decision 31/2021/QD-TTg Art. 11 (single sign-on).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import Connection, update

from .. import oidc
from ..accounts import ensure_account, find_account
from ..auth import Principal
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..pagination import page_of_rows_newest_first
from ..problems import FieldError, Problem, bad_request, unprocessable
from ..tables import accounts, notifications
from ..tokens import access_token, subject_claims, system_claims

router = Router()

_CLAIMS = (
    "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "egov_account_type",
    "personal_id", "tax_code", "name", "agency_code", "client_id",
)  # fmt: skip
# Parameters whose fault cannot be redirected (RFC 6749 Sec. 4.1.2.1): answered 400 at once.
_UNREDIRECTABLE = ("client_id", "redirect_uri", "login_hint")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CHANNEL_CONTACTS = {"email": "email", "sms": "phone"}


@router.operation("getOpenIdConfiguration")
def get_openid_configuration(ctx: Context) -> Reply:
    issuer = ctx.services.settings.issuer
    return Reply(
        body={
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/identity/authorize",
            "token_endpoint": f"{issuer}/identity/token",
            "userinfo_endpoint": f"{issuer}/identity/userinfo",
            "jwks_uri": f"{issuer}/identity/jwks",
            "scopes_supported": sorted(oidc.SCOPES),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "subject_types_supported": ["public"],
            # Only the algorithm this provider actually signs with.
            "id_token_signing_alg_values_supported": [ctx.services.keys.algorithm("identity")],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            "acr_values_supported": ["vneid-level1", "vneid-level2"],
            "claims_supported": list(_CLAIMS),
            "code_challenge_methods_supported": ["S256"],
        }
    )


@router.operation("getIdentityJwks")
def get_identity_jwks(ctx: Context) -> Reply:
    # The fault publishes a key that signs something else, as after a botched key rotation.
    purpose = "agency" if ctx.fault("identity-jwks-stale-key") else "identity"
    return Reply(body=ctx.services.keys.public_jwks(purpose))


# ---- authorization endpoint ------------------------------------------------------------------


@router.operation("authorize", own_contract_errors=True)
def authorize(ctx: Context) -> Reply:
    client, claims = _signed_in_subject(ctx)
    redirect_uri = ctx.query["redirect_uri"]
    answer: dict[str, str]
    refusal = _redirected_error(ctx, client)
    if refusal is not None:
        answer = {"error": refusal[0], "error_description": refusal[1]}
    else:
        with ctx.transaction() as conn:
            code = oidc.issue_code(conn, ctx.services, client, redirect_uri, claims, ctx.query)
        answer = {"code": code}
    if "state" in ctx.query:
        answer["state"] = ctx.query["state"]
    separator = "&" if "?" in redirect_uri else "?"
    location = redirect_uri + separator + urlencode(answer, quote_via=quote)
    return Reply(302, headers={"Location": location, **_NO_STORE})


_DOMAIN_RULES = frozenset({"client", "redirect-uri", "login-hint"})


def _signed_in_subject(ctx: Context) -> tuple[oidc.Client, dict[str, Any]]:
    """The client and the subject of an authorization request, or the 400 listing every
    fault that must not be redirected."""
    faults = [
        e for e in ctx.contract_errors if e.pointer.removeprefix("#/query/") in _UNREDIRECTABLE
    ]
    client = None
    if "client_id" in ctx.query:
        client = oidc.find_client(ctx.services, ctx.query["client_id"])
        if client is None or not client.redirect_uris:
            faults.append(
                FieldError(
                    "#/query/client_id", "No client that signs people in has this id.", "client"
                )
            )
    redirect_uri = ctx.query.get("redirect_uri")
    if client is not None and redirect_uri and not client.accepts_redirect(redirect_uri):
        faults.append(
            FieldError(
                "#/query/redirect_uri",
                "This redirect URI is not registered for the client.",
                "redirect-uri",
            )
        )
    claims = None
    if "login_hint" in ctx.query:
        claims = subject_claims(ctx.services, ctx.query["login_hint"])
        if claims is None:
            faults.append(
                FieldError(
                    "#/query/login_hint",
                    "No fixture subject has this personal ID number, tax code or username.",
                    "login-hint",
                )
            )
    if faults or client is None or claims is None:
        detail = "The authorization request cannot be redirected back."
        if any(fault.rule not in _DOMAIN_RULES for fault in faults):
            raise bad_request(detail, faults)
        # Well-formed, but naming a client, redirect URI or person the sandbox does not know:
        # a domain refusal (docs/contract-conventions.md: 400 breaks the contract, 422 a check).
        raise unprocessable(detail, faults)
    return client, claims


def _redirected_error(ctx: Context, client: oidc.Client) -> tuple[str, str] | None:
    """The RFC 6749 error to send back to the client, if the request is refused."""
    for error in ctx.contract_errors:
        name = error.pointer.removeprefix("#/query/")
        missing = error.rule == "required"
        if name == "response_type" and not missing:
            return "unsupported_response_type", "Only response_type code is supported."
        if name == "scope" and not missing:
            return "invalid_scope", "scope must contain openid."
        return "invalid_request", f"{name} is missing or malformed."
    unknown = set(ctx.query["scope"].split()) - oidc.SCOPES
    if unknown:
        return "invalid_scope", f"Unsupported scope: {' '.join(sorted(unknown))}."
    has_challenge = "code_challenge" in ctx.query
    if has_challenge != ("code_challenge_method" in ctx.query):
        return "invalid_request", "code_challenge and code_challenge_method S256 go together."
    if client.public and not has_challenge:
        return "invalid_request", "A public client must use PKCE (code_challenge)."
    return None


# ---- token endpoint --------------------------------------------------------------------------


@router.operation("createToken", own_contract_errors=True)
def create_token(ctx: Context) -> Reply:
    if ctx.contract_errors:
        raise oidc.request_error(ctx.contract_errors)
    body = ctx.body
    client = oidc.authenticate_client(ctx.services, body)
    with ctx.transaction() as conn:
        answer = _grant(conn, ctx, client, body)
    if isinstance(answer, Problem):  # raised after the commit: it revoked tokens
        raise answer
    return Reply(body=answer, headers=dict(_NO_STORE))


def _grant(
    conn: Connection, ctx: Context, client: oidc.Client, body: dict[str, Any]
) -> dict[str, Any] | Problem:
    grant_type = body["grant_type"]
    if grant_type == "authorization_code":
        return oidc.redeem_code(conn, ctx.services, client, body)
    if grant_type == "refresh_token":
        return oidc.refresh(conn, ctx.services, client, body)
    token, lifetime = access_token(ctx.services, system_claims(client.client_id))
    return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}


@router.operation("getUserInfo")
def get_user_info(ctx: Context) -> Reply:
    caller = ctx.caller
    info: dict[str, Any] = {
        "sub": caller.subject,
        "egov_account_type": caller.account_type,
        "name": caller.name or caller.subject,
        # A token without acr proves no more than the lowest level.
        "acr": caller.acr or "vneid-level1",
    }
    for claim, value in (
        ("personal_id", caller.personal_id),
        ("tax_code", caller.tax_code),
        ("agency_code", caller.agency_code),
    ):
        if value:
            info[claim] = value
    return Reply(body=info)


# ---- portal accounts -------------------------------------------------------------------------


@router.operation("registerAccount")
def register_account(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        account, created = ensure_account(conn, ctx.services, ctx.caller)
        if not created:
            return Reply(200, account)
        account.update(ctx.body)
        account.setdefault("preferredChannels", ["portal"])
        _store(conn, ctx.caller, account)
    return Reply(201, account, headers={"Location": f"{ctx.base_url}/accounts/me"})


@router.operation("getMyAccount")
def get_my_account(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        if ctx.caller.role == "officer":
            # Officers' accounts are provisioned by their agency: here, on first use.
            account, _ = ensure_account(conn, ctx.services, ctx.caller)
        else:
            account = _registered(conn, ctx.caller)
    return Reply(body=account)


@router.operation("updateMyAccount")
def update_my_account(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        account = _registered(conn, ctx.caller)
        for name, value in ctx.body.items():
            if value is None:
                account.pop(name, None)
            else:
                account[name] = value
        _check_channels(account, ctx.body)
        account["updatedAt"] = rfc3339(ctx.services.clock.now())
        _store(conn, ctx.caller, account)
    return Reply(body=account)


def _check_channels(account: dict[str, Any], body: dict[str, Any]) -> None:
    """422 when a preferred channel has no contact to reach the account through."""
    errors = []
    for index, channel in enumerate(account["preferredChannels"]):
        contact = _CHANNEL_CONTACTS.get(channel)
        if contact is None or contact in account:
            continue
        # Point at what the request changed: the channel list, or the contact it removed.
        pointer = f"/preferredChannels/{index}" if "preferredChannels" in body else f"/{contact}"
        errors.append(
            FieldError(
                pointer, f"Channel {channel} needs the account's {contact}.", "channel-contact"
            )
        )
    if errors:
        raise unprocessable("A preferred channel would have no contact; nothing changed.", errors)


@router.operation("listMyNotifications")
def list_my_notifications(ctx: Context) -> Reply:
    owner = ctx.caller.owner_key
    conditions = [notifications.c.owner_key == owner]
    if kind := ctx.query.get("kind"):
        conditions.append(notifications.c.kind == kind)
    with ctx.transaction() as conn:
        _registered(conn, ctx.caller)
        rows, cursor = page_of_rows_newest_first(conn, notifications, conditions, ctx.query)
    return Reply(body={"items": [row.doc for row in rows], "nextCursor": cursor})


def _registered(conn: Connection, caller: Principal) -> dict[str, Any]:
    account = find_account(conn, caller)
    if account is None:
        raise Problem(404, "You have no account yet; register it with POST /accounts.", "not-found")
    return account


def _store(conn: Connection, caller: Principal, account: dict[str, Any]) -> None:
    conn.execute(
        update(accounts).where(accounts.c.owner_key == caller.owner_key).values(doc=account)
    )
