"""Portal accounts: created from the e-identity on first use (Decree 45/2020/ND-CP step 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from .auth import Principal
from .clock import rfc3339
from .ids import new_id
from .tables import accounts

if TYPE_CHECKING:
    from .services import Services


def find_account(connection: Connection, principal: Principal) -> dict[str, Any] | None:
    """The caller's account, if it has one."""
    found = connection.execute(
        select(accounts.c.doc).where(accounts.c.owner_key == principal.owner_key)
    ).scalar()
    return dict(found) if found else None


def ensure_account(
    connection: Connection, services: Services, principal: Principal
) -> tuple[dict[str, Any], bool]:
    """The caller's account, created from the token's identity claims when missing.

    Identity data (name, personal ID, tax code, assurance level) come from the e-identity and
    are never asked again (the once-only principle of Decree 45/2020/ND-CP).
    Returns the account and whether it was created now.
    """
    existing = find_account(connection, principal)
    if existing is not None:
        return existing, False
    now = rfc3339(services.clock.now())
    document: dict[str, Any] = {
        "id": new_id(),
        "type": principal.account_type,
        "name": principal.name or principal.subject,
        "assuranceLevel": principal.acr or "vneid-level2",
        "preferredChannels": ["portal"],
        "createdAt": now,
        "updatedAt": now,
    }
    if principal.personal_id:
        document["personalId"] = principal.personal_id
    if principal.tax_code:
        document["taxCode"] = principal.tax_code
    if principal.agency_code:
        document["agencyCode"] = principal.agency_code
    connection.execute(
        insert(accounts).values(id=document["id"], owner_key=principal.owner_key, doc=document)
    )
    return document, True


def applicant_of(account: dict[str, Any]) -> dict[str, Any]:
    """The ``applicant`` block a dossier, request or result carries."""
    applicant = {"accountId": account["id"], "type": account["type"], "name": account["name"]}
    for key in ("personalId", "taxCode"):
        if key in account:
            applicant[key] = account[key]
    return applicant
