"""Reading and changing dossiers: ownership, versions, history, events, sync and notices.

Every change of a dossier goes through `save`, so that the version (ETag), the history
(Decree 45/2020/ND-CP Art. 12), the status-change event, the push to the national portal
(Decision 31/2021/QD-TTg Art. 30(3)) and the applicant's notification are never forgotten.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update

from . import variants
from .accounts import ensure_account
from .auth import Principal
from .clock import VN_TZ, rfc3339
from .db import Prepared
from .events import emit, enqueue_push, notify
from .lifecycle import NOT_OVERDUE, status_code, target_of
from .tables import dossier_history, dossiers

if TYPE_CHECKING:
    from .services import Services

_NOTICE_KINDS = {
    "refused": "dossier-refused",
    "supplement-requested": "supplement-requested",
    "fee-requested": "fee-requested",
}

# Statements of the hot paths, built once: building a statement per call costs more than
# running it. Values come as execute() parameters, so the compiled form is cached as well.
_INSERT_DOSSIER = insert(dossiers)
_UPDATE_DOSSIER = update(dossiers).where(dossiers.c.id == bindparam("dossier_id"))
_INSERT_HISTORY = insert(dossier_history)
_OWNER_OF = select(dossiers.c.owner_key).where(dossiers.c.id == bindparam("dossier_id"))
_HISTORY_OF = (
    select(dossier_history.c.doc)
    .where(dossier_history.c.dossier_id == bindparam("dossier_id"))
    .order_by(dossier_history.c.seq)
)


@cache
def _load_statement(scope: str, for_update: bool) -> Prepared:
    """The dossier of ``:dossier_id`` seen by an ``owner``, an ``agency`` (``:who``) or anyone.

    Every operation on a dossier starts here, so it runs as prepared driver SQL.
    """
    statement = select(dossiers.c.doc).where(dossiers.c.id == bindparam("dossier_id"))
    if scope == "owner":
        statement = statement.where(dossiers.c.owner_key == bindparam("who"))
    elif scope == "agency":
        statement = statement.where(dossiers.c.agency_code == bindparam("who"))
    if for_update:
        statement = statement.with_for_update()
    return Prepared(statement)


def fold_name(name: str) -> str:
    """A name in the form searches compare (NFC, case-folded)."""
    return unicodedata.normalize("NFC", name).casefold()


def visible_to(principal: Principal) -> Any:
    """The SQL condition for the dossiers a caller may see."""
    if principal.role == "officer":
        return dossiers.c.agency_code == (principal.agency_code or "")
    return dossiers.c.owner_key == principal.owner_key


def load(
    connection: Connection,
    principal: Principal,
    dossier_id: str,
    *,
    for_update: bool = False,
    anyone: bool = False,
) -> dict[str, Any]:
    """A dossier the caller may see (owner, or an officer of its agency), else 404.

    ``anyone`` skips the ownership check; only deliberate faults set it.
    """
    # The same condition as visible_to(), on a statement built once.
    parameters = {"dossier_id": dossier_id}
    if anyone:
        scope = "anyone"
    elif principal.role == "officer":
        scope, parameters["who"] = "agency", principal.agency_code or ""
    else:
        scope, parameters["who"] = "owner", principal.owner_key
    row = _load_statement(scope, for_update).first(connection, parameters)
    found = row[0] if row is not None else None
    if found is None:
        exists = select(dossiers.c.id).where(dossiers.c.id == dossier_id)
        raise variants.hidden(connection, exists, "dossier", dossier_id)
    return dict(found)


def present(document: dict[str, Any], services: Services) -> dict[str, Any]:
    """The dossier as the API shows it, with the derived ``overdue`` flag."""
    shown = dict(document)
    appointment = shown.get("appointmentDate")
    today = services.clock.now().date()
    shown["overdue"] = bool(
        appointment
        and shown["status"] not in NOT_OVERDUE
        and today > date.fromisoformat(appointment)
    )
    return shown


def insert_new(connection: Connection, owner_key: str, document: dict[str, Any]) -> None:
    """Store a new (draft) dossier."""
    connection.execute(
        _INSERT_DOSSIER,
        {
            "id": document["id"],
            "owner_key": owner_key,
            "agency_code": document["agencyCode"],
            "code": document.get("code"),
            "status": document["status"],
            "version": document["version"],
            "name_folded": fold_name(document["applicant"]["name"]),
            "doc": document,
        },
    )


def actor_of(
    connection: Connection,
    services: Services,
    principal: Principal | None,
    role: str | None = None,
) -> dict[str, Any]:
    """The ``actor`` of a history entry: a role and, for a person, the portal account id.

    The account id is the one a dossier's ``applicant.accountId`` carries, so a history can be
    matched to the people in it.
    """
    if principal is None or principal.role == "system":
        return {"role": role or "system"}
    account, _created = ensure_account(connection, services, principal)
    return {"role": role or principal.role, "accountId": account["id"]}


def move(document: dict[str, Any], action: str) -> str:
    """The status ``action`` leads to from the dossier's status, or a 409 problem."""
    supplement = document.get("supplementRequest") or {}
    return target_of(action, document["status"], supplement.get("fromStatus"))


def save(
    connection: Connection,
    services: Services,
    document: dict[str, Any],
    *,
    action: str,
    actor: dict[str, Any],
    from_status: str,
    reason: str | None = None,
    changes: list[dict[str, Any]] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Write a changed dossier: bump its version, record history, announce a status change.

    ``note`` is a free-text note for the other party (an officer's acceptance note, an
    applicant's supplement note), kept in the history entry.
    """
    now = rfc3339(services.clock.now())
    document["version"] = document.get("version", 0) + 1
    document["updatedAt"] = now
    code = status_code(document["status"])
    if code is not None:
        document["statusCode"] = code
    code_column = document.get("code")
    if services.settings.has_fault("dossier-code-per-procedure"):
        code_column = None  # a vendor whose codes collide has no unique constraint on them
    connection.execute(
        _UPDATE_DOSSIER,
        {
            "dossier_id": document["id"],
            "code": code_column,
            "agency_code": document["agencyCode"],
            "status": document["status"],
            "version": document["version"],
            "doc": document,
        },
    )
    entry: dict[str, Any] = {"at": now, "action": action, "actor": actor}
    if from_status != document["status"]:
        entry["fromStatus"] = from_status
        entry["toStatus"] = document["status"]
    if reason:
        entry["reason"] = reason
    if changes:
        entry["changes"] = changes
    if note:
        entry["note"] = note
    connection.execute(_INSERT_HISTORY, {"dossier_id": document["id"], "doc": entry})
    if from_status != document["status"] and document.get("code"):
        _announce(connection, services, document, from_status, reason, now)
    return document


def _announce(
    connection: Connection,
    services: Services,
    document: dict[str, Any],
    from_status: str,
    reason: str | None,
    at: str,
) -> None:
    data: dict[str, Any] = {
        "dossierId": document["id"],
        "dossierCode": document["code"],
        "fromStatus": from_status,
        "toStatus": document["status"],
        "statusCode": document["statusCode"],
        "at": at,
    }
    if reason:
        data["reason"] = reason
    if not services.settings.has_fault("events-skip-status-change"):
        emit(connection, services, "dossier.status-changed", document["code"], data)
    owner = connection.execute(_OWNER_OF, {"dossier_id": document["id"]}).scalar_one()
    kind = _NOTICE_KINDS.get(document["status"], "dossier-status")
    if services.settings.has_fault("notification-without-reason"):
        reason = None
    message = f"Hồ sơ {document['code']}: {from_status} → {document['status']}."
    if document["status"] == "submitted" and document.get("officialReceiptTime"):
        # Decree 45/2020/ND-CP Art. 11: the automatic confirmation gives the official receipt time.
        message += f" Thời điểm tiếp nhận chính thức: {document['officialReceiptTime']}."
    if reason:
        message += f" Lý do: {reason}"
    silent = document["status"] == "submitted" and services.settings.has_fault(
        "no-submission-notification"
    )
    if not silent:
        notify(
            connection,
            services,
            owner,
            kind,
            f"Hồ sơ {document['code']}",
            message,
            {"dossierId": document["id"], "dossierCode": document["code"]},
            reason=reason,
        )
    if not services.settings.has_fault("sync-push-missing"):
        push_sync(connection, services, document, at)


def push_sync(
    connection: Connection, services: Services, document: dict[str, Any], at: str
) -> None:
    """Queue the dossier's snapshot for the national portal (one-stop → NPSP sync)."""
    history = [
        {k: v for k, v in entry.items() if k in ("at", "fromStatus", "toStatus", "reason")}
        for entry in history_of(connection, document["id"])
        # The NPSP knows a dossier from its submission on: drafts have no NPSP status number.
        if entry.get("toStatus") not in (None, "draft")
    ]
    applicant = {k: v for k, v in document["applicant"].items() if k != "accountId"}
    snapshot = {
        "dossierCode": document["code"],
        "procedureCode": document["procedureCode"],
        "agencyCode": document["agencyCode"],
        "status": document["status"],
        "statusCode": document["statusCode"],
        "applicant": applicant,
        "submittedAt": document["submittedAt"],
        "officialReceiptTime": document["officialReceiptTime"],
        "updatedAt": _sync_stamp(services, document["version"]),
        "history": history,
    }
    if document.get("appointmentDate"):
        snapshot["appointmentDate"] = document["appointmentDate"]
    base = (services.settings.sync_url or services.settings.public_url).rstrip("/")
    enqueue_push(
        connection,
        "npsp-sync",
        f"dossier:{document['code']}:{document['version']}",
        f"{base}/sync/dossiers/{document['code']}",
        "PUT",
        snapshot,
    )


def _sync_stamp(services: Services, version: int) -> str:
    """The snapshot's ``updatedAt``: now, with the dossier's version in the microseconds.

    The NPSP keeps the snapshot with the latest ``updatedAt`` and refuses an older one. Two
    moves within one second (common under load, constant under a fixed test clock) must still
    order as the versions do, so the sub-second part carries the version.
    """
    now = services.clock.now().replace(microsecond=0)
    stamped = now + timedelta(microseconds=version % 1_000_000)
    return stamped.astimezone(VN_TZ).isoformat(timespec="microseconds")


def history_of(connection: Connection, dossier_id: str) -> list[dict[str, Any]]:
    """The dossier's history, oldest first."""
    rows = connection.execute(_HISTORY_OF, {"dossier_id": dossier_id})
    return [dict(row[0]) for row in rows]
