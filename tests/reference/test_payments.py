"""Payments of the reference server, through HTTP (Decree 45/2020/ND-CP Art. 13).

Fee obligations, payment requests, the platform's authenticated notifications and the signed
e-receipt that reaches both the payer and the agency. The conventions' "Payment notifications"
rules are checked one by one: a forged, mismatched, repeated or contradicting notification
changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from egov_contract import fixtures_dir
from reference_impl import platform
from reference_impl.clock import VN_TZ
from reference_impl.signing import sign_json
from reference_impl.tables import deliveries, dossiers, fee_obligations, outbox, payments

from .conftest import Server, make_server
from .support import assert_problem as problem
from .support import ok

APPLICANT = "079190012345"  # Trần Thị Bích Ngọc
OTHER_APPLICANT = "001203012345"
OFFICER = "canbo.h22.honghai.01"  # 000.00.01.H22
OTHER_OFFICER = "canbo.h22.baichay.01"  # 000.00.02.H22
AGENCY = "000.00.01.H22"
OTHER_AGENCY = "000.00.02.H22"
PROCEDURE = "1.001193"  # birth registration: no fee on submission
FEE = {"code": "BSTL", "name": "Phí cấp bản sao trích lục", "amount": 8000}
NPSP = "npsp-sandbox"


# ---- helpers -------------------------------------------------------------------------------


def upload(name: str) -> dict[str, str]:
    media = {"pdf": "application/pdf", "png": "image/png"}[name.rsplit(".", 1)[1]]
    content = (fixtures_dir() / "documents" / name).read_bytes()
    return {
        "fileName": name,
        "mediaType": media,
        "contentBase64": base64.b64encode(content).decode(),
    }


def fee_requested(
    server: Server,
    who: str = APPLICANT,
    agency: str = AGENCY,
    officer: str = OFFICER,
    fee: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """A dossier in ``fee-requested`` through the dossiers API; its id and obligation id."""
    form = json.loads((fixtures_dir() / "forms" / f"{PROCEDURE}.sample.json").read_text("utf-8"))
    body = {"procedureCode": PROCEDURE, "agencyCode": agency, "form": form}
    dossier_id = ok(server.call("POST", "/dossiers", who=who, json=body), 201)["id"]
    for code, name in (("TKKS", "sample.pdf"), ("GCS", "sample.png")):
        component = {"componentCode": code, "file": upload(name)}
        ok(server.call("POST", f"/dossiers/{dossier_id}/components", who=who, json=component), 201)
    ok(server.call("POST", f"/dossiers/{dossier_id}/submission", who=who))
    ok(server.call("POST", f"/dossiers/{dossier_id}/acceptance", who=officer, json={}))
    ok(server.call("POST", f"/dossiers/{dossier_id}/processing", who=officer))
    notice = {"fees": [fee or FEE]}
    ok(server.call("POST", f"/dossiers/{dossier_id}/fee-notice", who=officer, json=notice))
    obligations = ok(server.call("GET", f"/dossiers/{dossier_id}/fees", who=who))["items"]
    return dossier_id, obligations[0]["id"]


def request_payment(
    server: Server, obligation_ids: list[str], key: str = "pay-1", who: str = APPLICANT
) -> Any:
    return server.call(
        "POST",
        "/payments",
        who=who,
        json={"obligationIds": obligation_ids},
        headers={"Idempotency-Key": key},
    )


def confirm(server: Server, payment: dict[str, Any], outcome: str = "succeeded") -> Any:
    body = {"outcome": outcome, "payerName": "Trần Thị Bích Ngọc", "bankCode": "VCB"}
    path = f"/platform/payment-requests/{payment['transactionId']}/payer-confirmation"
    return ok(server.call("POST", path, json=body))


def notification(server: Server, payment: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A notification of ``payment`` with a valid ``secureHash`` (after ``changes``)."""
    body: dict[str, Any] = {
        "notificationId": "ntf-test-1",
        "reference": payment["reference"],
        "transactionId": payment["transactionId"],
        "amount": payment["amount"],
        "currency": "VND",
        "status": "succeeded",
        "paidAt": "2025-03-17T09:05:00+07:00",
        **changes,
    }
    body["secureHash"] = platform.secure_hash(server.services.settings.platform_secret, body)
    return body


def notify(server: Server, body: dict[str, Any]) -> Any:
    return server.call("POST", "/payments/notifications", json=body)


def state(server: Server, dossier_id: str) -> tuple[Any, ...]:
    """Everything a payment notification may change, to prove that one changed nothing."""
    with server.services.database.transaction() as conn:
        return (
            [row.doc for row in conn.execute(select(payments.c.doc).order_by(payments.c.seq))],
            [row.doc for row in conn.execute(select(fee_obligations.c.doc))],
            conn.execute(select(dossiers.c.doc).where(dossiers.c.id == dossier_id)).scalar(),
            conn.execute(select(func.count()).select_from(outbox)).scalar(),
            conn.execute(select(func.count()).select_from(deliveries)).scalar(),
        )


def system(server: Server, client_id: str = NPSP) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.system_token(client_id)}"}


def pending_payment(server: Server, key: str = "pay-1") -> tuple[str, dict[str, Any]]:
    dossier_id, obligation_id = fee_requested(server)
    return dossier_id, ok(request_payment(server, [obligation_id], key=key), 201)


# ---- the whole way -------------------------------------------------------------------------


def test_fee_notice_is_paid_online_and_the_dossier_resumes(server: Server) -> None:
    """Fee notice → obligation → payment → payer pays → paid, dossier back in process."""
    dossier_id, obligation_id = fee_requested(server)
    obligation = ok(server.call("GET", f"/dossiers/{dossier_id}/fees", who=OFFICER))["items"][0]
    assert obligation["lines"] == [FEE]
    assert (obligation["total"], obligation["currency"]) == (8000, "VND")
    assert (obligation["due"], obligation["status"]) == ("on-notice", "unpaid")

    created = request_payment(server, [obligation_id])
    payment = ok(created, 201)
    assert created.headers["Location"] == f"/payments/{payment['id']}"
    assert payment["status"] == "pending"
    assert payment["amount"] == 8000
    assert payment["agencyCode"] == AGENCY
    assert payment["lines"][0]["obligationId"] == obligation_id
    assert payment["receiptAvailable"] is False

    transaction = confirm(server, payment)
    assert transaction["status"] == "succeeded"
    assert transaction["notification"] == {
        "attempts": 1,
        "lastStatus": 200,
        "deliveredAt": "2025-03-17T09:00:00+07:00",
    }

    paid = ok(server.call("GET", f"/payments/{payment['id']}", who=APPLICANT))
    assert paid["status"] == "succeeded"
    assert paid["paidAt"] == transaction["paidAt"]
    assert paid["receiptAvailable"] is True
    fees = ok(server.call("GET", f"/dossiers/{dossier_id}/fees?status=paid", who=APPLICANT))
    assert [(o["id"], o["paymentId"]) for o in fees["items"]] == [(obligation_id, payment["id"])]
    assert ok(server.call("GET", f"/dossiers/{dossier_id}/fees?status=unpaid", who=APPLICANT)) == {
        "items": [],
        "nextCursor": None,
    }
    dossier = ok(server.call("GET", f"/dossiers/{dossier_id}", who=APPLICANT))
    assert (dossier["status"], dossier["statusCode"]) == ("in-process", 4)
    last = ok(server.call("GET", f"/dossiers/{dossier_id}/history", who=APPLICANT))["items"][-1]
    assert last["action"] == "receivePaymentNotification"
    assert last["actor"] == {"role": "platform"}
    assert (last["fromStatus"], last["toStatus"]) == ("fee-requested", "in-process")


def test_payment_completed_is_announced_notified_and_synced(server: Server) -> None:
    """payment.completed event, the payer's notification and the NPSP push, all queued."""
    dossier_id, payment = pending_payment(server)
    confirm(server, payment)
    dossier = ok(server.call("GET", f"/dossiers/{dossier_id}", who=APPLICANT))
    path = "/events?type=vn.gov.egov.payment.completed"
    completed = ok(server.call("GET", path, headers=system(server)))["items"]
    assert [e["data"] for e in completed] == [
        {
            "paymentId": payment["id"],
            "reference": payment["reference"],
            "dossierCode": dossier["code"],
            "amount": 8000,
            "currency": "VND",
            "paidAt": "2025-03-17T09:00:00+07:00",
        }
    ]
    assert completed[0]["subject"] == dossier["code"]
    inbox = ok(server.call("GET", "/accounts/me/notifications", who=APPLICANT))["items"]
    assert [n["refs"] for n in inbox if n["kind"] == "payment-completed"] == [
        {"paymentId": payment["id"]}
    ]
    with server.services.database.transaction() as conn:
        push = conn.execute(
            select(deliveries).where(deliveries.c.event_id == f"payment:{payment['reference']}")
        ).one()
    assert (push.target, push.method) == ("npsp-sync", "POST")
    assert push.url == "http://testserver/sync/payments"
    assert push.body == {
        "reference": payment["reference"],
        "dossierCode": dossier["code"],
        "amount": 8000,
        "currency": "VND",
        "status": "succeeded",
        "paidAt": "2025-03-17T09:00:00+07:00",
        "transactionId": payment["transactionId"],
    }


def test_receipt_verifies_with_the_platform_keys_for_payer_and_officer(server: Server) -> None:
    """The e-receipt is the platform's JWS; payer and agency officer both read it (Art. 13)."""
    _, payment = pending_payment(server)
    confirm(server, payment)
    keys = KeySet.import_key_set(ok(server.call("GET", "/platform/jwks")))
    for who in (APPLICANT, OFFICER):
        receipt = ok(server.call("GET", f"/payments/{payment['id']}/receipt", who=who))
        assert (receipt["paymentId"], receipt["reference"]) == (payment["id"], payment["reference"])
        verified = jws.deserialize_compact(receipt["receipt"], keys)
        assert verified.headers()["alg"] == "ES256"
        claims = json.loads(verified.payload)
        assert claims == receipt["claims"]
        assert claims["amount"] == 8000
        assert claims["agencyCode"] == AGENCY
        assert claims["payerName"] == "Trần Thị Bích Ngọc"
        assert claims["transactionId"] == payment["transactionId"]


def test_receipt_is_409_until_the_payment_succeeds(server: Server) -> None:
    """getPaymentReceipt: no receipt for a pending or failed payment."""
    _, payment = pending_payment(server)
    body = problem(server.call("GET", f"/payments/{payment['id']}/receipt", who=APPLICANT), 409)
    assert "pending" in body["detail"]
    confirm(server, payment, "failed")
    problem(server.call("GET", f"/payments/{payment['id']}/receipt", who=OFFICER), 409)


# ---- notifications -------------------------------------------------------------------------


def test_forged_notification_is_401_and_changes_nothing(server: Server) -> None:
    """A secureHash that is not the HMAC under the shared secret: 401, nothing changes."""
    dossier_id, payment = pending_payment(server)
    before = state(server, dossier_id)
    forged = notification(server, payment)
    forged["secureHash"] = "0" * 64
    problem(notify(server, forged), 401)
    tampered = {**notification(server, payment), "amount": 1}
    problem(notify(server, tampered), 401)
    assert state(server, dossier_id) == before


def test_repeated_notification_is_a_duplicate_and_changes_nothing(server: Server) -> None:
    """The outbox's later delivery, and the same outcome under another id: 200 duplicate."""
    dossier_id, payment = pending_payment(server)
    confirm(server, payment)
    with server.services.database.transaction() as conn:
        queued = conn.execute(
            select(deliveries.c.body).where(
                deliveries.c.target == "platform-notify",
                deliveries.c.event_id == f"notify:{payment['transactionId']}",
            )
        ).scalar_one()
    before = state(server, dossier_id)
    assert ok(notify(server, queued)) == {"status": "duplicate", "paymentId": payment["id"]}
    again = notification(server, payment, notificationId="ntf-other", paidAt=queued["paidAt"])
    assert ok(notify(server, again))["status"] == "duplicate"
    assert state(server, dossier_id) == before


def test_notification_applied_over_http_then_replayed(server: Server) -> None:
    """A notification posted by a platform: applied once, then duplicate."""
    dossier_id, payment = pending_payment(server)
    body = notification(server, payment)
    assert ok(notify(server, body)) == {"status": "applied", "paymentId": payment["id"]}
    paid = ok(server.call("GET", f"/payments/{payment['id']}", who=APPLICANT))
    assert (paid["status"], paid["paidAt"]) == ("succeeded", body["paidAt"])
    before = state(server, dossier_id)
    assert ok(notify(server, body))["status"] == "duplicate"
    assert state(server, dossier_id) == before


def test_mismatched_notification_is_422_and_changes_nothing(server: Server) -> None:
    """Another amount or transaction than the payment request's: 422 naming each."""
    dossier_id, payment = pending_payment(server)
    before = state(server, dossier_id)
    wrong = notification(server, payment, amount=7000, transactionId="PG-OTHER")
    body = problem(notify(server, wrong), 422)
    assert {e["pointer"] for e in body["errors"]} == {"/amount", "/transactionId"}
    assert state(server, dossier_id) == before
    other_currency = {**notification(server, payment), "currency": "USD"}
    problem(notify(server, other_currency), 400, "/currency")


def test_notification_of_an_unknown_reference_is_404(server: Server) -> None:
    """receivePaymentNotification: no payment with that reference."""
    _, payment = pending_payment(server)
    problem(notify(server, notification(server, payment, reference="PAY-000000-UNKNOWN")), 404)


def test_contradicting_outcome_is_409_and_changes_nothing(server: Server) -> None:
    """failed after succeeded (and succeeded after failed): 409."""
    dossier_id, payment = pending_payment(server)
    confirm(server, payment)
    before = state(server, dossier_id)
    failed = notification(server, payment, notificationId="ntf-late", status="failed")
    body = problem(notify(server, failed), 409)
    assert body["currentStatus"] == "succeeded"
    assert state(server, dossier_id) == before

    _, second = pending_payment(server, key="pay-2")
    confirm(server, second, "failed")
    problem(notify(server, notification(server, second, notificationId="ntf-x")), 409)


def test_failed_payment_leaves_the_fees_unpaid_and_can_be_retried(server: Server) -> None:
    """A failure: payment failed, obligation unpaid, dossier still waiting; a new request works."""
    dossier_id, obligation_id = fee_requested(server)
    payment = ok(request_payment(server, [obligation_id]), 201)
    assert confirm(server, payment, "failed")["notification"]["lastStatus"] == 200
    failed = ok(server.call("GET", f"/payments/{payment['id']}", who=APPLICANT))
    assert failed["status"] == "failed"
    assert ok(server.call("GET", f"/dossiers/{dossier_id}", who=APPLICANT))["status"] == (
        "fee-requested"
    )
    retry = ok(request_payment(server, [obligation_id], key="pay-2"), 201)
    confirm(server, retry)
    assert ok(server.call("GET", f"/dossiers/{dossier_id}", who=APPLICANT))["status"] == (
        "in-process"
    )


def test_success_of_a_cancelled_payment_is_still_recorded(server: Server) -> None:
    """An abandoned checkout is cancelled by a new request; its late success is applied."""
    dossier_id, obligation_id = fee_requested(server)
    first = ok(request_payment(server, [obligation_id], key="first"), 201)
    second = ok(request_payment(server, [obligation_id], key="second"), 201)
    assert ok(server.call("GET", f"/payments/{first['id']}", who=APPLICANT))["status"] == (
        "cancelled"
    )
    confirm(server, second)
    confirm(server, first)
    assert ok(server.call("GET", f"/payments/{first['id']}", who=OFFICER))["status"] == (
        "succeeded"
    )
    fees = ok(server.call("GET", f"/dossiers/{dossier_id}/fees", who=APPLICANT))["items"]
    assert fees[0]["paymentId"] == second["id"]


# ---- creating payment requests -------------------------------------------------------------


def test_create_payment_request_replays_the_same_idempotency_key(server: Server) -> None:
    """Same key and body: the same payment, created once; another body: 422; no key: 400."""
    _, obligation_id = fee_requested(server)
    first = ok(request_payment(server, [obligation_id], key="same"), 201)
    again = request_payment(server, [obligation_id], key="same")
    assert again.status_code in (200, 201)
    assert again.json() == first
    with server.services.database.transaction() as conn:
        assert conn.execute(select(func.count()).select_from(payments)).scalar() == 1
    _, other_obligation = fee_requested(server)
    reused = request_payment(server, [other_obligation], key="same")
    problem(reused, 422, "#/header/Idempotency-Key")
    keyless = server.call("POST", "/payments", who=APPLICANT, json={"obligationIds": ["x"]})
    problem(keyless, 400, "#/header/Idempotency-Key")


def test_create_payment_request_refuses_unknown_and_foreign_obligations(server: Server) -> None:
    """422 naming every obligation that is not the caller's, or owed to another agency."""
    _, mine = fee_requested(server)
    _, elsewhere = fee_requested(server, agency=OTHER_AGENCY, officer=OTHER_OFFICER)
    _, theirs = fee_requested(server, who=OTHER_APPLICANT)
    answer = request_payment(server, [mine, "fee-missing", theirs, elsewhere])
    body = problem(answer, 422)
    assert [(e["pointer"], e["rule"]) for e in body["errors"]] == [
        ("/obligationIds/1", "unknown-obligation"),
        ("/obligationIds/2", "unknown-obligation"),
        ("/obligationIds/3", "one-agency"),
    ]
    with server.services.database.transaction() as conn:
        assert conn.execute(select(func.count()).select_from(payments)).scalar() == 0


def test_create_payment_request_for_a_paid_obligation_is_409(server: Server) -> None:
    """An obligation already paid cannot be paid again."""
    _, obligation_id = fee_requested(server)
    confirm(server, ok(request_payment(server, [obligation_id]), 201))
    problem(request_payment(server, [obligation_id], key="pay-again"), 409)


def test_only_applicants_create_payment_requests(server: Server) -> None:
    """An officer calling createPaymentRequest: 403."""
    _, obligation_id = fee_requested(server)
    problem(request_payment(server, [obligation_id], who=OFFICER), 403)


# ---- reading -------------------------------------------------------------------------------


def test_other_parties_cannot_read_a_payment_or_its_receipt(server: Server) -> None:
    """Another applicant and another agency's officer: 404; the agency's officer: 200."""
    _, payment = pending_payment(server)
    confirm(server, payment)
    for who in (OTHER_APPLICANT, OTHER_OFFICER):
        problem(server.call("GET", f"/payments/{payment['id']}", who=who), 404)
        problem(server.call("GET", f"/payments/{payment['id']}/receipt", who=who), 404)
    assert ok(server.call("GET", f"/payments/{payment['id']}", who=OFFICER))["id"] == payment["id"]
    problem(server.call("GET", "/payments/pay-none", who=APPLICANT), 404)


def test_list_dossier_fees_is_for_the_owner_and_the_agency(server: Server) -> None:
    """listDossierFees: another applicant or agency sees no such dossier."""
    dossier_id, _ = fee_requested(server)
    for who in (OTHER_APPLICANT, OTHER_OFFICER):
        problem(server.call("GET", f"/dossiers/{dossier_id}/fees", who=who), 404)
    problem(server.call("GET", "/dossiers/none/fees", who=APPLICANT), 404)
    problem(server.call("GET", f"/dossiers/{dossier_id}/fees?status=owed", who=APPLICANT), 400)


def test_list_payments_filters_for_reconciliation(server: Server) -> None:
    """Officers see their agency's payments, systems all; status, agency and date filters."""
    _, here = pending_payment(server)
    server.clock.set(datetime(2025, 3, 18, 10, 0, tzinfo=VN_TZ))
    _, obligation = fee_requested(server, agency=OTHER_AGENCY, officer=OTHER_OFFICER)
    there = ok(request_payment(server, [obligation], key="there"), 201)
    confirm(server, there)

    def ids(path: str, **kwargs: Any) -> list[str]:
        return [p["id"] for p in ok(server.call("GET", path, **kwargs))["items"]]

    assert ids("/payments", who=OFFICER) == [here["id"]]
    assert ids(f"/payments?agencyCode={AGENCY}", who=OFFICER) == [here["id"]]
    problem(server.call("GET", f"/payments?agencyCode={OTHER_AGENCY}", who=OFFICER), 403)
    assert ids("/payments", headers=system(server)) == [here["id"], there["id"]]
    assert ids("/payments?status=succeeded", headers=system(server)) == [there["id"]]
    assert ids(f"/payments?agencyCode={OTHER_AGENCY}", headers=system(server)) == [there["id"]]
    assert ids("/payments?from=2025-03-18", headers=system(server)) == [there["id"]]
    assert ids("/payments?to=2025-03-17", headers=system(server)) == [here["id"]]
    page = ok(server.call("GET", "/payments?limit=1", headers=system(server)))
    assert len(page["items"]) == 1
    assert page["nextCursor"]
    problem(
        server.call("GET", "/payments?from=2025-03-18&to=2025-03-17", headers=system(server)),
        422,
        "#/query/from",
    )
    problem(server.call("GET", "/payments", who=APPLICANT), 403)


# ---- a portal whose platform is another server ---------------------------------------------


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, list[Any]]]:
    """A portal whose payment platform is at another URL, answered by a stand-in."""
    seen: list[httpx.Request] = []
    holder: dict[str, Any] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        services = holder["server"].services
        if request.url.path == "/platform/jwks":
            return httpx.Response(200, json=services.keys.public_jwks("platform"))
        if request.method == "POST":
            holder["transaction"] = {
                **json.loads(request.content),
                "transactionId": "PG-REMOTE-1",
                "status": "pending",
                "checkoutUrl": "https://paygov.example/checkout/PG-REMOTE-1",
            }
            return httpx.Response(201, json=holder["transaction"])
        paid = {**holder["transaction"], "paidAt": "2025-03-17T09:05:00+07:00"}
        receipt = sign_json(services.keys, "platform", platform.receipt_claims(paid))
        return httpx.Response(200, json={**paid, "status": "succeeded", "receipt": receipt})

    def client(services: Any) -> httpx.Client:
        return httpx.Client(
            base_url="https://paygov.example", transport=httpx.MockTransport(answer)
        )

    monkeypatch.setattr(platform, "platform_client", client)
    for server in make_server(tmp_path, platform_url="https://paygov.example"):
        holder["server"] = server
        yield server, seen


def test_remote_platform_gets_the_transaction_and_receipt_over_http(
    remote: tuple[Server, list[Any]],
) -> None:
    """createPaymentRequest calls the platform with a key and a token; the receipt is fetched."""
    server, seen = remote
    _, obligation_id = fee_requested(server)
    payment = ok(request_payment(server, [obligation_id]), 201)
    assert payment["transactionId"] == "PG-REMOTE-1"
    created = seen[0]
    assert created.url.path == "/platform/payment-requests"
    assert created.headers["Idempotency-Key"] == f"portal-{payment['reference']}"
    caller = server.services.verifier.verify(created.headers["Authorization"])
    assert (caller.role, caller.client_id) == ("system", platform.PORTAL_CLIENT_ID)
    sent = json.loads(created.content)
    assert sent["notifyUrl"] == "http://testserver/payments/notifications"
    assert sent["merchantCode"] == AGENCY
    assert sent["payerName"] == "Trần Thị Bích Ngọc"

    assert ok(notify(server, notification(server, payment)))["status"] == "applied"
    assert [request.url.path for request in seen[1:]] == [
        "/platform/payment-requests/PG-REMOTE-1",
        "/platform/jwks",
    ]
    receipt = ok(server.call("GET", f"/payments/{payment['id']}/receipt", who=APPLICANT))
    assert receipt["claims"]["reference"] == payment["reference"]
    assert receipt["claims"]["transactionId"] == "PG-REMOTE-1"


def test_platform_refusal_is_502_and_creates_no_payment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remote platform fails: the portal answers 502 and keeps no half-made payment."""

    def client(services: Any) -> httpx.Client:
        transport = httpx.MockTransport(lambda request: httpx.Response(503, text="down"))
        return httpx.Client(base_url="https://paygov.example", transport=transport)

    monkeypatch.setattr(platform, "platform_client", client)
    # 5xx answers are not in the spec, so this one test runs without response validation.
    options = {"platform_url": "https://paygov.example", "validate_responses": False}
    for server in make_server(tmp_path, **options):
        _, obligation_id = fee_requested(server)
        body = problem(request_payment(server, [obligation_id]), 502)
        assert "HTTP 503" in body["detail"]
        with server.services.database.transaction() as conn:
            assert conn.execute(select(func.count()).select_from(payments)).scalar() == 0
