"""Online payment of fees through the portal (Decree 45/2020/ND-CP Art. 13; conventions,
"Payment notifications")."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest

from conformance.checks import expect, expect_conforms, expect_refused, expect_status
from conformance.config import TargetConfig
from conformance.invariants import parse_time
from conformance.scenario import Portal
from conformance.simulators.portal import HASHED_FIELDS

from ._s3_support import (
    FEE_LINE,
    VN_TZ,
    fee_requested,
    find_in_pages,
    key_set,
    new_key,
    notification,
    notify,
    pending_payment,
    platform_secret,
    poll,
    request_payment,
    require_interface,
    verify_jws,
)


def payment_of(portal: Portal, payment_id: str, as_: str = "applicantA") -> dict[str, Any]:
    """``getPayment`` as ``as_`` (200 expected)."""
    answer = portal.call("GET", "payments", f"/payments/{payment_id}", as_=as_)
    body: dict[str, Any] = expect_status("PAY-02", answer, 200, why="reading one's own payment")
    return body


def fees_of(portal: Portal, dossier_id: str) -> list[dict[str, Any]]:
    """The dossier's fee obligations as the applicant sees them."""
    answer = portal.call("GET", "payments", f"/dossiers/{dossier_id}/fees", as_="applicantA")
    page = expect_status("PAY-01", answer, 200, why="the applicant lists the dossier's fees")
    return [o for o in page.get("items", []) if isinstance(o, dict)]


def snapshot(portal: Portal, dossier_id: str, payment_id: str) -> tuple[Any, ...]:
    """What a payment notification may change, to show that one changed nothing."""
    payment = payment_of(portal, payment_id)
    dossier = portal.get(dossier_id)
    fees = sorted(
        (o.get("id"), o.get("status"), o.get("paymentId")) for o in fees_of(portal, dossier_id)
    )
    return (
        payment.get("status"),
        payment.get("paidAt"),
        dossier.get("status"),
        dossier.get("version"),
        fees,
    )


@pytest.mark.requirement("PAY-01")
def test_list_dossier_fees_lists_the_fee_notice_line_by_line_in_vnd(portal: Portal) -> None:
    """After a fee notice the dossier waits for payment and lists each fee in whole VND."""
    dossier = portal.in_process()
    noticed = portal.step("PAY-01", dossier["id"], "fee-notice", {"fees": [FEE_LINE]})
    expect(
        "PAY-01",
        noticed.get("status") == "fee-requested",
        "the dossier waits for payment (fee-requested)",
        f"status {noticed.get('status')!r}",
    )
    answer = portal.call("GET", "payments", f"/dossiers/{dossier['id']}/fees", as_="applicantA")
    page = expect_conforms("PAY-01", "listDossierFees", answer)
    notices = [
        o
        for o in page["items"]
        if any(line.get("code") == FEE_LINE["code"] for line in o.get("lines", []))
    ]
    expect(
        "PAY-01",
        len(notices) == 1,
        f"one obligation with the notice's line {FEE_LINE['code']}",
        f"{len(notices)} such obligations",
        answer,
    )
    obligation = notices[0]
    line = next(x for x in obligation["lines"] if x.get("code") == FEE_LINE["code"])
    expect(
        "PAY-01",
        line.get("amount") == FEE_LINE["amount"] and line.get("name") == FEE_LINE["name"],
        f"the line as the notice gave it: {FEE_LINE}",
        repr(line),
        answer,
    )
    total = sum(x.get("amount", 0) for x in obligation["lines"])
    expect(
        "PAY-01",
        obligation.get("total") == total and obligation.get("currency") == "VND",
        f"total {total} VND, the sum of the lines",
        f"total {obligation.get('total')!r} {obligation.get('currency')!r}",
        answer,
    )
    expect(
        "PAY-01",
        obligation.get("status") == "unpaid" and obligation.get("dossierCode") == dossier["code"],
        f"unpaid, owed on dossier {dossier['code']}",
        f"status {obligation.get('status')!r}, dossierCode {obligation.get('dossierCode')!r}",
        answer,
    )


@pytest.mark.requirement("PAY-02")
def test_create_payment_request_gives_a_reference_the_amount_and_the_checkout(
    portal: Portal,
) -> None:
    """A payment request for the fees due carries a reference, the amount and the checkout link."""
    dossier, payment = pending_payment(portal)
    fees = [o for o in fees_of(portal, dossier["id"]) if o.get("id") in payment["obligationIds"]]
    due = sum(o.get("total", 0) for o in fees)
    expect(
        "PAY-02",
        payment.get("amount") == due and payment.get("currency") == "VND",
        f"the amount due, {due} VND",
        f"amount {payment.get('amount')!r} {payment.get('currency')!r}",
    )
    expect(
        "PAY-02",
        payment.get("status") == "pending" and bool(payment.get("checkoutUrl")),
        "a pending payment with the platform's checkoutUrl",
        f"status {payment.get('status')!r}, checkoutUrl {payment.get('checkoutUrl')!r}",
    )
    answer = portal.call("GET", "payments", f"/payments/{payment['id']}", as_="applicantA")
    again = expect_conforms("PAY-02", "getPayment", answer)
    expect(
        "PAY-02",
        (again.get("reference"), again.get("amount")) == (payment["reference"], payment["amount"]),
        f"the payment {payment['reference']} of {payment['amount']} VND read back",
        f"reference {again.get('reference')!r}, amount {again.get('amount')!r}",
        answer,
    )


@pytest.mark.requirement("PAY-03")
def test_create_payment_request_is_never_created_twice(portal: Portal) -> None:
    """Without an Idempotency-Key the request is refused; a repeat returns the first payment."""
    _, obligations = fee_requested(portal)
    ids = [o["id"] for o in obligations]
    keyless = request_payment(portal, ids, key="")
    expect_refused(
        "PAY-03", keyless, {400}, why="Idempotency-Key is required on createPaymentRequest"
    )
    key = new_key()
    first = request_payment(portal, ids, key=key)
    created = expect_status("PAY-03", first, 201, why="the first request with a key")
    repeat = request_payment(portal, ids, key=key)
    replayed = expect_status("PAY-03", repeat, 200, 201, why="the same key and body again")
    expect(
        "PAY-03",
        replayed.get("id") == created.get("id")
        and replayed.get("reference") == created.get("reference"),
        f"the first payment again ({created.get('id')})",
        f"payment {replayed.get('id')!r}, reference {replayed.get('reference')!r}",
        repeat,
    )
    # Yesterday too: the run may cross midnight, and `from` is a date of createdAt (+07:00),
    # counted from the first payment's own createdAt: the target's clock, not the kit's.
    made_at = parse_time(created.get("createdAt")) or datetime.now(VN_TZ)
    since = (made_at.astimezone(VN_TZ) - timedelta(days=1)).date().isoformat()
    made = find_in_pages(
        "PAY-03",
        portal.client,
        "payments",
        "/payments",
        lambda p: (
            bool(set(ids) & set(p.get("obligationIds", []))) and p.get("id") != created.get("id")
        ),
        as_="officer",
        params={"agencyCode": portal.agency, "from": since},
    )
    expect(
        "PAY-03",
        made is None,
        "no second payment for these obligations",
        f"another payment {made.get('id') if made else ''} for them",
    )


@pytest.mark.requirement("PAY-04")
def test_receive_payment_notification_completes_the_payment_and_resumes_the_dossier(
    portal: Portal, target: TargetConfig
) -> None:
    """A verified notification marks the payment paid and moves the dossier back to in process."""
    secret = platform_secret(target)
    dossier, payment = pending_payment(portal)
    body = notification(payment, secret)
    answer = notify(portal, body)
    ack = expect_conforms("PAY-04", "receivePaymentNotification", answer)
    expect_status("PAY-04", answer, 200, why="a notification with a valid secureHash is applied")
    expect("PAY-04", ack.get("status") == "applied", "status applied", repr(ack), answer)
    paid = payment_of(portal, payment["id"])
    expect(
        "PAY-04",
        paid.get("status") == "succeeded" and paid.get("paidAt") is not None,
        "the payment succeeded, with paidAt",
        f"status {paid.get('status')!r}, paidAt {paid.get('paidAt')!r}",
    )
    resumed = portal.get(dossier["id"])
    expect(
        "PAY-04",
        resumed.get("status") == "in-process",
        "the dossier moves from fee-requested back to in-process",
        f"status {resumed.get('status')!r}",
    )
    unpaid = [
        o["id"]
        for o in fees_of(portal, dossier["id"])
        if o.get("id") in payment["obligationIds"] and o.get("status") != "paid"
    ]
    expect("PAY-04", not unpaid, "the paid obligations are marked paid", f"still unpaid: {unpaid}")


@pytest.mark.requirement("SEC-07")
def test_receive_payment_notification_refuses_a_forged_hash(
    portal: Portal, target: TargetConfig
) -> None:
    """A notification whose secureHash is not the HMAC under the shared secret is 401, no change."""
    secret = platform_secret(target)
    dossier, payment = pending_payment(portal)
    before = snapshot(portal, dossier["id"], payment["id"])
    wrong_key = notification(payment, secret + "-not-the-shared-secret")
    # PayGov's own construction, a plain SHA-256 of the fields and the secret: not the HMAC.
    plain = notification(payment, secret)
    fields = "|".join(str(plain[name]) for name in HASHED_FIELDS)
    plain["secureHash"] = hashlib.sha256((fields + secret).encode()).hexdigest()
    # A valid hash, then the amount changed in transit.
    tampered = notification(payment, secret)
    tampered["amount"] = payment["amount"] + 1000
    for forged in (wrong_key, plain, tampered):
        answer = notify(portal, forged)
        expect_refused("SEC-07", answer, {401}, why="secureHash does not verify")
    expect(
        "SEC-07",
        snapshot(portal, dossier["id"], payment["id"]) == before,
        "nothing changed: payment pending, dossier fee-requested, fees unpaid",
        f"state changed from {before}",
    )


@pytest.mark.requirement("PAY-05")
def test_receive_payment_notification_repeated_changes_nothing(
    portal: Portal, target: TargetConfig
) -> None:
    """A repeated delivery, or the same outcome under a new id, is a duplicate: nothing changes."""
    secret = platform_secret(target)
    dossier, payment = pending_payment(portal)
    body = notification(payment, secret)
    expect_status("PAY-05", notify(portal, body), 200, why="the first delivery is applied")
    before = snapshot(portal, dossier["id"], payment["id"])
    again = notify(portal, body)
    ack = expect_status("PAY-05", again, 200, why="a second delivery of an applied notification")
    expect("PAY-05", ack.get("status") == "duplicate", "status duplicate", repr(ack), again)
    other_id = {**body, "notificationId": new_key("ntf")}
    same_outcome = notify(portal, other_id)
    ack = expect_status("PAY-05", same_outcome, 200, why="the same outcome of the same transaction")
    expect("PAY-05", ack.get("status") == "duplicate", "status duplicate", repr(ack), same_outcome)
    expect(
        "PAY-05",
        snapshot(portal, dossier["id"], payment["id"]) == before,
        "nothing changed by the repeats",
        f"state changed from {before}",
    )


@pytest.mark.requirement("PAY-05")
def test_receive_payment_notification_with_another_amount_is_refused(
    portal: Portal, target: TargetConfig
) -> None:
    """A notification whose amount differs from the payment request is 422 and changes nothing."""
    secret = platform_secret(target)
    dossier, payment = pending_payment(portal)
    before = snapshot(portal, dossier["id"], payment["id"])
    for amount in (payment["amount"] + 1000, max(payment["amount"] - 1000, 0)):
        answer = notify(portal, notification(payment, secret, amount=amount))
        expect_refused(
            "PAY-05", answer, {422}, why=f"{amount} VND is not the {payment['amount']} VND asked"
        )
    expect(
        "PAY-05",
        snapshot(portal, dossier["id"], payment["id"]) == before,
        "nothing changed: payment pending, dossier fee-requested, fees unpaid",
        f"state changed from {before}",
    )


@pytest.mark.requirement("PAY-06")
def test_get_payment_receipt_is_the_platforms_signed_receipt_for_payer_and_agency(
    portal: Portal, target: TargetConfig
) -> None:
    """Once paid, payer and agency officer both get the e-receipt the platform's keys verify."""
    require_interface(target, "paymentPlatform")
    _, payment = pending_payment(portal)
    path = f"/platform/payment-requests/{payment['transactionId']}/payer-confirmation"
    paid = portal.call(
        "POST",
        "paymentPlatform",
        path,
        json={"outcome": "succeeded", "payerName": "Trần Thị Bích Ngọc", "bankCode": "VCB"},
    )
    if paid.status_code in (404, 405, 501):
        pytest.skip(
            "the payment platform offers no sandbox payer confirmation for "
            f"{payment['transactionId']} (HTTP {paid.status_code}), so the kit cannot pay"
        )
    expect_status("PAY-06", paid, 200, why="the sandbox payer pays at the platform")
    settled = poll(
        lambda: payment_of(portal, payment["id"]),
        lambda p: p.get("status") == "succeeded" and p.get("receiptAvailable") is True,
    )
    expect(
        "PAY-06",
        settled.get("status") == "succeeded" and settled.get("receiptAvailable") is True,
        "the payment succeeded and the portal holds the receipt (receiptAvailable)",
        f"status {settled.get('status')!r}, receiptAvailable {settled.get('receiptAvailable')!r}",
    )
    keys_answer = portal.call("GET", "paymentPlatform", "/platform/jwks")
    keys = key_set("PAY-06", keys_answer, "getPlatformJwks")
    for who in ("applicantA", "officer"):
        answer = portal.call("GET", "payments", f"/payments/{payment['id']}/receipt", as_=who)
        receipt = expect_status("PAY-06", answer, 200, why=f"the {who} reads the e-receipt")
        _, claims = verify_jws(
            "PAY-06", receipt.get("receipt"), keys, f"the e-receipt {who} got", answer, keys_answer
        )
        expect(
            "PAY-06",
            (claims.get("reference"), claims.get("amount"), claims.get("transactionId"))
            == (payment["reference"], payment["amount"], payment["transactionId"]),
            f"a receipt for {payment['reference']}, {payment['amount']} VND, transaction "
            f"{payment['transactionId']}",
            f"signed claims {claims}",
            answer,
        )
