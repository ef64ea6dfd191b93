"""The payment platform's own interface, the kit playing the portal (Decree 45/2020/ND-CP
Art. 13; specs/payment-platform.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_conforms, expect_refused, expect_status
from conformance.config import TargetConfig
from conformance.invariants import parse_time
from conformance.scenario import Portal
from conformance.simulators import Simulators, secure_hash

from ._s3_support import (
    EVENT_WAIT_SECONDS,
    FEE_LINE,
    VN_TZ,
    find_in_pages,
    key_set,
    new_key,
    platform_secret,
    require_identity,
    require_interface,
    verify_jws,
)

PAYER = "Phạm Quốc Khánh"


def transaction_request(portal: Portal, notify_url: str) -> dict[str, Any]:
    """A ``platformPaymentRequest`` for the configured agency, with a reference of its own."""
    day = datetime.now(VN_TZ).strftime("%y%m%d")
    reference = f"KIT-{day}-{new_key('')[-10:].upper()}"
    dossier_code = f"{portal.agency}-{day}-0001"
    return {
        "reference": reference,
        "merchantCode": portal.agency,
        "amount": FEE_LINE["amount"],
        "currency": "VND",
        "lines": [
            {
                **FEE_LINE,
                "dossierCode": dossier_code,
                "procedureCode": portal.target.procedures.primary,
            }
        ],
        "description": f"Nộp lệ phí hồ sơ {dossier_code} (bộ công cụ kiểm thử)",
        "payerName": PAYER,
        "notifyUrl": notify_url,
    }


def create(portal: Portal, body: dict[str, Any], key: str | None) -> httpx.Response:
    """``createPlatformPayment`` as the kit's `system` identity."""
    headers = {"Idempotency-Key": key} if key else {}
    return portal.call(
        "POST",
        "paymentPlatform",
        "/platform/payment-requests",
        as_="system",
        json=body,
        headers=headers,
    )


@dataclass(frozen=True)
class Created:
    """A transaction the kit created: the answer, its body, the request and its key."""

    transaction: dict[str, Any]
    request: dict[str, Any]
    key: str
    answer: httpx.Response


def creating(portal: Portal, target: TargetConfig, notify_url: str, requirement: str) -> Created:
    """A new transaction (201); a skip when the kit's system client may not collect for the
    configured agency."""
    require_interface(target, "paymentPlatform")
    require_identity(target, "system", "portals call the payment platform as state systems")
    body = transaction_request(portal, notify_url)
    key = new_key()
    answer = create(portal, body, key)
    if answer.status_code == 403:
        pytest.skip(
            f"the configured `system` identity may not collect for merchant "
            f"{portal.agency} (403); configure a system client the platform lets collect "
            "for the agency"
        )
    transaction = expect_status(requirement, answer, 201, why="a new transaction for a portal")
    return Created(transaction, body, key, answer)


def created_transaction(
    portal: Portal, target: TargetConfig, notify_url: str, requirement: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new transaction and the request that made it."""
    made = creating(portal, target, notify_url, requirement)
    return made.transaction, made.request


def confirmed(portal: Portal, transaction: dict[str, Any], requirement: str) -> dict[str, Any]:
    """The sandbox payer pays; the transaction with its outcome (a skip without the sandbox)."""
    path = f"/platform/payment-requests/{transaction['transactionId']}/payer-confirmation"
    answer = portal.call(
        "POST",
        "paymentPlatform",
        path,
        json={"outcome": "succeeded", "payerName": PAYER, "bankCode": "VCB"},
    )
    if answer.status_code in (404, 405, 501):
        pytest.skip(
            "the platform offers no sandbox payer confirmation (confirmPlatformPayment "
            f"answered {answer.status_code}), so the kit cannot pay"
        )
    body: dict[str, Any] = expect_status(requirement, answer, 200, why="the sandbox payer pays")
    return body


@pytest.mark.requirement("PAY-07")
def test_create_platform_payment_makes_one_transaction_per_request(
    portal: Portal, target: TargetConfig, simulators: Simulators
) -> None:
    """A transaction is created with the portal's reference and amount, once per Idempotency-Key."""
    inbox = simulators.portal.open(target.secrets.get("paymentNotification") or "unused")
    made = creating(portal, target, simulators.portal.url(inbox), "PAY-07")
    transaction, body, key, first = made.transaction, made.request, made.key, made.answer
    expect_conforms("PAY-07", "createPlatformPayment", first)
    keyless = create(portal, transaction_request(portal, body["notifyUrl"]), None)
    expect_refused("PAY-07", keyless, {400}, why="Idempotency-Key is required")
    expect(
        "PAY-07",
        (transaction.get("reference"), transaction.get("amount"), transaction.get("merchantCode"))
        == (body["reference"], body["amount"], body["merchantCode"]),
        f"the transaction of reference {body['reference']}, {body['amount']} VND for "
        f"{body['merchantCode']}",
        f"reference {transaction.get('reference')!r}, amount "
        f"{transaction.get('amount')!r}, merchant {transaction.get('merchantCode')!r}",
        first,
    )
    expect(
        "PAY-07",
        transaction.get("status") == "pending" and bool(transaction.get("checkoutUrl")),
        "a pending transaction with its checkoutUrl",
        f"status {transaction.get('status')!r}",
        first,
    )
    repeat = create(portal, body, key)
    again = expect_status("PAY-07", repeat, 200, 201, why="the same key and body again")
    expect(
        "PAY-07",
        again.get("transactionId") == transaction.get("transactionId"),
        f"the same transaction {transaction.get('transactionId')}",
        f"transactionId {again.get('transactionId')!r}",
        repeat,
    )
    read = portal.call(
        "GET",
        "paymentPlatform",
        f"/platform/payment-requests/{transaction['transactionId']}",
        as_="system",
    )
    held = expect_conforms("PAY-07", "getPlatformPayment", read)
    expect(
        "PAY-07",
        (held.get("reference"), held.get("amount")) == (body["reference"], body["amount"]),
        "the transaction read back as created",
        f"reference {held.get('reference')!r}, amount {held.get('amount')!r}",
        read,
    )


@pytest.mark.requirement("PAY-08")
def test_confirm_platform_payment_notifies_the_portal_with_an_authentic_hash(
    portal: Portal, target: TargetConfig, simulators: Simulators
) -> None:
    """After the payer pays, the portal's notifyUrl gets the outcome with the contract's HMAC."""
    secret = platform_secret(target)
    inbox = simulators.portal.open(secret)
    transaction, body = created_transaction(portal, target, simulators.portal.url(inbox), "PAY-08")
    outcome = confirmed(portal, transaction, "PAY-08")
    found = simulators.portal.wait_for(inbox, timeout=EVENT_WAIT_SECONDS)
    expect(
        "PAY-08",
        found is not None,
        f"a notification POSTed to notifyUrl within {EVENT_WAIT_SECONDS:.0f} s",
        "none came",
    )
    sent = found.body if found is not None and isinstance(found.body, dict) else {}
    expect(
        "PAY-08",
        (
            sent.get("reference"),
            sent.get("transactionId"),
            sent.get("amount"),
            sent.get("currency"),
            sent.get("status"),
        )
        == (body["reference"], transaction["transactionId"], body["amount"], "VND", "succeeded"),
        "the outcome of this transaction: reference, transactionId, amount, VND, succeeded",
        repr(sent)[:400],
    )
    expect(
        "PAY-08",
        bool(sent.get("notificationId")) and sent.get("paidAt") == outcome.get("paidAt"),
        "a notificationId and the paidAt of the outcome",
        f"notificationId {sent.get('notificationId')!r}, paidAt {sent.get('paidAt')!r}",
    )
    expect(
        "PAY-08",
        found is not None and found.hash_valid,
        "secureHash = lowercase hex HMAC-SHA256 under the shared secret of "
        "reference|transactionId|amount|currency|status|paidAt",
        f"secureHash {sent.get('secureHash')!r}; the HMAC is {secure_hash(secret, sent)}",
    )


@pytest.mark.requirement("PAY-09")
def test_confirm_platform_payment_issues_a_signed_receipt_of_the_transaction(
    portal: Portal, target: TargetConfig, simulators: Simulators
) -> None:
    """A succeeded transaction carries an e-receipt signed with a published key, same amount."""
    inbox = simulators.portal.open(target.secrets.get("paymentNotification") or "unused")
    transaction, body = created_transaction(portal, target, simulators.portal.url(inbox), "PAY-09")
    confirmed(portal, transaction, "PAY-09")
    read = portal.call(
        "GET",
        "paymentPlatform",
        f"/platform/payment-requests/{transaction['transactionId']}",
        as_="system",
    )
    paid = expect_conforms("PAY-09", "getPlatformPayment", read)
    expect(
        "PAY-09",
        paid.get("status") == "succeeded" and bool(paid.get("receipt")),
        "a succeeded transaction with its receipt",
        f"status {paid.get('status')!r}",
        read,
    )
    keys_answer = portal.call("GET", "paymentPlatform", "/platform/jwks")
    keys = key_set("PAY-09", keys_answer, "getPlatformJwks")
    _, claims = verify_jws("PAY-09", paid.get("receipt"), keys, "the e-receipt", read, keys_answer)
    expect(
        "PAY-09",
        (
            claims.get("reference"),
            claims.get("amount"),
            claims.get("transactionId"),
            claims.get("currency"),
        )
        == (body["reference"], body["amount"], transaction["transactionId"], "VND"),
        "the receipt's reference, amount and transaction are the transaction's",
        f"signed claims {claims}",
        read,
    )


@pytest.mark.requirement("PAY-10")
def test_list_platform_transactions_shows_the_days_transactions(
    portal: Portal, target: TargetConfig, simulators: Simulators
) -> None:
    """A system client lists its transactions of a period with status and amount."""
    inbox = simulators.portal.open(target.secrets.get("paymentNotification") or "unused")
    transaction, body = created_transaction(portal, target, simulators.portal.url(inbox), "PAY-10")
    # The day of the transaction's own createdAt, which the period is of: the target's clock.
    made_at = parse_time(transaction.get("createdAt")) or datetime.now(VN_TZ)
    today = made_at.astimezone(VN_TZ).date()
    params = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    found = find_in_pages(
        "PAY-10",
        portal.client,
        "paymentPlatform",
        "/platform/reconciliation",
        lambda t: t.get("transactionId") == transaction["transactionId"],
        as_="system",
        params=params,
    )
    expect(
        "PAY-10",
        found is not None,
        f"transaction {transaction['transactionId']} in the listing of {params}",
        "absent",
    )
    expect(
        "PAY-10",
        (found or {}).get("status") == "pending" and (found or {}).get("amount") == body["amount"],
        f"its status (pending) and amount ({body['amount']} VND)",
        f"status {(found or {}).get('status')!r}, amount {(found or {}).get('amount')!r}",
    )
