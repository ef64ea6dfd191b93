"""The payment platform's own API: transactions, the payer's outcome, receipts, reconciliation.

Decree 45/2020/ND-CP Art. 13: the platform collects for agencies (merchants), reports each
outcome to the portal and signs an e-receipt verifiable with its published keys. The domain is
in `platform`; this module maps the operations onto it.
"""

from __future__ import annotations

from ..dispatch import Context, Reply, Router
from ..idempotency import once
from ..platform import (
    SIGNING_PURPOSE,
    confirm,
    create_transaction,
    list_transactions,
    load_transaction,
    may_collect,
    present,
)
from ..problems import FieldError, not_found, unprocessable

router = Router()


@router.operation("getPlatformJwks")
def get_platform_jwks(ctx: Context) -> Reply:
    """The public keys that verify the platform's e-receipts."""
    return Reply(body=ctx.services.keys.public_jwks(SIGNING_PURPOSE))


@router.operation("createPlatformPayment")
def create_platform_payment(ctx: Context) -> Reply:
    """Create a pending transaction for a merchant the calling system collects for."""
    with ctx.transaction() as conn:

        def run() -> Reply:
            document = create_transaction(conn, ctx.services, ctx.body, ctx.caller)
            location = f"/platform/payment-requests/{document['transactionId']}"
            return Reply(201, present(conn, document), {"Location": location})

        if ctx.fault("platform-idempotency-ignored"):
            return run()
        return once(ctx, conn, run)


@router.operation("getPlatformPayment")
def get_platform_payment(ctx: Context) -> Reply:
    """A transaction of a merchant the caller collects for; any other is 404."""
    transaction_id = ctx.path["transactionId"]
    with ctx.transaction() as conn:
        row = load_transaction(conn, transaction_id)
        reveal = ctx.fault("platform-reveals-other-merchants")
        if not reveal and not may_collect(ctx.services, ctx.caller, row.merchant_code):
            raise not_found("transaction", transaction_id)
        return Reply(body=present(conn, dict(row.doc)))


@router.operation("confirmPlatformPayment")
def confirm_platform_payment(ctx: Context) -> Reply:
    """Sandbox only: the payer's outcome at the bank, then the notification to the portal."""
    with ctx.transaction() as conn:
        document = confirm(conn, ctx.services, ctx.path["transactionId"], ctx.body)
        return Reply(body=present(conn, document))


@router.operation("listPlatformTransactions")
def list_platform_transactions(ctx: Context) -> Reply:
    """The caller's merchants' transactions, for reconciliation."""
    first, last = ctx.query.get("from"), ctx.query.get("to")
    if first and last and first > last:
        detail = f"from ({first}) is after to ({last})."
        # Both dates are well-formed, so the request matches the contract: a domain refusal.
        raise unprocessable(detail, [FieldError("#/query/from", detail, "date-range")])
    with ctx.transaction() as conn:
        return Reply(body=list_transactions(conn, ctx.services, ctx.caller, ctx.query))
