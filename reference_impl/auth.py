"""Bearer tokens: who is calling, verified against the trusted identity providers' keys."""

from __future__ import annotations

import json
import time
from base64 import urlsafe_b64decode
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .clock import Clock
from .keys import KeyRing
from .problems import unauthorized

AUDIENCE = "egov-portal"
ACCOUNT_TYPES = frozenset({"individual", "organisation", "officer", "system"})
_ROLE_OF = {"individual": "applicant", "organisation": "applicant", "officer": "officer"}
_CACHE_LIMIT = 50_000
_JWKS_TTL_SECONDS = 300.0
CLOCK_SKEW_SECONDS = 60
"""How far a token's iat or nbf may be ahead of the server's clock (identity.json tokenClaims)."""
_REFETCH_SECONDS = 1.0
"""An unknown ``kid`` fetches an issuer's keys again, at most this often (key rotation)."""


@dataclass(frozen=True)
class Principal:
    """The verified caller."""

    issuer: str
    subject: str
    account_type: str
    name: str | None
    personal_id: str | None
    tax_code: str | None
    agency_code: str | None
    client_id: str | None
    acr: str | None
    expires_at: int

    @property
    def role(self) -> str:
        """``applicant``, ``officer`` or ``system``: the contract's role of this caller."""
        return _ROLE_OF.get(self.account_type, "system")

    @property
    def owner_key(self) -> str:
        """Who owns what this caller creates.

        Applicants are keyed by their national identifier, so the same person signed in
        through two trusted providers owns the same dossiers.
        """
        if self.account_type == "individual" and self.personal_id:
            return f"individual:{self.personal_id}"
        if self.account_type == "organisation" and self.tax_code:
            return f"organisation:{self.tax_code}"
        return f"{self.account_type}:{self.issuer}|{self.subject}"


class TokenVerifier:
    """Verifies bearer tokens from the sandbox provider and any configured external ones."""

    def __init__(
        self,
        own_issuer: str,
        keys: KeyRing,
        clock: Clock,
        external: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._own_issuer = own_issuer
        self._keys = keys
        self._clock = clock
        self._external = dict(external)
        self._external_sets: dict[str, tuple[float, KeySet]] = {}
        self._cache: dict[str, Principal] = {}

    def verify(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header value, or a 401 problem."""
        if not authorization:
            raise unauthorized("This operation needs a bearer token (Authorization: Bearer …).")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("The Authorization header must be 'Bearer <token>'.")
        token = token.strip()
        now = int(self._clock.now().timestamp())
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at <= now:
                raise unauthorized("The token has expired; obtain a new one.")
            return cached
        principal = self._decode(token, now)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = principal
        return principal

    def _decode(self, token: str, now: int) -> Principal:
        issuer = _unverified_issuer(token)
        key_set = self._key_set_for(issuer, _unverified_kid(token))
        try:
            decoded = jwt.decode(token, key_set, algorithms=["RS256", "ES256"])
        except (JoseError, ValueError) as exc:
            raise unauthorized(f"The token's signature does not verify: {exc}.") from None
        return _principal(decoded.claims, issuer, now)

    def _key_set_for(self, issuer: str, kid: str | None = None) -> KeySet:
        if issuer == self._own_issuer:
            return self._keys.key_set("identity")
        jwks_url = self._external.get(issuer)
        if jwks_url is None:
            raise unauthorized(f"Tokens from issuer {issuer!r} are not trusted here.")
        fetched = self._external_sets.get(issuer)
        age = time.monotonic() - fetched[0] if fetched is not None else 0.0
        rotated = fetched is not None and kid is not None and not _holds(fetched[1], kid)
        if fetched is None or age > _JWKS_TTL_SECONDS or (rotated and age > _REFETCH_SECONDS):
            try:
                response = httpx.get(jwks_url, timeout=5.0)
                response.raise_for_status()
                fetched = (time.monotonic(), KeySet.import_key_set(response.json()))
            except (httpx.HTTPError, ValueError, JoseError) as exc:
                raise unauthorized(
                    f"The keys of issuer {issuer!r} could not be fetched from {jwks_url}: {exc}."
                ) from None
            self._external_sets[issuer] = fetched
        return fetched[1]


def _holds(key_set: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in key_set.keys)


def _unverified_kid(token: str) -> str | None:
    head = token.split(".")[0]
    try:
        header = json.loads(urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _unverified_issuer(token: str) -> str:
    parts = token.split(".")
    if len(parts) != 3:
        raise unauthorized("The token is not a JWS compact serialisation (three parts).")
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError):
        raise unauthorized("The token's payload is not base64url JSON.") from None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(issuer, str):
        raise unauthorized("The token names no issuer (iss).")
    return issuer


def _principal(claims: dict[str, Any], issuer: str, now: int) -> Principal:
    expires = claims.get("exp")
    if not isinstance(expires, int) or expires <= now:
        raise unauthorized("The token has expired or has no exp claim; obtain a new one.")
    not_before = claims.get("nbf")
    if isinstance(not_before, int) and not_before > now + CLOCK_SKEW_SECONDS:
        raise unauthorized("The token is not valid yet (nbf).")
    issued = claims.get("iat")
    if not isinstance(issued, int) or issued > now + CLOCK_SKEW_SECONDS:
        raise unauthorized(
            "The token has no iat claim, or says it was issued in the future (more than "
            f"{CLOCK_SKEW_SECONDS} s ahead of this server's clock)."
        )
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if AUDIENCE not in audiences:
        raise unauthorized(f"The token's audience {audience!r} is not {AUDIENCE!r}.")
    account_type = claims.get("egov_account_type")
    if account_type not in ACCOUNT_TYPES:
        raise unauthorized(f"The token's egov_account_type {account_type!r} is not known.")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise unauthorized("The token names no subject (sub).")
    return Principal(
        issuer=issuer,
        subject=subject,
        account_type=account_type,
        name=claims.get("name"),
        personal_id=claims.get("personal_id"),
        tax_code=claims.get("tax_code"),
        agency_code=claims.get("agency_code"),
        client_id=claims.get("client_id"),
        acr=claims.get("acr"),
        expires_at=expires,
    )
