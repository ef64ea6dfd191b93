"""Tokens the kit's own identity provider signs, for the SEC-02 cases no provider hands out.

When the target trusts the kit's issuer (an identity of the configuration is ``kit-issuer``),
the kit holds a trusted signer: for the role each operation takes it mints a correctly signed
token that has expired, or that names another audience, so that this defect is the only thing
wrong with the request.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.client import TargetClient
from conformance.config import Identity, TargetConfig
from conformance.identities import kit_claims
from conformance.simulators import IdentityProvider
from conformance.suites.test_accounts import claims_of

IDENTITY_CLAIMS = (
    "sub", "egov_account_type", "acr", "name", "personal_id", "tax_code", "agency_code",
    "client_id", "scope",
)  # fmt: skip
"""The claims that say who a token stands for (``tokenClaims`` less issuer, audience, times)."""
EXPIRED_LIFETIME_SECONDS = 3600
EXPIRED_SHIFT_SECONDS = 7200
"""Issued two hours ago, expired one hour ago: far beyond the 60 s of skew a portal allows."""
FUTURE_SECONDS = 3600
"""A token issued an hour from now: far beyond the 60 s of skew a portal allows (iat)."""
OTHER_AUDIENCE = "egov-conformance-kit"
"""An audience that is not the portal's: a client's, as an ID token would name."""


def kit_identities(target: TargetConfig) -> list[Identity]:
    """The identities whose tokens the kit's identity provider mints."""
    return [identity for identity in target.identities.values() if identity.kind == "kit-issuer"]


class KitTokens:
    """Tokens of the kit's issuer standing for the configured test identities."""

    def __init__(
        self, provider: IdentityProvider, client: TargetClient, target: TargetConfig
    ) -> None:
        self.provider = provider
        self._client = client
        self._target = target
        self._cache: dict[tuple[str, str], str] = {}

    @property
    def issuer(self) -> str:
        """The kit's issuer, which the target trusts."""
        return self.provider.issuer

    def claims_for(self, identity: str) -> dict[str, Any]:
        """Who ``identity`` is, as the kit's issuer says it.

        A ``kit-issuer`` identity's own claims; else those of its token from its provider,
        re-issued by the kit; else (an opaque token, no such identity) a kit identity's.
        """
        configured = self._target.identities.get(identity)
        if configured is not None and configured.kind == "kit-issuer":
            return kit_claims(configured)
        if configured is not None:
            try:
                theirs = claims_of(self._client.token(identity))
            except pytest.skip.Exception:
                theirs = {}
            if theirs.get("sub") and theirs.get("egov_account_type"):
                return {name: theirs[name] for name in IDENTITY_CLAIMS if name in theirs}
        return kit_claims(kit_identities(self._target)[0])

    def expired(self, identity: str) -> str:
        """A token for ``identity``, correctly signed, whose ``exp`` passed an hour ago."""
        return self._minted("expired", identity, shift=EXPIRED_SHIFT_SECONDS)

    def from_the_future(self, identity: str) -> str:
        """A token for ``identity``, correctly signed, whose ``iat`` is an hour from now."""
        return self._minted("future", identity, shift=-FUTURE_SECONDS)

    def for_other_audience(self, identity: str) -> str:
        """A current token for ``identity``, correctly signed, whose ``aud`` is not the portal."""
        return self._minted("audience", identity, audience=OTHER_AUDIENCE)

    def _minted(self, kind: str, identity: str, **options: Any) -> str:
        key = (kind, identity)
        if key not in self._cache:
            claims = self.claims_for(identity)
            self._cache[key] = self.provider.mint(
                claims, lifetime=EXPIRED_LIFETIME_SECONDS, **options
            )
        return self._cache[key]
