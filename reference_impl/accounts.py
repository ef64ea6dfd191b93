"""Portal accounts: created from the e-identity on first use (Decree 45/2020/ND-CP step 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from .auth import Principal
from .clock import rfc3339
from .ids import new_id
from .tables import accounts

if TYPE_CHECKING:
    from .services import Services

_FIND = select(accounts.c.doc).where(accounts.c.owner_key == bindparam("owner_key"))
_INSERT = insert(accounts)


def find_account(connection: Connection, principal: Principal) -> dict[str, Any] | None:
    """The caller's account, if it has one."""
    found = connection.execute(_FIND, {"owner_key": principal.owner_key}).scalar()
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
    account_type = principal.account_type
    if account_type == "organisation" and services.settings.has_fault(
        "register-organisation-as-individual"
    ):
        account_type = "individual"
    document: dict[str, Any] = {
        "id": new_id(),
        "type": account_type,
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
    try:
        # A savepoint: the same person's first two requests may race (threads, workers).
        with connection.begin_nested():
            connection.execute(
                _INSERT, {"id": document["id"], "owner_key": principal.owner_key, "doc": document}
            )
    except IntegrityError:  # the other request created it first: that is the account
        raced = find_account(connection, principal)
        if raced is None:  # pragma: no cover - a conflict on another column
            raise
        return raced, False
    return document, True


def applicant_of(account: dict[str, Any]) -> dict[str, Any]:
    """The ``applicant`` block a dossier, request or result carries."""
    applicant = {"accountId": account["id"], "type": account["type"], "name": account["name"]}
    for key in ("personalId", "taxCode"):
        if key in account:
            applicant[key] = account[key]
    return applicant
