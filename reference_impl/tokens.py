"""Tokens of the sandbox identity provider, for fixture subjects and machine clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .auth import AUDIENCE
from .signing import issue_jwt

if TYPE_CHECKING:
    from .services import Services

SELF_CLIENT_ID = "one-stop"
"""The client id of the server's own one-stop role: its pushes to the NPSP sync carry a system
token for it. No fixture system has this id, so only this server's key ever signs one."""


def subject_claims(services: Services, login_hint: str) -> dict[str, Any] | None:
    """The identity claims of the fixture subject named by ``login_hint``, if any.

    A 12-digit hint is a citizen's personal ID number, a tax code names an organisation, and
    anything else an officer's username.
    """
    fixtures = services.fixtures
    if login_hint in fixtures.citizens:
        citizen = fixtures.citizens[login_hint]
        return {
            "sub": f"citizen-{login_hint}",
            "egov_account_type": "individual",
            "personal_id": login_hint,
            "name": citizen["fullName"],
            "acr": "vneid-level2",
        }
    if login_hint in fixtures.organisations:
        organisation = fixtures.organisations[login_hint]
        return {
            "sub": f"org-{login_hint}",
            "egov_account_type": "organisation",
            "tax_code": login_hint,
            "name": organisation["name"],
            "acr": "vneid-level2",
        }
    if login_hint in fixtures.officers:
        officer = fixtures.officers[login_hint]
        return {
            "sub": f"officer-{login_hint}",
            "egov_account_type": "officer",
            "agency_code": officer["agencyCode"],
            "name": officer["fullName"],
            "acr": "vneid-level2",
        }
    return None


def system_claims(client_id: str) -> dict[str, Any]:
    """The claims of a machine client (client-credentials grant)."""
    return {"sub": f"client-{client_id}", "egov_account_type": "system", "client_id": client_id}


def access_token(
    services: Services, claims: dict[str, Any], lifetime: int | None = None
) -> tuple[str, int]:
    """A signed access token for ``claims`` and its lifetime in seconds."""
    lifetime = lifetime or services.settings.token_lifetime_seconds
    now = int(services.clock.now().timestamp())
    full = {
        **claims,
        "iss": services.settings.issuer,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime,
    }
    return issue_jwt(services.keys, full), lifetime
