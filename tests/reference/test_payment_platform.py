"""The sandbox payment platform of the reference server, through HTTP (Decree 45/2020 Art. 13).

Transactions for merchants a system collects for, the payer's outcome, the signed e-receipt,
the notification sent (with retries through the outbox) and reconciliation.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from reference_impl import platform
from reference_impl.clock import VN_TZ
from reference_impl.tables import deliveries

from .conftest import Server
from .support import assert_problem as problem
from .support import ok

ONE_STOP = "one-stop-h22"  # collects for Quảng Ninh's agencies

OTHER_ONE_STOP = "one-stop-h29"
SUBSCRIBER = "subscriber-h22-stp"
NPSP = "npsp-sandbox"
MERCHANT = "000.00.01.H22"
NOTIFY_ELSEWHERE = "https://portal.example/payments/notifications"


def auth(server: Server, client_id: str = ONE_STOP, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {server.system_token(client_id)}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def request_body(reference: str = "PAY-250317-000001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": reference,
        "merchantCode": MERCHANT,
        "amount": 75000,
        "currency": "VND",
        "lines": [
            {
                "code": "LEPHI",
                "name": "Lệ phí cấp bản sao",
                "amount": 75000,
                "dossierCode": f"{MERCHANT}-250317-0001",
                "procedureCode": "1.001193",
            }
        ],
        "description": "Nộp lệ phí hồ sơ 000.00.01.H22-250317-0001",
        "payerName": "Phạm Quốc Khánh",
        "notifyUrl": NOTIFY_ELSEWHERE,
    }
    body.update(changes)
    return body


def create(
    server: Server, body: dict[str, Any] | None = None, key: str = "k-1", client: str = ONE_STOP
) -> Any:
    return server.call(
        "POST",
        "/platform/payment-requests",
        json=body or request_body(),
        headers=auth(server, client, key),
    )


def confirm(server: Server, transaction_id: str, body: dict[str, Any] | None = None) -> Any:
    path = f"/platform/payment-requests/{transaction_id}/payer-confirmation"
    return server.call("POST", path, json=body or {"outcome": "succeeded", "bankCode": "VCB"})


def queued_notification(server: Server, transaction_id: str) -> Any:
    with server.services.database.transaction() as conn:
        return conn.execute(
            select(deliveries).where(
                deliveries.c.target == "platform-notify",
                deliveries.c.event_id == f"notify:{transaction_id}",
            )
        ).one()


# ---- keys ----------------------------------------------------------------------------------


def test_get_platform_jwks_publishes_public_keys_only(server: Server) -> None:
    """getPlatformJwks: an EC signing key, without private members."""
    keys = ok(server.call("GET", "/platform/jwks"))["keys"]
    assert [(k["kty"], k["use"], k["alg"]) for k in keys] == [("EC", "sig", "ES256")]
    assert "d" not in keys[0]


# ---- creating transactions -----------------------------------------------------------------


def test_create_platform_payment_makes_a_pending_transaction(server: Server) -> None:
    """201 with Location; the same key and body replay it, another body is 422."""
    created = create(server)
    transaction = ok(created, 201)
    assert (
        created.headers["Location"] == f"/platform/payment-requests/{transaction['transactionId']}"
    )
    assert transaction["status"] == "pending"
    assert transaction["reference"] == "PAY-250317-000001"
    assert transaction["merchantCode"] == MERCHANT
    assert transaction["amount"] == 75000
    assert transaction["notification"] == {"attempts": 0}
    assert transaction["checkoutUrl"].endswith(transaction["transactionId"])
    again = create(server)
    assert again.status_code in (200, 201)
    assert again.json()["transactionId"] == transaction["transactionId"]
    problem(create(server, request_body("PAY-250317-000002")), 422, "#/header/Idempotency-Key")
    keyless = server.call(
        "POST", "/platform/payment-requests", json=request_body(), headers=auth(server)
    )
    problem(keyless, 400, "#/header/Idempotency-Key")


def test_create_platform_payment_refuses_a_reused_reference(server: Server) -> None:
    """The same reference under another key: 409."""
    ok(create(server), 201)
    body = problem(create(server, key="k-2"), 409)
    assert "PAY-250317-000001" in body["detail"]


def test_create_platform_payment_lists_every_domain_problem(server: Server) -> None:
    """Lines that do not add up and an unknown merchant: one 422 naming both."""
    body = request_body(amount=1, merchantCode="999.99.99.H99")
    answer = problem(create(server, body), 422)
    assert {(e["pointer"], e["rule"]) for e in answer["errors"]} == {
        ("/amount", "amount-sum"),
        ("/merchantCode", "unknown-merchant"),
    }


def test_create_platform_payment_only_for_merchants_the_client_serves(server: Server) -> None:
    """Another province's one-stop system, a subscriber, an applicant: 403."""
    problem(create(server, client=OTHER_ONE_STOP), 403)
    problem(create(server, client=SUBSCRIBER, key="k-2"), 403)
    applicant = server.call(
        "POST",
        "/platform/payment-requests",
        who="079190012345",
        json=request_body(),
        headers={"Idempotency-Key": "k-3"},
    )
    problem(applicant, 403)
    assert ok(create(server, client=NPSP, key="k-4"), 201)["merchantCode"] == MERCHANT


# ---- reading -------------------------------------------------------------------------------


def test_get_platform_payment_is_for_clients_of_the_merchant(server: Server) -> None:
    """The creating client reads it; another province's system and unknown ids: 404."""
    transaction = ok(create(server), 201)
    path = f"/platform/payment-requests/{transaction['transactionId']}"
    assert ok(server.call("GET", path, headers=auth(server)))["status"] == "pending"
    problem(server.call("GET", path, headers=auth(server, OTHER_ONE_STOP)), 404)
    problem(server.call("GET", "/platform/payment-requests/PG-NONE", headers=auth(server)), 404)
    problem(server.call("GET", path), 401)


# ---- the payer's outcome -------------------------------------------------------------------


def test_confirm_signs_the_receipt_and_queues_the_notification(server: Server) -> None:
    """succeeded: paidAt, payer, bank, a receipt the JWKS verifies, a signed notification."""
    transaction_id = ok(create(server), 201)["transactionId"]
    body = {"outcome": "succeeded", "payerName": "Phạm Thị Hoa", "bankCode": "BIDV"}
    paid = ok(confirm(server, transaction_id, body))
    assert paid["status"] == "succeeded"
    assert paid["paidAt"] == "2025-03-17T09:00:00+07:00"
    assert (paid["payerName"], paid["bankCode"]) == ("Phạm Thị Hoa", "BIDV")
    assert paid["notification"] == {"attempts": 0}  # another server: the outbox delivers it
    keys = KeySet.import_key_set(ok(server.call("GET", "/platform/jwks")))
    claims = json.loads(jws.deserialize_compact(paid["receipt"], keys).payload)
    assert claims == {
        "reference": paid["reference"],
        "transactionId": transaction_id,
        "amount": 75000,
        "currency": "VND",
        "paidAt": paid["paidAt"],
        "payerName": "Phạm Thị Hoa",
        "agencyCode": MERCHANT,
        "lines": paid["lines"],
    }
    queued = queued_notification(server, transaction_id)
    assert (queued.url, queued.method, queued.status) == (NOTIFY_ELSEWHERE, "POST", "pending")
    sent = queued.body
    assert sent["notificationId"] == f"ntf-{transaction_id}"
    assert (sent["status"], sent["amount"], sent["paidAt"]) == ("succeeded", 75000, paid["paidAt"])
    secret = server.services.settings.platform_secret
    assert sent["secureHash"] == platform.secure_hash(secret, sent)
    problem(confirm(server, transaction_id), 409)


def test_confirm_failure_has_no_receipt(server: Server) -> None:
    """failed: the outcome time, no receipt; the portal's name stays the payer's."""
    transaction_id = ok(create(server), 201)["transactionId"]
    failed = ok(confirm(server, transaction_id, {"outcome": "failed"}))
    assert failed["status"] == "failed"
    assert "receipt" not in failed
    assert failed["payerName"] == "Phạm Quốc Khánh"
    assert queued_notification(server, transaction_id).body["status"] == "failed"
    problem(confirm(server, transaction_id, {"outcome": "succeeded"}), 409)


def test_confirm_unknown_transaction_is_404(server: Server) -> None:
    """confirmPlatformPayment: no such transaction."""
    problem(confirm(server, "PG-NONE"), 404)
    problem(confirm(server, "PG-NONE", {"outcome": "maybe"}), 400, "/outcome")


def test_notification_to_this_server_is_attempted_at_once(server: Server) -> None:
    """notifyUrl on this server: the first attempt is made before answering (here a 404)."""
    body = request_body(notifyUrl="http://testserver/payments/notifications")
    transaction_id = ok(create(server, body), 201)["transactionId"]
    paid = ok(confirm(server, transaction_id))
    assert paid["notification"] == {"attempts": 1, "lastStatus": 404}


def test_notification_report_follows_the_outbox(server: Server) -> None:
    """Retries by the outbox show in ``notification``: attempts and the last HTTP status."""
    transaction_id = ok(create(server), 201)["transactionId"]
    ok(confirm(server, transaction_id))
    path = f"/platform/payment-requests/{transaction_id}"
    key = (deliveries.c.target == "platform-notify") & (
        deliveries.c.event_id == f"notify:{transaction_id}"
    )
    with server.services.database.transaction() as conn:
        conn.execute(update(deliveries).where(key).values(attempts=2, last_error="HTTP 503"))
    assert ok(server.call("GET", path, headers=auth(server)))["notification"] == {
        "attempts": 2,
        "lastStatus": 503,
    }
    with server.services.database.transaction() as conn:
        conn.execute(update(deliveries).where(key).values(attempts=3, status="delivered"))
    assert ok(server.call("GET", path, headers=auth(server)))["notification"] == {
        "attempts": 3,
        "lastStatus": 200,
    }


# ---- reconciliation ------------------------------------------------------------------------


def test_list_platform_transactions_filters_for_reconciliation(server: Server) -> None:
    """By merchant served, status and day; from after to is 400; a non-collector is 403."""
    first = ok(create(server), 201)["transactionId"]
    server.clock.set(datetime(2025, 3, 18, 10, 0, tzinfo=VN_TZ))
    second = ok(create(server, request_body("PAY-250318-000001"), key="k-2"), 201)["transactionId"]
    ok(confirm(server, second))

    def ids(query: str = "", client: str = ONE_STOP) -> list[str]:
        answer = server.call(
            "GET", f"/platform/reconciliation{query}", headers=auth(server, client)
        )
        return [t["transactionId"] for t in ok(answer)["items"]]

    assert ids() == [first, second]
    assert ids(client=NPSP) == [first, second]
    assert ids(client=OTHER_ONE_STOP) == []
    assert ids("?status=succeeded") == [second]
    assert ids("?status=pending") == [first]
    assert ids("?from=2025-03-18") == [second]
    assert ids("?to=2025-03-17") == [first]
    page = ok(server.call("GET", "/platform/reconciliation?limit=1", headers=auth(server)))
    assert page["nextCursor"]
    rest = f"/platform/reconciliation?limit=1&cursor={page['nextCursor']}"
    assert [
        t["transactionId"] for t in ok(server.call("GET", rest, headers=auth(server)))["items"]
    ] == [second]
    wrong = "/platform/reconciliation?from=2025-03-18&to=2025-03-17"
    problem(server.call("GET", wrong, headers=auth(server)), 422, "#/query/from")
    problem(server.call("GET", "/platform/reconciliation", headers=auth(server, SUBSCRIBER)), 403)
    problem(server.call("GET", "/platform/reconciliation", who="canbo.h22.honghai.01"), 403)
