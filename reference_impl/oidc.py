"""The sandbox e-identity provider's OAuth 2.0 / OpenID Connect machinery.

Clients, one-time authorization codes (RFC 6749 Sec. 4.1, PKCE per RFC 7636), refresh tokens
kept server-side and rotated on use, and token errors that are both RFC 9457 problems and
RFC 6749 Sec. 5.2 error responses (the decision written in ``specs/identity.yaml``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, insert, select, update

from .ids import new_id
from .problems import FieldError, Problem
from .signing import issue_jwt
from .tables import auth_codes, refresh_tokens
from .tokens import access_token

if TYPE_CHECKING:
    from .services import Services

SCOPES = frozenset({"openid", "profile"})
CODE_LIFETIME_SECONDS = 600  # specs/identity.yaml: a code expires after 10 minutes
REFRESH_LIFETIME_SECONDS = 24 * 3600
HARNESS_CLIENT_ID = "conformance-harness"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SIGN_IN_GRANTS = frozenset({"authorization_code", "refresh_token"})


@dataclass(frozen=True)
class Client:
    """An OAuth client of the sandbox: its secret (``None`` for a public client), redirect
    URIs and the grants it may use."""

    client_id: str
    secret: str | None
    redirect_uris: tuple[str, ...]
    grants: frozenset[str]

    @property
    def public(self) -> bool:
        """True for a client without a secret, which must use PKCE."""
        return self.secret is None

    def accepts_redirect(self, uri: str) -> bool:
        """True when ``uri`` is one of the client's redirect URIs.

        Exact match, except that a loopback redirect URI may use any port (RFC 8252 Sec. 7.3):
        a harness on the same machine listens wherever it can.
        """
        if uri in self.redirect_uris:
            return True
        wanted = _without_loopback_port(uri)
        return wanted is not None and any(
            _without_loopback_port(registered) == wanted for registered in self.redirect_uris
        )


# The relying parties of the sandbox that sign people in. The fixture systems are machine
# clients (client credentials only): schemas/subject.json gives them no redirect URIs.
SANDBOX_CLIENTS = {
    HARNESS_CLIENT_ID: Client(
        client_id=HARNESS_CLIENT_ID,
        secret=None,
        redirect_uris=("http://127.0.0.1/callback", "http://localhost/callback"),
        grants=_SIGN_IN_GRANTS,
    ),
}


def _without_loopback_port(uri: str) -> tuple[str, str, str, str] | None:
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme != "http" or host not in _LOOPBACK_HOSTS:
        return None
    return (parts.scheme, host, parts.path, parts.query)


def find_client(services: Services, client_id: str) -> Client | None:
    """The sandbox relying party or fixture system named ``client_id``, if any."""
    if client_id in SANDBOX_CLIENTS:
        return SANDBOX_CLIENTS[client_id]
    system = services.fixtures.systems.get(client_id)
    if system is None:
        return None
    return Client(client_id, system["clientSecret"], (), frozenset({"client_credentials"}))


def token_error(error: str, description: str, errors: list[FieldError] | None = None) -> Problem:
    """A token-endpoint error: problem+json with the RFC 6749 ``error`` members.

    ``invalid_client`` is 401, every other error 400. ``description`` must be ASCII without
    ``"`` or backslash (RFC 6749 Sec. 5.2).
    """
    return Problem(
        401 if error == "invalid_client" else 400,
        description,
        "oauth-" + error.replace("_", "-"),
        errors or [],
        extra={"error": error, "error_description": description},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def request_error(errors: list[FieldError]) -> Problem:
    """The token error for a body that does not match ``tokenRequest``."""
    if any(e.pointer == "/grant_type" and e.rule == "enum" for e in errors):
        return token_error(
            "unsupported_grant_type",
            "grant_type must be authorization_code, client_credentials or refresh_token.",
            errors,
        )
    fields = sorted({e.pointer for e in errors})
    return token_error(
        "invalid_request",
        f"The token request does not match the contract at {', '.join(fields)}.",
        errors,
    )


def authenticate_client(services: Services, body: dict[str, Any]) -> Client:
    """The client of a token request, authenticated by ``client_secret_post`` (or none for a
    public client); ``invalid_client`` otherwise."""
    client = find_client(services, body["client_id"])
    sent = body.get("client_secret")
    if client is None:
        raise token_error("invalid_client", "Unknown client or wrong client secret.")
    if client.secret is None:
        if sent is not None:
            raise token_error("invalid_client", "A public client authenticates without a secret.")
    elif sent is None or not hmac.compare_digest(sent.encode(), client.secret.encode()):
        raise token_error("invalid_client", "Unknown client or wrong client secret.")
    if body["grant_type"] not in client.grants:
        raise token_error(
            "unauthorized_client", f"This client may not use grant_type {body['grant_type']}."
        )
    return client


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _now(services: Services) -> int:
    return int(services.clock.now().timestamp())


def issue_code(
    connection: Connection,
    services: Services,
    client: Client,
    redirect_uri: str,
    claims: dict[str, Any],
    query: dict[str, Any],
) -> str:
    """Store a one-time authorization code bound to the client, redirect URI and PKCE
    challenge; only its hash is kept."""
    code = secrets.token_urlsafe(32)
    now = _now(services)
    document: dict[str, Any] = {
        "clientId": client.client_id,
        "redirectUri": redirect_uri,
        "claims": claims,
        "scope": query["scope"],
        "authTime": now,
    }
    for name, key in (("nonce", "nonce"), ("code_challenge", "codeChallenge")):
        if name in query:
            document[key] = query[name]
    # Expired codes are useless, even to detect a replay: drop them as new ones come.
    connection.execute(delete(auth_codes).where(auth_codes.c.expires_at <= now))
    connection.execute(
        insert(auth_codes).values(
            code=_digest(code), doc=document, expires_at=now + CODE_LIFETIME_SECONDS
        )
    )
    return code


def redeem_code(
    connection: Connection, services: Services, client: Client, body: dict[str, Any]
) -> dict[str, Any] | Problem:
    """The tokens for an authorization code, or the problem to answer.

    A code used twice is answered ``invalid_grant`` and the tokens of its first use are
    revoked (RFC 6749 Sec. 4.1.2); that revocation must be committed, so the problem is
    returned rather than raised.
    """
    key = _digest(body["code"])
    # Locked, so that two redemptions racing on PostgreSQL cannot both see it unused.
    row = connection.execute(
        select(auth_codes).where(auth_codes.c.code == key).with_for_update()
    ).first()
    gone = token_error(
        "invalid_grant", "The authorization code is unknown, already used or expired."
    )
    if row is None or row.expires_at <= _now(services):
        raise gone
    grant = dict(row.doc)
    if grant.get("usedAt") is not None:
        revoke_family(connection, key)
        return gone
    if grant["clientId"] != client.client_id:
        raise token_error("invalid_grant", "The code was issued to another client.")
    if grant["redirectUri"] != body["redirect_uri"]:
        raise token_error("invalid_grant", "redirect_uri differs from the one sent to authorize.")
    _check_pkce(grant.get("codeChallenge"), body.get("code_verifier"))
    grant["usedAt"] = _now(services)
    connection.execute(update(auth_codes).where(auth_codes.c.code == key).values(doc=grant))
    return sign_in_tokens(
        connection, services, client.client_id, grant, family=key, nonce=grant.get("nonce")
    )


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:  # RFC 9700 Sec. 2.1.1: no verifier without a challenge
            raise token_error("invalid_grant", "code_verifier sent but authorize had no challenge.")
        return
    if verifier is None:
        raise token_error(
            "invalid_request",
            "code_verifier is required: authorize carried a code_challenge.",
            [FieldError("/code_verifier", "The PKCE code verifier is required.", "required")],
        )
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    if not hmac.compare_digest(computed.rstrip(b"="), challenge.encode()):
        raise token_error("invalid_grant", "code_verifier does not match the code_challenge.")


def refresh(
    connection: Connection, services: Services, client: Client, body: dict[str, Any]
) -> dict[str, Any] | Problem:
    """New tokens for a refresh token, which is rotated; a rotated token used again revokes
    its whole family (RFC 9700 Sec. 4.14.2)."""
    key = _digest(body["refresh_token"])
    row = connection.execute(
        select(refresh_tokens).where(refresh_tokens.c.token_hash == key).with_for_update()
    ).first()
    invalid = token_error("invalid_grant", "The refresh token is unknown, revoked or expired.")
    if row is None or row.client_id != client.client_id:
        raise invalid
    if row.revoked:
        revoke_family(connection, row.family)
        return invalid
    if row.expires_at <= _now(services):
        raise invalid
    grant = dict(row.doc)
    if "scope" in body:
        asked = set(body["scope"].split())
        if not asked <= set(grant["scope"].split()):
            raise token_error("invalid_scope", "A refresh may only narrow the granted scope.")
        grant["scope"] = " ".join(sorted(asked))
    connection.execute(
        update(refresh_tokens).where(refresh_tokens.c.token_hash == key).values(revoked=1)
    )
    return sign_in_tokens(connection, services, client.client_id, grant, family=row.family)


def revoke_family(connection: Connection, family: str) -> None:
    """Revoke every refresh token descended from one sign-in."""
    connection.execute(
        update(refresh_tokens).where(refresh_tokens.c.family == family).values(revoked=1)
    )


def sign_in_tokens(
    connection: Connection,
    services: Services,
    client_id: str,
    grant: dict[str, Any],
    *,
    family: str,
    nonce: str | None = None,
) -> dict[str, Any]:
    """An access token, an ID token and a fresh refresh token for a signed-in subject."""
    claims = grant["claims"]
    scope = grant["scope"]
    token, lifetime = access_token(
        services, {**claims, "client_id": client_id, "scope": scope, "jti": new_id()}
    )
    now = _now(services)
    identity = {
        **claims,
        "iss": services.settings.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + lifetime,
        "auth_time": grant["authTime"],
    }
    if nonce is not None:
        identity["nonce"] = nonce
    refresh_token = secrets.token_urlsafe(32)
    connection.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at <= now))
    connection.execute(
        insert(refresh_tokens).values(
            token_hash=_digest(refresh_token),
            family=family,
            client_id=client_id,
            doc={"claims": claims, "scope": scope, "authTime": grant["authTime"]},
            expires_at=now + REFRESH_LIFETIME_SECONDS,
            revoked=0,
        )
    )
    answer = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "refresh_token": refresh_token,
        "scope": scope,
    }
    if "openid" in scope.split():
        answer["id_token"] = issue_jwt(services.keys, identity)
    return answer
