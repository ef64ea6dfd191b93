"""The NPSP's side of the sync from one-stop systems (Decision 31/2021/QD-TTg Art. 30(3)).

Every push carries the whole current state of its object, so a one-stop system can repeat it
from a durable outbox: the same state again changes nothing, an older or contradicting one is
409. The reference server's own one-stop role pushes here too (``tokens.SELF_CLIENT_ID``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..auth import Principal
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..idempotency import once
from ..problems import FieldError, conflict, forbidden, not_found, unprocessable
from ..tables import synced_objects
from ..tokens import SELF_CLIENT_ID

router = Router()

Document = dict[str, Any]


# ---- who may push what -----------------------------------------------------------------------


def _serves(ctx: Context, agency_code: str, *, reading: bool = False) -> bool:
    """True when the calling system serves ``agency_code``: a fixture one-stop system serves
    its agency and the agencies under it; this server's own one-stop role serves them all;
    the national portal may read everything it holds."""
    caller = ctx.caller
    if caller.client_id == SELF_CLIENT_ID and caller.issuer == ctx.services.settings.issuer:
        return True
    system = ctx.services.fixtures.systems.get(caller.client_id or "")
    if system is None:
        return False
    if system["role"] == "national-portal":
        return reading
    if system["role"] != "one-stop":
        return False
    agencies = ctx.services.fixtures.agencies
    code: str | None = agency_code
    seen: set[str] = set()
    while code is not None and code not in seen:
        if code == system["agencyCode"]:
            return True
        seen.add(code)
        code = agencies.get(code, {}).get("parentCode")
    return False


def _require_service(ctx: Context, agency_code: str, *, reading: bool = False) -> None:
    if not _serves(ctx, agency_code, reading=reading):
        raise forbidden(f"{_name(ctx.caller)} does not serve agency {agency_code}.")


def _name(caller: Principal) -> str:
    return f"System {caller.client_id!r}" if caller.client_id else "This caller"


# ---- storage ---------------------------------------------------------------------------------


def _held(conn: Connection, kind: str, key: str, *, lock: bool = False) -> Document | None:
    statement = select(synced_objects.c.doc).where(
        synced_objects.c.kind == kind, synced_objects.c.key == key
    )
    if lock:  # two pushes of one object on PostgreSQL apply one after the other
        statement = statement.with_for_update()
    found = conn.execute(statement).scalar()
    return dict(found) if found is not None else None


def _store(
    conn: Connection, kind: str, key: str, stamp: str, document: Document, *, new: bool
) -> None:
    if not new:
        conn.execute(
            update(synced_objects)
            .where(synced_objects.c.kind == kind, synced_objects.c.key == key)
            .values(updated_at=stamp, doc=document)
        )
        return
    try:
        with conn.begin_nested():
            conn.execute(
                insert(synced_objects).values(kind=kind, key=key, updated_at=stamp, doc=document)
            )
    except IntegrityError:  # another push of the same object won the race
        raise conflict(
            f"Another push of {kind} {key} was stored at the same moment; push again."
        ) from None


def _same(body: Document, held: Document) -> bool:
    return body == {k: v for k, v in held.items() if k != "receivedAt"}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _received(ctx: Context, body: Document) -> Document:
    return {**body, "receivedAt": rfc3339(ctx.services.clock.now())}


# ---- dossiers --------------------------------------------------------------------------------


@router.operation("syncDossier")
def sync_dossier(ctx: Context) -> Reply:
    body = ctx.body
    code = ctx.path["dossierCode"]
    _require_service(ctx, body["agencyCode"])
    errors = _dossier_errors(code, body)
    if errors:
        raise unprocessable("The dossier snapshot fails the NPSP's checks.", errors)
    with ctx.transaction() as conn:
        held = _held(conn, "dossier", code, lock=True)
        if held is None:
            document = _received(ctx, body)
            _store(conn, "dossier", code, body["updatedAt"], document, new=True)
            return Reply(201, document)
        pushed, kept = _time(body["updatedAt"]), _time(held["updatedAt"])
        if pushed == kept and _same(body, held) and not ctx.fault("sync-repeat-conflicts"):
            return Reply(200, held)
        if pushed <= kept:
            raise conflict(
                f"The NPSP holds the snapshot of {held['updatedAt']} ({held['status']}); this one "
                f"of {body['updatedAt']} is {'older' if pushed < kept else 'as old but differs'}.",
                heldUpdatedAt=held["updatedAt"],
            )
        document = _received(ctx, body)
        if not ctx.fault("synced-dossier-stale"):  # the fault acknowledges, keeps the first
            _store(conn, "dossier", code, body["updatedAt"], document, new=False)
    return Reply(200, document)


def _dossier_errors(code: str, body: Document) -> list[FieldError]:
    """Every domain check of a dossier snapshot that fails."""
    errors = []
    if body["dossierCode"] != code:
        errors.append(
            FieldError(
                "/dossierCode",
                f"The body names {body['dossierCode']}, the path {code}.",
                "code-match",
            )
        )
    history = body["history"]
    last = len(history) - 1
    if history[last]["toStatus"] != body["status"]:
        errors.append(
            FieldError(
                f"/history/{last}/toStatus",
                f"The last move leads to "
                f"{history[last]['toStatus']}, but status is {body['status']}.",
                "history-status",
            )
        )
    updated = _time(body["updatedAt"])
    for index, entry in enumerate(history):
        at = _time(entry["at"])
        if index and at < _time(history[index - 1]["at"]):
            errors.append(
                FieldError(
                    f"/history/{index}/at",
                    "This move is earlier than the one before it.",
                    "history-order",
                )
            )
        if at > updated:
            errors.append(
                FieldError(
                    f"/history/{index}/at",
                    "This move is later than updatedAt.",
                    "history-after-update",
                )
            )
    return errors


@router.operation("getSyncedDossier")
def get_synced_dossier(ctx: Context) -> Reply:
    code = ctx.path["dossierCode"]
    with ctx.transaction() as conn:
        held = _held(conn, "dossier", code)
    if held is None:
        raise not_found("synced dossier", code)
    _require_service(ctx, held["agencyCode"], reading=True)
    return Reply(body=held)


# ---- results ---------------------------------------------------------------------------------


@router.operation("syncResult")
def sync_result(ctx: Context) -> Reply:
    body = ctx.body
    code = ctx.path["resultCode"]
    _require_service(ctx, body["agencyCode"])
    with ctx.transaction() as conn:
        errors = _result_errors(conn, code, body)
        if errors:
            raise unprocessable("The result fails the NPSP's checks.", errors)
        held = _held(conn, "result", code, lock=True)
        if held is None:
            document = _received(ctx, body)
            _store(conn, "result", code, body["issuedAt"], document, new=True)
            return Reply(201, document)
        if held["status"] == "cancelled" and body["status"] == "valid":
            raise conflict(
                f"Result {code} was cancelled at {held['cancelledAt']}; a cancelled result "
                "stays cancelled (Decree 45/2020/ND-CP Art. 15).",
                heldStatus="cancelled",
            )
        if _same(body, held):
            return Reply(200, held)
        document = _received(ctx, body)
        stamp = body.get("cancelledAt", body["issuedAt"])
        _store(conn, "result", code, stamp, document, new=False)
    return Reply(200, document)


def _result_errors(conn: Connection, code: str, body: Document) -> list[FieldError]:
    """Every domain check of a result push that fails."""
    errors = []
    if body["resultCode"] != code:
        errors.append(
            FieldError(
                "/resultCode",
                f"The body names {body['resultCode']}, the path {code}.",
                "code-match",
            )
        )
    dossier_code = body["dossierCode"]
    if not body["resultCode"].startswith(f"{dossier_code}-KQ"):
        errors.append(
            FieldError(
                "/resultCode",
                f"A result of dossier {dossier_code} is coded {dossier_code}-KQ<n>.",
                "result-code",
            )
        )
    if _held(conn, "dossier", dossier_code) is None:
        errors.append(_unknown_dossier(dossier_code))
    cancelled = body.get("cancelledAt")
    if cancelled and _time(cancelled) < _time(body["issuedAt"]):
        errors.append(
            FieldError(
                "/cancelledAt",
                "A result cannot be cancelled before it was issued.",
                "cancelled-after-issued",
            )
        )
    return errors


def _unknown_dossier(dossier_code: str) -> FieldError:
    return FieldError(
        "/dossierCode",
        f"The NPSP holds no dossier {dossier_code}; push it with syncDossier first.",
        "dossier-synced",
    )


# ---- payments --------------------------------------------------------------------------------


@router.operation("syncPayment")
def sync_payment(ctx: Context) -> Reply:
    body = ctx.body
    with ctx.transaction() as conn:
        return once(ctx, conn, lambda: _record_payment(ctx, conn, body))


def _record_payment(ctx: Context, conn: Connection, body: Document) -> Reply:
    dossier = _held(conn, "dossier", body["dossierCode"])
    if dossier is None:
        raise unprocessable(
            "The payment is of a dossier the NPSP does not hold.",
            [_unknown_dossier(body["dossierCode"])],
        )
    _require_service(ctx, dossier["agencyCode"])
    key = body["transactionId"]
    held = _held(conn, "payment", key, lock=True)
    if held is None:
        document = _received(ctx, body)
        _store(conn, "payment", key, body["paidAt"], document, new=True)
        return Reply(201, document)
    if _same(body, held):
        return Reply(200, held)
    differing = sorted(name for name, value in body.items() if held.get(name) != value)
    raise conflict(
        f"Transaction {key} is recorded as {held['status']} for {held['amount']} VND; this push "
        f"differs in {', '.join(differing)}.",
        heldStatus=held["status"],
    )
