"""Payments: fee obligations, payment requests, receipts and the platform's notifications.

Decree 45/2020/ND-CP Art. 13: fees are paid online through the portal's payment function and
the platform's signed e-receipt goes to both the payer and the agency. Obligations and the
application of an outcome live in `fees`; the platform (this server's sandbox or another) in
`platform`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from .. import fees, platform, variants
from ..accounts import ensure_account
from ..auth import Principal
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..dossier_store import load as load_dossier
from ..idempotency import once
from ..ids import new_id, payment_reference
from ..pagination import page_of_rows
from ..problems import FieldError, conflict, forbidden, not_found, unprocessable
from ..tables import fee_obligations, payments

router = Router()

_DESCRIPTION_LIMIT = 255
"""``description`` of a platform payment request: at most 255 characters."""


# ---- obligations ---------------------------------------------------------------------------


@router.operation("listDossierFees")
def list_dossier_fees(ctx: Context) -> Reply:
    """The fee obligations of a dossier the caller may see."""
    with ctx.transaction() as conn:
        dossier = load_dossier(conn, ctx.caller, ctx.path["dossierId"])
        conditions = [fee_obligations.c.dossier_id == dossier["id"]]
        if status := ctx.query.get("status"):
            conditions.append(fee_obligations.c.status == status)
        rows, cursor = page_of_rows(conn, fee_obligations, conditions, ctx.query)
    return Reply(body={"items": [row.doc for row in rows], "nextCursor": cursor})


# ---- payment requests ----------------------------------------------------------------------


@router.operation("createPaymentRequest")
def create_payment_request(ctx: Context) -> Reply:
    """Turn unpaid obligations into a payment request and a pending platform transaction."""
    with ctx.transaction() as conn:
        if ctx.fault("payment-idempotency-ignored"):
            return _create_payment(ctx, conn)
        return once(ctx, conn, lambda: _create_payment(ctx, conn))


def _create_payment(ctx: Context, conn: Connection) -> Reply:
    services = ctx.services
    owner_key = ctx.caller.owner_key
    chosen = _payable(conn, owner_key, ctx.body["obligationIds"])
    _cancel_pending(conn, owner_key, {obligation["id"] for obligation in chosen})
    lines = [
        {
            **line,
            "dossierCode": obligation["dossierCode"],
            "procedureCode": obligation["procedureCode"],
            "obligationId": obligation["id"],
        }
        for obligation in chosen
        for line in obligation["lines"]
    ]
    now = services.clock.now()
    account, _ = ensure_account(conn, services, ctx.caller)
    request = _platform_request(ctx, chosen, lines, payment_reference(now), account["name"])
    transaction = platform.create_for_portal(conn, services, request)
    payment: dict[str, Any] = {
        "id": f"pay-{new_id()}",
        "reference": request["reference"],
        "agencyCode": request["merchantCode"],
        "obligationIds": [obligation["id"] for obligation in chosen],
        "lines": lines,
        "amount": request["amount"],
        "currency": fees.CURRENCY,
        "status": "pending",
        "transactionId": transaction["transactionId"],
        "checkoutUrl": transaction["checkoutUrl"],
        "createdAt": rfc3339(now),
        "receiptAvailable": False,
    }
    conn.execute(
        insert(payments).values(
            id=payment["id"],
            reference=payment["reference"],
            owner_key=owner_key,
            agency_code=payment["agencyCode"],
            status="pending",
            created_day=now.date().isoformat(),
            doc=payment,
        )
    )
    return Reply(201, payment, {"Location": f"/payments/{payment['id']}"})


def _payable(conn: Connection, owner_key: str, ids: list[str]) -> list[dict[str, Any]]:
    """The caller's unpaid obligations ``ids``, all owed to one agency; else 422 or 409."""
    found = fees.obligations_by_id(conn, ids, for_update=True)
    errors = []
    chosen: list[dict[str, Any]] = []
    for index, obligation_id in enumerate(ids):
        held = found.get(obligation_id)
        if held is None or held[0] != owner_key:
            detail = f"No fee obligation {obligation_id!r} of yours exists."
            errors.append(FieldError(f"/obligationIds/{index}", detail, "unknown-obligation"))
            continue
        obligation = held[1]
        if chosen and obligation["agencyCode"] != chosen[0]["agencyCode"]:
            detail = (
                f"Obligation {obligation_id} is owed to {obligation['agencyCode']}, not "
                f"{chosen[0]['agencyCode']}; one payment goes to one agency."
            )
            errors.append(FieldError(f"/obligationIds/{index}", detail, "one-agency"))
            continue
        chosen.append(obligation)
    if not errors and sum(obligation["total"] for obligation in chosen) < 1:
        detail = "The obligations add up to 0 VND: there is nothing to pay."
        errors.append(FieldError("/obligationIds", detail, "nothing-to-pay"))
    if errors:
        raise unprocessable("The payment request was refused; nothing was created.", errors)
    paid = [obligation["id"] for obligation in chosen if obligation["status"] == "paid"]
    if paid:
        raise conflict(f"Already paid: {', '.join(paid)}; only unpaid obligations are paid.")
    return chosen


def _cancel_pending(conn: Connection, owner_key: str, obligation_ids: set[str]) -> None:
    """Cancel the caller's pending payments of these obligations (an abandoned checkout)."""
    rows = conn.execute(
        select(payments.c.doc).where(
            payments.c.owner_key == owner_key, payments.c.status == "pending"
        )
    )
    for row in list(rows):
        if obligation_ids & set(row.doc["obligationIds"]):
            payment = {**row.doc, "status": "cancelled"}
            conn.execute(
                update(payments)
                .where(payments.c.id == payment["id"])
                .values(status="cancelled", doc=payment)
            )


def _platform_request(
    ctx: Context,
    chosen: list[dict[str, Any]],
    lines: list[dict[str, Any]],
    reference: str,
    payer_name: str,
) -> dict[str, Any]:
    """The ``platformPaymentRequest`` of a payment: the merchant is the agency owed."""
    codes = list(dict.fromkeys(obligation["dossierCode"] for obligation in chosen))
    description = f"Nộp phí, lệ phí hồ sơ {', '.join(codes)}"
    request: dict[str, Any] = {
        "reference": reference,
        "merchantCode": chosen[0]["agencyCode"],
        "amount": sum(obligation["total"] for obligation in chosen),
        "currency": fees.CURRENCY,
        "lines": [
            {name: value for name, value in line.items() if name != "obligationId"}
            for line in lines
        ],
        "description": description[:_DESCRIPTION_LIMIT],
        "payerName": payer_name,
        "notifyUrl": f"{ctx.base_url}/payments/notifications",
    }
    if return_url := ctx.body.get("returnUrl"):
        request["returnUrl"] = return_url
    return request


# ---- reading payments ----------------------------------------------------------------------


def _visible(conn: Connection, principal: Principal, payment_id: str) -> dict[str, Any]:
    """A payment of the caller (applicant) or to the caller's agency (officer), else 404."""
    if principal.role == "officer":
        allowed = payments.c.agency_code == (principal.agency_code or "")
    else:
        allowed = payments.c.owner_key == principal.owner_key
    found = conn.execute(
        select(payments.c.doc).where(payments.c.id == payment_id, allowed)
    ).scalar()
    if found is None:
        exists = select(payments.c.id).where(payments.c.id == payment_id)
        raise variants.hidden(conn, exists, "payment", payment_id)
    return dict(found)


@router.operation("listPayments")
def list_payments(ctx: Context) -> Reply:
    """Payments for reconciliation: an officer's agency's, or all for a system."""
    query = ctx.query
    first, last = query.get("from"), query.get("to")
    if first and last and first > last:
        detail = f"from ({first}) is after to ({last})."
        # Both dates are well-formed, so the request matches the contract: a domain refusal.
        raise unprocessable(detail, [FieldError("#/query/from", detail, "date-range")])
    conditions = []
    agency = query.get("agencyCode")
    if ctx.caller.role == "officer":
        own = ctx.caller.agency_code or ""
        if agency and agency != own:
            raise forbidden(f"An officer of {own} reads only the payments to {own}.")
        agency = own
    if agency:
        conditions.append(payments.c.agency_code == agency)
    if status := query.get("status"):
        conditions.append(payments.c.status == status)
    if first:
        conditions.append(payments.c.created_day >= first)
    if last:
        conditions.append(payments.c.created_day <= last)
    with ctx.transaction() as conn:
        rows, cursor = page_of_rows(conn, payments, conditions, query)
    return Reply(body={"items": [row.doc for row in rows], "nextCursor": cursor})


@router.operation("getPayment")
def get_payment(ctx: Context) -> Reply:
    """One payment of the caller, or to the caller's agency."""
    with ctx.transaction() as conn:
        payment = _visible(conn, ctx.caller, ctx.path["paymentId"])
    if ctx.fault("money-as-string"):
        payment["amount"] = str(payment["amount"])
    return Reply(body=payment)


@router.operation("getPaymentReceipt")
def get_payment_receipt(ctx: Context) -> Reply:
    """The platform's signed e-receipt, for the payer and the agency's officers (Art. 13)."""
    with ctx.transaction() as conn:
        payment = _visible(conn, ctx.caller, ctx.path["paymentId"])
        if ctx.caller.role == "officer" and ctx.fault("receipt-hidden-from-officer"):
            raise not_found("payment", payment["id"])
        if payment["status"] != "succeeded":
            raise conflict(
                f"Payment {payment['reference']} is {payment['status']}; a receipt exists only "
                "once it has succeeded.",
                currentStatus=payment["status"],
            )
        receipt = fees.stored_receipt(conn, payment["id"]) or fees.fetch_missing_receipt(
            conn, ctx.services, payment
        )
    if receipt is None:
        raise conflict(
            f"Payment {payment['reference']} succeeded but the platform's receipt is not held "
            "yet; try again shortly.",
            currentStatus=payment["status"],
        )
    return Reply(
        body={
            "paymentId": payment["id"],
            "reference": payment["reference"],
            "receipt": receipt,
            "claims": fees.receipt_claims(receipt),
        }
    )


# ---- the platform's notification -----------------------------------------------------------


@router.operation("receivePaymentNotification")
def receive_payment_notification(ctx: Context) -> Reply:
    """Apply the platform's authenticated outcome; a refused one changes nothing."""
    with ctx.transaction() as conn:
        acknowledgement = fees.receive_notification(conn, ctx.services, ctx.body)
    return Reply(body=acknowledgement)
