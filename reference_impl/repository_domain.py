"""The Data Management Repository of each account (Decree 45/2020/ND-CP Art. 16, 17).

The system writes items of every kind but ``digitised-document`` (Circular 01/2023/TT-VPCP
Art. 24); each is keyed by ``(owner_key, kind, source_key)`` so that writing the same thing
twice (a retried resolution, a replayed certification) keeps one item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import variants
from .accounts import ensure_account
from .auth import Principal
from .clock import rfc3339
from .ids import new_id
from .tables import repository_items

if TYPE_CHECKING:
    from .services import Services

OWNER_IDENTITY = "owner-identity"
_IDENTITY_FIELDS = ("personalId", "taxCode", "type", "assuranceLevel")


def _find(connection: Connection, owner_key: str, kind: str, source_key: str) -> Any:
    return connection.execute(
        select(repository_items.c.doc).where(
            repository_items.c.owner_key == owner_key,
            repository_items.c.kind == kind,
            repository_items.c.source_key == source_key,
        )
    ).scalar()


def add_item(
    connection: Connection,
    services: Services,
    owner_key: str,
    kind: str,
    source_key: str,
    title: str,
    source: dict[str, Any],
    file: dict[str, Any] | None,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Store an item in ``owner_key``'s Repository, or return the one already stored.

    Idempotent on ``(owner_key, kind, source_key)``: the unique constraint arbitrates
    between concurrent writers, and the loser reads the winner's item.
    """
    existing = _find(connection, owner_key, kind, source_key)
    if existing is not None:
        return dict(existing)
    document: dict[str, Any] = {
        "id": f"rp-{new_id()}",
        "kind": kind,
        "title": title,
        "createdAt": rfc3339(services.clock.now()),
        "status": "valid",
        "source": source,
        "metadata": metadata,
    }
    if file is not None:
        document["file"] = file
    builder = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(
        builder(repository_items)
        .values(
            id=document["id"], owner_key=owner_key, kind=kind, source_key=source_key, doc=document
        )
        .on_conflict_do_nothing()
    )
    stored = _find(connection, owner_key, kind, source_key)
    return dict(stored) if stored is not None else document


def mark_cancelled(
    connection: Connection,
    services: Services,
    owner_key: str,
    kind: str,
    source_key: str,
    at: str,
    reason: str | None = None,
) -> None:
    """Mark an item ``cancelled`` at ``at`` (Decree 45/2020/ND-CP Art. 15); it stays readable.

    A missing item is not an error: there is nothing to mark.
    """
    del services  # the time is the caller's, so the result and its item agree to the second
    row = connection.execute(
        select(repository_items.c.seq, repository_items.c.doc).where(
            repository_items.c.owner_key == owner_key,
            repository_items.c.kind == kind,
            repository_items.c.source_key == source_key,
        )
    ).first()
    if row is None:
        return
    document = dict(row.doc)
    document.update(status="cancelled", cancelledAt=at, updatedAt=at)
    if reason:
        document["metadata"] = {**document.get("metadata", {}), "cancellationReason": reason}
    connection.execute(
        update(repository_items).where(repository_items.c.seq == row.seq).values(doc=document)
    )


def ensure_owner_identity(
    connection: Connection, services: Services, principal: Principal
) -> dict[str, Any]:
    """The owner's identity item, written from the account on first use.

    Circular 01/2023/TT-VPCP Art. 24: the Repository holds its owner's identity data.
    """
    account, _ = ensure_account(connection, services, principal)
    metadata = {"name": account["name"]}
    metadata.update({key: account[key] for key in _IDENTITY_FIELDS if key in account})
    return add_item(
        connection,
        services,
        principal.owner_key,
        OWNER_IDENTITY,
        account["id"],
        f"Thông tin định danh của {account['name']}",
        {},
        None,
        metadata,
    )


def load_item(
    connection: Connection, owner_key: str, item_id: str, *, anyone: bool = False
) -> dict[str, Any]:
    """An item of ``owner_key``'s Repository; anyone else's is 404, hiding that it exists.

    ``anyone`` skips the ownership check; only a deliberate fault sets it.
    """
    statement = select(repository_items.c.doc).where(repository_items.c.id == item_id)
    if not anyone:
        statement = statement.where(repository_items.c.owner_key == owner_key)
    found = connection.execute(statement).scalar()
    if found is None:
        exists = select(repository_items.c.id).where(repository_items.c.id == item_id)
        raise variants.hidden(connection, exists, "repository item", item_id)
    return dict(found)
