"""`IdentityProvider`: the kit as an identity provider the target trusts (specs/identity.yaml).

Its issuer is ``<simulators base URL>/idp``. It serves its discovery document
(``/idp/.well-known/openid-configuration``) and its public JWK Set (``/idp/jwks``), and mints
access tokens itself (`IdentityProvider.mint`): the claims of ``schemas/identity.json#/$defs/
tokenClaims``, signed ES256 by a key made once per run (per process). A target configured to
trust this issuer accepts them; so the kit holds a trusted signer and can present tokens a
provider would never hand out on request: expired ones, or ones for another audience.

Nobody signs in here: the authorization and token endpoints the discovery document must name
answer an OAuth error, and userinfo answers for the kit's own tokens only.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .host import SimulatorHost

PREFIX = "/idp"
AUDIENCE = "egov-portal"
ALGORITHM = "ES256"
DEFAULT_LIFETIME_SECONDS = 3600
CLAIMS_SUPPORTED = (
    "iss", "sub", "aud", "exp", "iat", "jti", "acr", "egov_account_type", "personal_id",
    "tax_code", "name", "agency_code", "client_id",
)  # fmt: skip
_USER_CLAIMS = ("sub", "egov_account_type", "name", "acr", "personal_id", "tax_code", "agency_code")
_KEY: list[ECKey] = []
_KEY_LOCK = threading.Lock()


def issuer_of(base_url: str) -> str:
    """The kit's issuer when the simulators are reached at ``base_url``."""
    return f"{base_url.rstrip('/')}{PREFIX}"


def jwks_url_of(base_url: str) -> str:
    """Where the kit's JWK Set is when the simulators are reached at ``base_url``."""
    return f"{issuer_of(base_url)}/jwks"


def trust_option(base_url: str) -> str:
    """``ISSUER=JWKS_URL`` of the kit's issuer, as ``egov-conformance serve --trust-issuer``."""
    return f"{issuer_of(base_url)}={jwks_url_of(base_url)}"


def run_key() -> ECKey:
    """The run's signing key: a new P-256 key, made on first use and kept for the process.

    One key per process, so that the set-up checks and the run that follows present the
    same ``kid`` to a target that cached the JWK Set between them.
    """
    with _KEY_LOCK:
        if not _KEY:
            kid = f"kit-{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"
            parameters: Any = {"kid": kid, "use": "sig", "alg": ALGORITHM}
            _KEY.append(ECKey.generate_key("P-256", parameters=parameters, private=True))
        return _KEY[0]


class IdentityProvider:
    """Discovery, JWK Set and token minting of the kit's issuer, mounted on ``host``."""

    def __init__(self, host: SimulatorHost, key: ECKey | None = None) -> None:
        self._host = host
        self._key = key or run_key()
        host.mount(
            PREFIX,
            [
                Route("/.well-known/openid-configuration", self._discovery, methods=["GET"]),
                Route("/jwks", self._jwks, methods=["GET"]),
                Route("/userinfo", self._userinfo, methods=["GET"]),
                Route("/authorize", self._authorize, methods=["GET"]),
                Route("/token", self._token, methods=["POST"]),
            ],
        )

    @property
    def issuer(self) -> str:
        """The issuer identifier, ``iss`` of every token minted here."""
        return issuer_of(self._host.base_url)

    @property
    def jwks_uri(self) -> str:
        """Where the public JWK Set is served."""
        return jwks_url_of(self._host.base_url)

    @property
    def kid(self) -> str:
        """The ``kid`` of the signing key."""
        return str(self._key.kid)

    def discovery(self) -> dict[str, Any]:
        """The OpenID Connect discovery document (``$defs/openIdConfiguration``)."""
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": self.jwks_uri,
            "scopes_supported": ["openid", "profile"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            "acr_values_supported": ["vneid-level1", "vneid-level2"],
            "claims_supported": list(CLAIMS_SUPPORTED),
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (``$defs/jwks``): the run's key, without its private part."""
        return dict(KeySet([self._key]).as_dict(private=False))

    def mint(
        self,
        claims: Mapping[str, Any],
        *,
        lifetime: int = DEFAULT_LIFETIME_SECONDS,
        shift: int = 0,
        audience: str | list[str] = AUDIENCE,
    ) -> str:
        """An access token for the identity ``claims`` (``sub``, ``egov_account_type``…).

        ``iat`` is now less ``shift`` seconds and ``exp`` is ``lifetime`` after it, so a
        ``shift`` beyond ``lifetime`` makes a validly signed token that has expired.
        """
        issued = int(time.time()) - shift
        full = {
            **claims,
            "iss": self.issuer,
            "aud": audience,
            "iat": issued,
            "exp": issued + lifetime,
            "jti": f"kit-{secrets.token_hex(8)}",
        }
        header = {"typ": "at+jwt", "alg": ALGORITHM, "kid": self.kid}
        return jwt.encode(header, full, self._key, algorithms=[ALGORITHM])

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a current token of this issuer for the portal, else ``None``."""
        try:
            claims = dict(jwt.decode(token, self._key, algorithms=[ALGORITHM]).claims)
        except (JoseError, ValueError):
            return None
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        exp = claims.get("exp")
        if claims.get("iss") != self.issuer or AUDIENCE not in audiences:
            return None
        return claims if isinstance(exp, int) and exp > time.time() else None

    # ---- the endpoints -----------------------------------------------------------------------

    async def _discovery(self, _request: Request) -> Response:
        return JSONResponse(self.discovery())

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse(self.jwks())

    async def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        claims = self.verify(token.strip()) if scheme.lower() == "bearer" else None
        if claims is None:
            return _problem(401, "Unauthorized", "A current access token of this issuer is needed.")
        if claims.get("egov_account_type") == "system":
            return _problem(403, "Forbidden", "A system token has no user information.")
        return JSONResponse({k: claims[k] for k in _USER_CLAIMS if k in claims})

    async def _authorize(self, _request: Request) -> Response:
        return _problem(400, "Bad Request", "The kit's identity provider signs nobody in.")

    async def _token(self, _request: Request) -> Response:
        return _problem(
            400,
            "Bad Request",
            "The kit's identity provider issues tokens to the kit only.",
            error="unauthorized_client",
            error_description="The kit's identity provider has no clients.",
        )


def _problem(status: int, title: str, detail: str, **extra: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
        status,
        media_type="application/problem+json",
    )
