"""Fee obligations of dossiers and the payments that settle them (Decree 45/2020/ND-CP Art. 13).

The portal's side of online payment. An obligation is raised when a dossier is submitted (the
procedure's fees due on submission) or by the officer's fee notice; a payment request covers
some of them; the payment platform's notification, authenticated by an HMAC over its fields
(docs/contract-conventions.md, "Payment notifications"), settles them. Applying a success
marks the obligations paid, resumes a dossier whose fee notice is now paid (6 → 4), emits
``payment.completed``, notifies the payer and queues the NPSP sync, all in the caller's
transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from . import platform
from .clock import rfc3339
from .dossier_store import move, save
from .events import emit, enqueue_push, notify
from .ids import new_id
from .problems import FieldError, Problem, conflict, not_found, unprocessable
from .tables import dossiers, fee_obligations, payment_notifications, payments

if TYPE_CHECKING:
    from .services import Services

CURRENCY = "VND"
PLATFORM_ACTOR = {"role": "platform"}
NOTIFICATION_ACTION = "receivePaymentNotification"
"""The history ``action`` of a dossier resumed by a payment (dossier.json, historyEntry)."""


# ---- obligations ---------------------------------------------------------------------------


def create_obligation(
    connection: Connection,
    services: Services,
    dossier: dict[str, Any],
    lines: list[dict[str, Any]],
    due: str,
) -> dict[str, Any]:
    """Raise an unpaid fee obligation on a stored dossier that has a code.

    Args:
        connection: the caller's transaction.
        services: the server's services.
        dossier: the dossier, as stored (``id``, ``code``, ``procedureCode``, ``agencyCode``).
        lines: the fee lines, ``[{"code", "name", "amount"}]``.
        due: ``on-submission`` or ``on-notice``.

    Returns:
        The obligation, as listDossierFees shows it.
    """
    owner_key = connection.execute(
        select(dossiers.c.owner_key).where(dossiers.c.id == dossier["id"])
    ).scalar_one()
    fee_lines = [{"code": ln["code"], "name": ln["name"], "amount": ln["amount"]} for ln in lines]
    document: dict[str, Any] = {
        "id": f"fee-{new_id()}",
        "dossierId": dossier["id"],
        "dossierCode": dossier["code"],
        "procedureCode": dossier["procedureCode"],
        "agencyCode": dossier["agencyCode"],
        "lines": fee_lines,
        "total": sum(line["amount"] for line in fee_lines),
        "currency": CURRENCY,
        "due": due,
        "status": "unpaid",
        "createdAt": rfc3339(services.clock.now()),
    }
    connection.execute(
        insert(fee_obligations).values(
            id=document["id"],
            dossier_id=dossier["id"],
            owner_key=owner_key,
            agency_code=dossier["agencyCode"],
            status="unpaid",
            doc=document,
        )
    )
    return document


def obligations_by_id(
    connection: Connection, ids: Iterable[str], *, for_update: bool = False
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The stored obligations among ``ids``: id → (owner key, document)."""
    statement = select(fee_obligations.c.owner_key, fee_obligations.c.doc).where(
        fee_obligations.c.id.in_(list(ids))
    )
    if for_update:
        statement = statement.with_for_update()
    return {row.doc["id"]: (row.owner_key, dict(row.doc)) for row in connection.execute(statement)}


def _store_obligation(connection: Connection, document: dict[str, Any]) -> None:
    connection.execute(
        update(fee_obligations)
        .where(fee_obligations.c.id == document["id"])
        .values(status=document["status"], doc=document)
    )


# ---- notifications -------------------------------------------------------------------------


def _fingerprint(notification: dict[str, Any]) -> str:
    canonical = json.dumps(notification, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def receive_notification(
    connection: Connection, services: Services, notification: dict[str, Any]
) -> dict[str, Any]:
    """Apply the platform's notification of an outcome; return the acknowledgement.

    401 for a bad ``secureHash``, 404 for an unknown reference, 422 when the amount, currency
    or transaction differ from the payment, 409 for an outcome contradicting the one applied;
    a notification already applied answers ``duplicate``. Every refusal changes nothing.
    """
    faults = services.settings.faults
    expected = platform.secure_hash(services.settings.platform_secret, notification)
    forged = not hmac.compare_digest(expected, notification["secureHash"])
    if forged and "payment-bad-hash-accepted" not in faults:
        raise Problem(
            401,
            "secureHash is not the HMAC-SHA256 of reference|transactionId|amount|currency|"
            "status|paidAt under the secret shared with the platform; nothing was changed.",
            "unauthorized",
        )
    row = connection.execute(
        select(payments.c.owner_key, payments.c.doc)
        .where(payments.c.reference == notification["reference"])
        .with_for_update()
    ).first()
    if row is None:
        raise not_found("payment with reference", notification["reference"])
    payment = dict(row.doc)
    seen = connection.execute(
        select(payment_notifications.c.body_hash).where(
            payment_notifications.c.notification_id == notification["notificationId"]
        )
    ).scalar()
    replayed = "payment-replay-applied-twice" in faults
    if seen == _fingerprint(notification) and not replayed:
        return {"status": "duplicate", "paymentId": payment["id"]}
    if "payment-wrong-amount-accepted" not in faults:
        _check_matches(payment, notification)
    outcome = notification["status"]
    if payment["status"] == outcome and not replayed:
        return {"status": "duplicate", "paymentId": payment["id"]}
    if payment["status"] in ("succeeded", "failed") and payment["status"] != outcome:
        raise conflict(
            f"Payment {payment['reference']} is already {payment['status']}; a {outcome} "
            "outcome contradicts it and was not applied.",
            currentStatus=payment["status"],
        )
    if seen is None:
        connection.execute(
            insert(payment_notifications).values(
                notification_id=notification["notificationId"],
                payment_id=payment["id"],
                body_hash=_fingerprint(notification),
            )
        )
    if outcome == "succeeded":
        _apply_success(connection, services, row.owner_key, payment, notification["paidAt"])
    else:
        _apply_failure(connection, services, payment, notification["paidAt"])
    return {"status": "applied", "paymentId": payment["id"]}


def _check_matches(payment: dict[str, Any], notification: dict[str, Any]) -> None:
    """422 naming every field of the notification that differs from the payment request."""
    errors = [
        FieldError(
            f"/{name}",
            f"The payment {payment['reference']} has {name} {payment[name]!r}, not "
            f"{notification[name]!r}.",
            "payment-mismatch",
        )
        for name in ("amount", "currency", "transactionId")
        if payment[name] != notification[name]
    ]
    if errors:
        raise unprocessable("The notification does not match the payment request.", errors)


# ---- applying an outcome -------------------------------------------------------------------


def _store_payment(
    connection: Connection, payment: dict[str, Any], receipt: str | None = None
) -> None:
    values: dict[str, Any] = {"status": payment["status"], "doc": payment}
    if receipt is not None:
        values["receipt"] = receipt
    connection.execute(update(payments).where(payments.c.id == payment["id"]).values(**values))


def _apply_success(
    connection: Connection,
    services: Services,
    owner_key: str,
    payment: dict[str, Any],
    paid_at: str,
) -> None:
    """Mark the payment and its obligations paid and tell everyone who must know."""
    receipt = platform.receipt_for_portal(connection, services, payment["transactionId"])
    payment.update(status="succeeded", paidAt=paid_at, receiptAvailable=receipt is not None)
    _store_payment(connection, payment, receipt)
    dossier_ids: list[str] = []
    for _owner, obligation in obligations_by_id(
        connection, payment["obligationIds"], for_update=True
    ).values():
        # An obligation a later payment already settled stays with it: this success (of a
        # cancelled request) is recorded on its payment for reconciliation only.
        if obligation["status"] == "unpaid":
            obligation.update(status="paid", paidAt=paid_at, paymentId=payment["id"])
            _store_obligation(connection, obligation)
        if obligation["dossierId"] not in dossier_ids:
            dossier_ids.append(obligation["dossierId"])
    for dossier_id in dossier_ids:
        if not services.settings.has_fault("dossier-not-resumed-after-payment"):
            _resume_dossier(connection, services, dossier_id)
    for dossier_code, amount in _amounts_by_dossier(payment).items():
        data = {
            "paymentId": payment["id"],
            "reference": payment["reference"],
            "dossierCode": dossier_code,
            "amount": amount,
            "currency": payment["currency"],
            "paidAt": paid_at,
        }
        emit(connection, services, "payment.completed", dossier_code, data)
    notify(
        connection,
        services,
        owner_key,
        "payment-completed",
        f"Thanh toán {payment['reference']}",
        f"Đã thanh toán {payment['amount']} VND cho "
        f"{', '.join(_amounts_by_dossier(payment))} lúc {paid_at}.",
        {"paymentId": payment["id"]},
    )
    _push_sync(connection, services, payment, paid_at)


def _apply_failure(
    connection: Connection, services: Services, payment: dict[str, Any], reported_at: str
) -> None:
    """Mark the payment failed; its obligations stay unpaid and may be requested again."""
    payment["status"] = "failed"
    _store_payment(connection, payment)
    _push_sync(connection, services, payment, reported_at)


def _amounts_by_dossier(payment: dict[str, Any]) -> dict[str, int]:
    amounts: dict[str, int] = {}
    for line in payment["lines"]:
        amounts[line["dossierCode"]] = amounts.get(line["dossierCode"], 0) + line["amount"]
    return amounts


def _resume_dossier(connection: Connection, services: Services, dossier_id: str) -> None:
    """Move a ``fee-requested`` dossier back to ``in-process`` once its fee notices are paid."""
    found = connection.execute(
        select(dossiers.c.doc).where(dossiers.c.id == dossier_id).with_for_update()
    ).scalar()
    if found is None or found["status"] != "fee-requested":
        return
    noticed = [
        row.doc
        for row in connection.execute(
            select(fee_obligations.c.doc).where(fee_obligations.c.dossier_id == dossier_id)
        )
        if row.doc["due"] == "on-notice"
    ]
    if not noticed or any(doc["status"] != "paid" for doc in noticed):
        return
    document = dict(found)
    source = document["status"]
    document["status"] = move(document, "paymentCompleted")
    save(
        connection,
        services,
        document,
        action=NOTIFICATION_ACTION,
        actor=dict(PLATFORM_ACTOR),
        from_status=source,
    )


def _push_sync(
    connection: Connection, services: Services, payment: dict[str, Any], at: str
) -> None:
    """Queue the payment's outcome for the NPSP (Decision 31/2021/QD-TTg Art. 30(3)).

    ``syncPayment`` names one dossier per transaction: a payment covering several dossiers is
    pushed under the dossier of its first line, with the whole amount.
    """
    body = {
        "reference": payment["reference"],
        "dossierCode": payment["lines"][0]["dossierCode"],
        "amount": payment["amount"],
        "currency": payment["currency"],
        "status": payment["status"],
        "paidAt": at,
        "transactionId": payment["transactionId"],
    }
    base = (services.settings.sync_url or services.settings.public_url).rstrip("/")
    key = f"payment:{payment['reference']}"
    if services.settings.has_fault("payment-replay-applied-twice"):
        key += f":{new_id()}"  # every application is pushed again
    enqueue_push(
        connection,
        "npsp-sync",
        key,
        f"{base}/sync/payments",
        "POST",
        body,
    )


# ---- receipts ------------------------------------------------------------------------------


def stored_receipt(connection: Connection, payment_id: str) -> str | None:
    """The platform's signed receipt the portal holds for a payment, if any."""
    found = connection.execute(
        select(payments.c.receipt).where(payments.c.id == payment_id)
    ).scalar()
    return str(found) if found else None


def fetch_missing_receipt(
    connection: Connection, services: Services, payment: dict[str, Any]
) -> str | None:
    """Ask the platform again for the receipt of a succeeded payment the portal lacks."""
    receipt = platform.receipt_for_portal(connection, services, payment["transactionId"])
    if receipt is not None:
        payment["receiptAvailable"] = True
        _store_payment(connection, payment, receipt)
    return receipt


def receipt_claims(receipt: str) -> dict[str, Any]:
    """The decoded payload of a receipt the portal verified when it stored it."""
    payload = receipt.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return dict(decoded)
