"""Obtaining bearer tokens for the test identities of a target configuration.

Five kinds (schemas/target-config.json): the OIDC authorization-code flow with PKCE against a
provider that signs in the subject named by ``login_hint`` without a page (the sandbox), OAuth
2.0 client credentials, a static token, a command that prints one, and a token the kit's own
identity provider mints (``kit-issuer``, `conformance.simulators.identity`). Tokens are cached
and fetched again shortly before they expire, so a long run never fails on an expired token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from .config import Identity, TargetConfig
from .outcomes import HarnessError

REFRESH_MARGIN_SECONDS = 60
"""A token this close to its expiry is fetched anew."""

DEFAULT_LIFETIME_SECONDS = 300
"""Assumed lifetime of a token that states none (static tokens are never refreshed)."""

KIT_LIFETIME_SECONDS = 3600
"""Lifetime of the tokens the kit's identity provider mints for a ``kit-issuer`` identity."""

_KIT_CLAIMS = {
    "personalId": "personal_id",
    "taxCode": "tax_code",
    "agencyCode": "agency_code",
    "clientId": "client_id",
    "name": "name",
}
"""Settings of a ``kit-issuer`` identity and the token claim each becomes."""
_IDENTIFIER = {"individual": "personalId", "organisation": "taxCode", "officer": "agencyCode"}


class Issuer(Protocol):
    """What signs the tokens of ``kit-issuer`` identities (`simulators.IdentityProvider`)."""

    def mint(self, claims: Mapping[str, Any], *, lifetime: int = ...) -> str:
        """A signed access token for ``claims`` that lives ``lifetime`` seconds."""
        ...


class TokenSource:
    """A cached token for one identity; `token()` fetches a fresh one when it is about to expire."""

    def __init__(self, name: str, fetch: Callable[[], tuple[str, float | None]]) -> None:
        self.name = name
        self._fetch = fetch
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        """A bearer token valid for at least `REFRESH_MARGIN_SECONDS` more (when it says so)."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                token, lifetime = self._fetch()
                self._token = token
                if lifetime is None:
                    self._expires_at = float("inf")
                else:
                    self._expires_at = time.monotonic() + max(
                        0.0, lifetime - REFRESH_MARGIN_SECONDS
                    )
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after the target answered 401 to it)."""
        with self._lock:
            self._token = None


def token_source(
    identity: Identity, config: TargetConfig, issuer: Callable[[], Issuer] | None = None
) -> TokenSource:
    """The `TokenSource` for ``identity`` of ``config``.

    ``issuer`` gives the kit's running identity provider, for ``kit-issuer`` identities;
    without it their tokens cannot be had (a `HarnessError` when one is asked for).
    """
    settings = identity.settings
    timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
    if identity.kind == "static-token":
        token = str(settings["token"])
        return TokenSource(identity.name, lambda: (token, None))
    if identity.kind == "token-command":
        return TokenSource(
            identity.name, lambda: (_run_command(identity), DEFAULT_LIFETIME_SECONDS)
        )
    if identity.kind == "client-credentials":
        return TokenSource(identity.name, lambda: _client_credentials(identity, config, timeout))
    if identity.kind == "oidc-sandbox":
        return TokenSource(identity.name, lambda: _code_flow(identity, config, timeout))
    if identity.kind == "kit-issuer":
        return TokenSource(identity.name, lambda: _kit_token(identity, issuer))
    raise HarnessError(f"identity {identity.name!r}: unknown kind {identity.kind!r}")


def kit_claims(identity: Identity) -> dict[str, Any]:
    """The identity claims (``tokenClaims``) of a ``kit-issuer`` identity, without iss/aud/times."""
    settings = identity.settings
    account_type = str(settings["accountType"])
    claims: dict[str, Any] = {"egov_account_type": account_type}
    for setting, claim in _KIT_CLAIMS.items():
        if setting in settings:
            claims[claim] = settings[setting]
    if account_type != "system":
        claims["acr"] = settings.get("acr", "vneid-level2")
    identifier = str(settings.get(_IDENTIFIER.get(account_type, "clientId"), identity.name))
    digest = hashlib.sha256(f"{account_type}|{identifier}".encode()).hexdigest()[:16]
    claims["sub"] = settings.get("subject") or f"kit-{account_type}-{digest}"
    return claims


def _kit_token(identity: Identity, issuer: Callable[[], Issuer] | None) -> tuple[str, float]:
    if issuer is None:
        raise HarnessError(
            f"identity {identity.name!r} is kind kit-issuer: its tokens need the kit's identity "
            "provider running, which this command does not start; use another kind here"
        )
    token = issuer().mint(kit_claims(identity), lifetime=KIT_LIFETIME_SECONDS)
    return token, float(KIT_LIFETIME_SECONDS)


def _discovery(config: TargetConfig, timeout: httpx.Timeout) -> dict[str, str]:
    url = f"{config.base_url('identity')}/.well-known/openid-configuration"
    answer = _send("GET", url, timeout, what="the OpenID Connect discovery document")
    document = answer.json()
    if not isinstance(document, dict):
        raise HarnessError(f"{url} did not answer a JSON object")
    return {str(k): str(v) for k, v in document.items() if isinstance(v, str)}


def _client_credentials(
    identity: Identity, config: TargetConfig, timeout: httpx.Timeout
) -> tuple[str, float | None]:
    settings = identity.settings
    token_url = settings.get("tokenUrl") or _discovery(config, timeout)["token_endpoint"]
    form = {
        "grant_type": "client_credentials",
        "client_id": settings["clientId"],
        "client_secret": settings["clientSecret"],
    }
    return _token_answer(identity, _send("POST", token_url, timeout, data=form, what="a token"))


def _code_flow(
    identity: Identity, config: TargetConfig, timeout: httpx.Timeout
) -> tuple[str, float | None]:
    settings = identity.settings
    endpoints = _discovery(config, timeout)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": settings["clientId"],
        "redirect_uri": settings["redirectUri"],
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        "login_hint": settings["loginHint"],
        "acr_values": settings.get("acr", "vneid-level2"),
    }
    answer = _send(
        "GET", endpoints["authorization_endpoint"], timeout, params=query, what="a sign-in"
    )
    location = answer.headers.get("location", "")
    codes = parse_qs(urlsplit(location).query).get("code")
    if answer.status_code not in (302, 303) or not codes:
        raise HarnessError(
            f"identity {identity.name!r}: signing in {settings['loginHint']!r} did not redirect "
            f"with a code (HTTP {answer.status_code}); check loginHint, clientId and redirectUri"
        )
    form = {
        "grant_type": "authorization_code",
        "code": codes[0],
        "redirect_uri": settings["redirectUri"],
        "client_id": settings["clientId"],
        "code_verifier": verifier,
    }
    if settings.get("clientSecret"):
        form["client_secret"] = settings["clientSecret"]
    token = _send("POST", endpoints["token_endpoint"], timeout, data=form, what="a token")
    return _token_answer(identity, token)


def _token_answer(identity: Identity, answer: httpx.Response) -> tuple[str, float | None]:
    if answer.status_code != 200:
        raise HarnessError(
            f"identity {identity.name!r}: the token endpoint answered HTTP {answer.status_code}; "
            "check the credentials in the target configuration"
        )
    body = answer.json()
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise HarnessError(f"identity {identity.name!r}: the token answer has no access_token")
    lifetime = body.get("expires_in")
    return token, float(lifetime) if isinstance(lifetime, int | float) else DEFAULT_LIFETIME_SECONDS


def _send(
    method: str, url: str, timeout: httpx.Timeout, *, what: str, **kwargs: object
) -> httpx.Response:
    try:
        return httpx.request(method, url, timeout=timeout, follow_redirects=False, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as problem:
        raise HarnessError(f"could not get {what} from {url}: {problem}") from None


def _run_command(identity: Identity) -> str:
    command = identity.settings["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as problem:
        raise HarnessError(f"identity {identity.name!r}: token command failed: {problem}") from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        raise HarnessError(
            f"identity {identity.name!r}: token command exited {done.returncode} without a token"
        )
    return token
