"""Fault probes of the ecopies, payments, payment-platform, results, repository, requests,
events and sync interfaces.

A probe is True when the server does what the requirement the fault names asks: the healthy
server must pass it and the faulty one fail it (test_faults.py).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from reference_impl import printout
from reference_impl.tables import deliveries

from .conftest import Server
from .flows import (
    ANSWER,
    LATER,
    OTHER_SYSTEM,
    QUESTION,
    SNAPSHOT,
    answered_request,
    ask_agency,
    ask_ecopy,
    cancel,
    create_transaction,
    deliver,
    delivered,
    events,
    fee_requested,
    issue_ecopy,
    notification,
    notifications,
    notify,
    pay_at_platform,
    pending_payment,
    receiving,
    register,
    repository,
    request_payment,
    resolved,
    signed_by,
    stored_item,
    subscribe,
    system,
    webhook_signature,
)
from .probes_core import Probe
from .support import ok
from .test_dossiers import APPLICANT, OFFICER, OTHER_APPLICANT, document_bytes, read, submitted
from .test_printout import flat

ORGANISATION = "5700101059"
CANCELLED = "result.cancelled"
ANSWERED = "request.answered"


def _hidden(status: int) -> bool:
    return status in (403, 404)


# ---- ecopies -------------------------------------------------------------------------------


def others_ecopy_hidden(server: Server) -> bool:
    ecopy = ask_ecopy(server)
    return _hidden(server.call("GET", f"/ecopies/{ecopy['id']}", who=OTHER_APPLICANT).status_code)


def register_copy_downloadable(server: Server) -> bool:
    ecopy = issue_ecopy(server, ask_ecopy(server)["id"])
    answer = server.call("GET", f"/ecopies/{ecopy['id']}/content", who=APPLICANT)
    return answer.status_code == 200 and answer.content[:5] == b"%PDF-"


def certified_copy_issued(server: Server) -> bool:
    ecopy = ask_ecopy(server, "certified-copy")
    issue_ecopy(server, ecopy["id"])
    shown = ok(server.call("GET", f"/ecopies/{ecopy['id']}", who=APPLICANT))
    return bool(shown["status"] == "issued")


def ecopy_signature_verifies(server: Server) -> bool:
    ecopy = issue_ecopy(server, ask_ecopy(server)["id"])
    return signed_by(ecopy["signature"], ok(server.client.get("/results-jwks")))


# ---- payments ------------------------------------------------------------------------------


def bad_hash_refused(server: Server) -> bool:
    dossier_id, payment = pending_payment(server)
    forged = {**notification(server, payment), "secureHash": "0" * 64}
    refused = notify(server, forged).status_code == 401
    return refused and read(server, dossier_id)["status"] == "fee-requested"


def replay_changes_nothing(server: Server) -> bool:
    _, payment = pending_payment(server)
    body = notification(server, payment)
    ok(notify(server, body))
    again = ok(notify(server, body))
    paid = [n for n in notifications(server) if n["kind"] == "payment-completed"]
    return again["status"] == "duplicate" and len(paid) == 1


def wrong_amount_refused(server: Server) -> bool:
    dossier_id, payment = pending_payment(server)
    body = notification(server, payment, amount=payment["amount"] + 1000)
    refused = notify(server, body).status_code == 422
    return refused and read(server, dossier_id)["status"] == "fee-requested"


def payment_created_once(server: Server) -> bool:
    _, obligation_id = fee_requested(server)
    first = ok(request_payment(server, obligation_id), 201)
    again = request_payment(server, obligation_id)
    return again.status_code == 201 and again.json()["id"] == first["id"]


def officer_gets_receipt(server: Server) -> bool:
    _, payment = pending_payment(server)
    pay_at_platform(server, payment["transactionId"])
    answer = server.call("GET", f"/payments/{payment['id']}/receipt", who=OFFICER)
    return answer.status_code == 200


def payment_resumes_dossier(server: Server) -> bool:
    dossier_id, payment = pending_payment(server)
    pay_at_platform(server, payment["transactionId"])
    return read(server, dossier_id)["status"] == "in-process"


def amount_is_integer(server: Server) -> bool:
    _, payment = pending_payment(server)
    shown = ok(server.call("GET", f"/payments/{payment['id']}", who=APPLICANT))
    return isinstance(shown["amount"], int)


# ---- payment-platform ----------------------------------------------------------------------


def receipt_verifies(server: Server) -> bool:
    transaction = ok(create_transaction(server), 201)
    paid = pay_at_platform(server, transaction["transactionId"])
    return signed_by(paid["receipt"], ok(server.client.get("/platform/jwks")))


def transaction_created_once(server: Server) -> bool:
    first = ok(create_transaction(server), 201)
    again = create_transaction(server)
    return again.status_code == 201 and again.json()["transactionId"] == first["transactionId"]


def portal_accepts_platform_hash(server: Server) -> bool:
    _, payment = pending_payment(server)
    pay_at_platform(server, payment["transactionId"])
    shown = ok(server.call("GET", f"/payments/{payment['id']}", who=APPLICANT))
    return bool(shown["status"] == "succeeded")


def others_transactions_hidden(server: Server) -> bool:
    transaction = ok(create_transaction(server), 201)
    path = f"/platform/payment-requests/{transaction['transactionId']}"
    return _hidden(server.client.get(path, headers=system(server, OTHER_SYSTEM)).status_code)


# ---- results -------------------------------------------------------------------------------


def result_numbered_within_dossier(server: Server) -> bool:
    resolved(server)
    dossier, code = resolved(server)
    return code == f"{dossier['code']}-KQ1"


def result_signature_verifies(server: Server) -> bool:
    _, code = resolved(server)
    result = ok(server.call("GET", f"/results/{code}", who=APPLICANT))
    return signed_by(result["signature"], ok(server.client.get("/results-jwks")))


def resolution_lists_result(server: Server) -> bool:
    dossier, code = resolved(server)
    return read(server, dossier["id"])["resultCodes"] == [code]


def cancellation_needs_reason(server: Server) -> bool:
    _, code = resolved(server)
    refused = cancel(server, code, {}).status_code in (400, 422)
    shown = ok(server.call("GET", f"/results/{code}", who=APPLICANT))
    return refused and shown["status"] == "valid"


def cancelled_result_retrievable(server: Server) -> bool:
    _, code = resolved(server)
    ok(cancel(server, code))
    answer = server.call("GET", f"/results/{code}", who=APPLICANT)
    return answer.status_code == 200 and answer.json()["status"] == "cancelled"


def verification_reports_cancellation(server: Server) -> bool:
    _, code = resolved(server)
    result = ok(cancel(server, code))
    answer = ok(server.client.get(f"/verification/{result['verificationCode']}"))
    return answer["valid"] is False and answer["status"] == "cancelled"


def printout_code_verifies(server: Server) -> bool:
    _, code = resolved(server)
    result = ok(server.call("GET", f"/results/{code}", who=APPLICANT))
    compress, printout.COMPRESS = printout.COMPRESS, False  # the reader wants plain streams
    try:
        pdf = server.call("GET", f"/results/{code}/printout", who=APPLICANT)
    finally:
        printout.COMPRESS = compress
    printed = flat(pdf.content).split("Mã xác thực: ", 1)[1].split()[0]
    verified = server.client.get(f"/verification/{printed}")
    return printed == result["verificationCode"] and verified.status_code == 200


def officer_prints(server: Server) -> bool:
    _, code = resolved(server)
    return server.call("GET", f"/results/{code}/printout", who=OFFICER).status_code == 200


def paper_result_downloadable(server: Server) -> bool:
    _, code = delivered(server, "paper")
    answer = server.call("GET", f"/results/{code}/document", who=APPLICANT)
    return answer.status_code == 200 and answer.content[:5] == b"%PDF-"


def result_notified(server: Server) -> bool:
    _, code = delivered(server)
    return any(n["refs"].get("resultCode") == code for n in notifications(server))


# ---- repository ----------------------------------------------------------------------------


def result_in_repository(server: Server) -> bool:
    _, code = delivered(server)
    return any(item["source"].get("resultCode") == code for item in repository(server, "result"))


def others_item_hidden(server: Server) -> bool:
    item = stored_item(server)
    path = f"/repository/items/{item['id']}"
    seen = server.call("GET", path, who=OTHER_APPLICANT).status_code
    fetched = server.call("GET", f"{path}/content", who=OTHER_APPLICANT).status_code
    return _hidden(seen) and _hidden(fetched)


def item_bytes_unchanged(server: Server) -> bool:
    item = stored_item(server)
    answer = server.call("GET", f"/repository/items/{item['id']}/content", who=APPLICANT)
    return answer.content == document_bytes("sample.pdf")


def processed_dossier_in_repository(server: Server) -> bool:
    dossier, _ = delivered(server)
    kept = repository(server, "processed-dossier")
    return [item["source"]["dossierCode"] for item in kept] == [dossier["code"]]


def repository_shows_cancellation(server: Server) -> bool:
    _, code = resolved(server)
    result = ok(cancel(server, code))
    item = next(i for i in repository(server, "result") if i["source"]["resultCode"] == code)
    return item["status"] == "cancelled" and item.get("cancelledAt") == result["cancelledAt"]


def new_account_has_repository(server: Server) -> bool:
    register(server, ORGANISATION)
    return server.call("GET", "/repository/items", who=ORGANISATION).status_code == 200


def item_title_as_sent(server: Server) -> bool:
    title = "Căn cước công dân của Nguyễn Thị Ánh Tuyết"
    item = stored_item(server, title)
    fetched = ok(server.call("GET", f"/repository/items/{item['id']}", who=APPLICANT))
    return item["title"] == fetched["title"] == title


# ---- requests ------------------------------------------------------------------------------


def request_refusal_needs_reason(server: Server) -> bool:
    request = ok(ask_agency(server), 201)
    answer = server.call("POST", f"/requests/{request['id']}/refusal", who=OFFICER, json={})
    shown = ok(server.call("GET", f"/requests/{request['id']}", who=APPLICANT))
    return answer.status_code in (400, 422) and shown["status"] == "received"


def answer_notified(server: Server) -> bool:
    register(server, APPLICANT)
    request = answered_request(server)
    return any(n["refs"].get("requestId") == request["id"] for n in notifications(server))


def postal_choice_honoured(server: Server) -> bool:
    register(server, APPLICANT)
    address = "Số 27 đường Lê Thánh Tông, phường Hồng Hải, tỉnh Quảng Ninh"
    body = {**QUESTION, "notifyBy": "post", "postalAddress": address}
    request = ok(server.call("POST", "/requests", who=APPLICANT, json=body), 201)
    path = f"/requests/{request['id']}/resolution"
    answered = ok(server.call("POST", path, who=OFFICER, json={"response": ANSWER}))
    told = any(n["refs"].get("requestId") == request["id"] for n in notifications(server))
    return "postedAt" in answered and "notifiedAt" not in answered and not told


def request_received_once(server: Server) -> bool:
    key = {"Idempotency-Key": "ask-1"}
    first = ok(ask_agency(server, headers=key), 201)
    again = ask_agency(server, headers=key)
    listed = ok(server.call("GET", "/requests", who=APPLICANT))["items"]
    return again.json()["id"] == first["id"] and len(listed) == 1


def others_request_hidden(server: Server) -> bool:
    request = ok(ask_agency(server), 201)
    answer = server.call("GET", f"/requests/{request['id']}", who=OTHER_APPLICANT)
    return _hidden(answer.status_code)


# ---- events --------------------------------------------------------------------------------


def status_change_published(server: Server) -> bool:
    code = submitted(server)["code"]
    return any(e["data"]["dossierCode"] == code for e in events(server, "dossier.status-changed"))


def webhook_signed_with_secret(server: Server) -> bool:
    with receiving() as receiver:
        subscribe(server, receiver.url, [f"vn.gov.egov.{ANSWERED}"])
        answered_request(server)
        deliver(server)
        headers, body = receiver.received[0]
    return headers.get("Webhook-Signature") == webhook_signature(body)


def deleted_subscription_gone(server: Server) -> bool:
    callback = "https://lienthong.example/egov/events"
    subscription = subscribe(server, callback, [f"vn.gov.egov.{CANCELLED}"])
    path = f"/subscriptions/{subscription['id']}"
    ok_delete = server.client.delete(path, headers=system(server)).status_code == 204
    return ok_delete and server.client.get(path, headers=system(server)).status_code == 404


def cancellation_published(server: Server) -> bool:
    _, code = resolved(server)
    ok(cancel(server, code))
    return any(e["data"]["resultCode"] == code for e in events(server, CANCELLED))


def delivery_keeps_event_id(server: Server) -> bool:
    with receiving() as receiver:
        subscribe(server, receiver.url, [f"vn.gov.egov.{ANSWERED}"])
        answered_request(server)
        deliver(server)
        delivered_ids = [json.loads(body)["id"] for _, body in receiver.received]
    return delivered_ids == [event["id"] for event in events(server, ANSWERED)]


# ---- sync ----------------------------------------------------------------------------------


def dossier_pushed(server: Server) -> bool:
    code = submitted(server)["code"]
    with server.services.database.transaction() as conn:
        pushes = select(deliveries.c.url).where(deliveries.c.target == "npsp-sync")
        urls = [row.url for row in conn.execute(pushes)]
    return any(url.endswith(f"/sync/dossiers/{code}") for url in urls)


def _push(server: Server, body: dict[str, Any]) -> Any:
    path = f"/sync/dossiers/{body['dossierCode']}"
    return server.client.put(path, json=body, headers=system(server))


def repeated_sync_accepted(server: Server) -> bool:
    ok(_push(server, SNAPSHOT), 201)
    return _push(server, SNAPSHOT).status_code == 200


def synced_dossier_latest(server: Server) -> bool:
    ok(_push(server, SNAPSHOT), 201)
    ok(_push(server, LATER))
    path = f"/sync/dossiers/{SNAPSHOT['dossierCode']}"
    return bool(ok(server.client.get(path, headers=system(server)))["status"] == "in-process")


PROBES: dict[str, Probe] = {
    "ecopy-visible-to-others": others_ecopy_hidden,
    "ecopy-register-copy-missing": register_copy_downloadable,
    "certification-not-saved": certified_copy_issued,
    "ecopy-signed-unpublished-key": ecopy_signature_verifies,
    "payment-bad-hash-accepted": bad_hash_refused,
    "payment-replay-applied-twice": replay_changes_nothing,
    "payment-wrong-amount-accepted": wrong_amount_refused,
    "payment-idempotency-ignored": payment_created_once,
    "receipt-hidden-from-officer": officer_gets_receipt,
    "dossier-not-resumed-after-payment": payment_resumes_dossier,
    "money-as-string": amount_is_integer,
    "platform-receipt-wrong-key": receipt_verifies,
    "platform-idempotency-ignored": transaction_created_once,
    "platform-plain-sha256-hash": portal_accepts_platform_hash,
    "platform-reveals-other-merchants": others_transactions_hidden,
    "result-number-per-agency": result_numbered_within_dossier,
    "result-signed-unpublished-key": result_signature_verifies,
    "resolve-forgets-result-code": resolution_lists_result,
    "cancel-without-reason": cancellation_needs_reason,
    "cancelled-result-gone": cancelled_result_retrievable,
    "verification-valid-after-cancel": verification_reports_cancellation,
    "printout-wrong-verification-code": printout_code_verifies,
    "printout-hidden-from-officer": officer_prints,
    "paper-result-not-downloadable": paper_result_downloadable,
    "no-result-notification": result_notified,
    "repository-lacks-result": result_in_repository,
    "repository-cross-owner": others_item_hidden,
    "repository-file-truncated": item_bytes_unchanged,
    "repository-no-processed-dossier": processed_dossier_in_repository,
    "repository-not-marked-cancelled": repository_shows_cancellation,
    "repository-new-account-404": new_account_has_repository,
    "repository-title-nfd": item_title_as_sent,
    "request-refusal-without-reason": request_refusal_needs_reason,
    "request-answer-not-notified": answer_notified,
    "request-notify-choice-ignored": postal_choice_honoured,
    "request-idempotency-ignored": request_received_once,
    "request-visible-to-others": others_request_hidden,
    "events-skip-status-change": status_change_published,
    "webhook-unkeyed-signature": webhook_signed_with_secret,
    "deleted-subscription-kept": deleted_subscription_gone,
    "skip-result-cancelled-event": cancellation_published,
    "redelivery-new-event-id": delivery_keeps_event_id,
    "sync-push-missing": dossier_pushed,
    "sync-repeat-conflicts": repeated_sync_accepted,
    "synced-dossier-stale": synced_dossier_latest,
}
