"""Whole flows through the reference server's HTTP interface, shared by the fault and variant
probes: a server from a template database, a resolved dossier, a pending payment, a webhook
receiver. Each flow asserts its own steps, so a fault that breaks a path it does not name
fails loudly instead of passing for "observable"."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from reference_impl import platform
from reference_impl.events import Deliverer

from .conftest import Server, make_server
from .support import ok
from .test_dossiers import (
    AGENCY,
    APPLICANT,
    OFFICER,
    REASON,
    act,
    in_process,
    moved,
    submitted,
    upload,
)

DATABASE = "reference.sqlite3"
SYSTEM = "one-stop-h22"  # a one-stop system serving Quảng Ninh (000.00.00.H22 and below)
OTHER_SYSTEM = "one-stop-h29"
SECRET = "q8V2nR5tKx7LmW3pZc9YdF4h"
FEE = {"code": "BSTL", "name": "Phí cấp bản sao trích lục", "amount": 8000}
QUESTION = {
    "agencyCode": AGENCY,
    "subject": "Hỏi về giấy tờ khi đăng ký khai sinh cho con sinh tại nhà",
    "content": "Con tôi sinh tại nhà, không có giấy chứng sinh. Tôi cần nộp giấy tờ gì thay thế?",
    "category": "question",
}
ANSWER = "Ông/bà nộp văn bản của người làm chứng xác nhận việc sinh (Luật Hộ tịch, Điều 16)."
REGISTER = {"book": "01/2003", "entryNumber": "125", "year": 2003}
SNAPSHOT_CODE = "000.00.01.H22-250317-0042"
SNAPSHOT: dict[str, Any] = {
    "dossierCode": SNAPSHOT_CODE,
    "procedureCode": "1.001193",
    "agencyCode": "000.00.01.H22",
    "status": "received",
    "statusCode": 2,
    "applicant": {"type": "individual", "name": "Nguyễn Văn An", "personalId": "001203012345"},
    "submittedAt": "2025-03-17T08:15:00+07:00",
    "officialReceiptTime": "2025-03-17T08:15:00+07:00",
    "appointmentDate": "2025-03-18",
    "updatedAt": "2025-03-17T09:30:12+07:00",
    "history": [
        {"at": "2025-03-17T08:15:00+07:00", "fromStatus": "draft", "toStatus": "submitted"},
        {"at": "2025-03-17T09:30:12+07:00", "fromStatus": "submitted", "toStatus": "received"},
    ],
}
LATER: dict[str, Any] = {
    **SNAPSHOT,
    "status": "in-process",
    "statusCode": 4,
    "updatedAt": "2025-03-17T09:40:05+07:00",
    "history": [
        *SNAPSHOT["history"],
        {"at": "2025-03-17T09:40:05+07:00", "fromStatus": "received", "toStatus": "in-process"},
    ],
}


# ---- servers -------------------------------------------------------------------------------


def build_template(directory: Path) -> Path:
    """A database with the tables and signing keys made once, so each probe skips both."""
    directory.mkdir(parents=True, exist_ok=True)
    for _server in make_server(directory):
        pass
    return directory / DATABASE


@contextmanager
def running(directory: Path, template: Path, **settings: Any) -> Iterator[Server]:
    """A reference server on a copy of ``template``, for the length of the block."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, directory / DATABASE)
    servers = make_server(directory, **settings)
    try:
        yield next(servers)
    finally:
        servers.close()


# ---- dossiers and results ------------------------------------------------------------------


def resolved(server: Server) -> tuple[dict[str, Any], str]:
    """A processed dossier of APPLICANT at AGENCY and the code of its e-result."""
    dossier = in_process(server)
    answer = moved(server, dossier["id"], "resolution", {"title": "Giấy khai sinh"})
    codes = answer["resultCodes"] or list_result_codes(server, answer["code"])
    return answer, codes[-1]


def list_result_codes(server: Server, dossier_code: str) -> list[str]:
    """The codes of a dossier's results, read from listResults."""
    page = ok(server.call("GET", "/results", who=APPLICANT, params={"dossierCode": dossier_code}))
    return [item["code"] for item in page["items"]]


def delivered(server: Server, channel: str = "electronic") -> tuple[dict[str, Any], str]:
    """A returned dossier (its result delivered on ``channel``) and its result's code."""
    dossier, code = resolved(server)
    return moved(server, dossier["id"], "delivery", {"channel": channel}), code


def cancel(server: Server, code: str, body: Any = None) -> Any:
    payload = {"reason": REASON} if body is None else body
    return server.call("POST", f"/results/{code}/cancellation", who=OFFICER, json=payload)


def signed_by(token: str, jwks: dict[str, Any]) -> bool:
    """True when a compact JWS verifies with a key of the published set ``jwks``."""
    try:
        jws.deserialize_compact(token, KeySet.import_key_set(jwks))
    except (JoseError, ValueError):
        return False
    return True


def notifications(server: Server, who: str = APPLICANT) -> list[dict[str, Any]]:
    """The caller's notifications, newest first."""
    return list(ok(server.call("GET", "/accounts/me/notifications", who=who))["items"])


def register(server: Server, who: str) -> dict[str, Any]:
    """The caller's account, registered now if it had none."""
    answer = server.call("POST", "/accounts", who=who, json={})
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def refused(server: Server) -> dict[str, Any]:
    dossier = submitted(server)
    return moved(server, dossier["id"], "refusal", {"reason": REASON})


def supplement_asked(server: Server, codes: list[str], from_process: bool = False) -> Any:
    """A dossier asked for a supplement of ``codes`` (during processing when asked)."""
    dossier = in_process(server) if from_process else submitted(server)
    body = {"reason": REASON, "componentCodes": codes}
    return moved(server, dossier["id"], "supplement-request", body)


def supplemented(server: Server) -> tuple[dict[str, Any], Any]:
    """A dossier before and after a supplement that replaced GCS."""
    before = supplement_asked(server, ["GCS"])
    body = {"components": [{"componentCode": "GCS", "file": upload("sample.jpg")}]}
    return before, act(server, before["id"], "supplement", who=APPLICANT, body=body)


# ---- payments ------------------------------------------------------------------------------


def fee_requested(server: Server) -> tuple[str, str]:
    """A dossier waiting for a fee, and the id of its unpaid obligation."""
    dossier = in_process(server)
    moved(server, dossier["id"], "fee-notice", {"fees": [FEE]})
    fees = ok(server.call("GET", f"/dossiers/{dossier['id']}/fees", who=APPLICANT))
    return dossier["id"], fees["items"][0]["id"]


def request_payment(server: Server, obligation_id: str, key: str = "pay-1") -> Any:
    return server.call(
        "POST",
        "/payments",
        who=APPLICANT,
        json={"obligationIds": [obligation_id]},
        headers={"Idempotency-Key": key},
    )


def pending_payment(server: Server) -> tuple[str, dict[str, Any]]:
    """A dossier waiting for a fee and the pending payment of it."""
    dossier_id, obligation_id = fee_requested(server)
    return dossier_id, ok(request_payment(server, obligation_id), 201)


def notification(server: Server, payment: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A platform notification of ``payment`` with a valid secureHash (after ``changes``)."""
    body: dict[str, Any] = {
        "notificationId": f"ntf-{payment['id']}",
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


def pay_at_platform(server: Server, transaction_id: str) -> Any:
    """The payer's confirmation at the sandbox platform, which notifies the portal."""
    path = f"/platform/payment-requests/{transaction_id}/payer-confirmation"
    return ok(server.call("POST", path, json={"outcome": "succeeded", "bankCode": "VCB"}))


def system(server: Server, client_id: str = SYSTEM, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {server.system_token(client_id)}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def platform_request(reference: str = "PAY-250317-000001") -> dict[str, Any]:
    """A portal's request to the platform, notified to a portal elsewhere."""
    return {
        "reference": reference,
        "merchantCode": AGENCY,
        "amount": 75000,
        "currency": "VND",
        "lines": [
            {
                "code": "LEPHI",
                "name": "Lệ phí cấp bản sao",
                "amount": 75000,
                "dossierCode": f"{AGENCY}-250317-0001",
                "procedureCode": "1.001193",
            }
        ],
        "description": f"Nộp lệ phí hồ sơ {AGENCY}-250317-0001",
        "payerName": "Phạm Quốc Khánh",
        "notifyUrl": "https://portal.example/payments/notifications",
    }


def create_transaction(server: Server, key: str = "k-1") -> Any:
    headers = system(server, key=key)
    return server.call(
        "POST", "/platform/payment-requests", json=platform_request(), headers=headers
    )


# ---- e-copies, requests, Repository --------------------------------------------------------


def ask_ecopy(server: Server, kind: str = "from-register", who: str = APPLICANT) -> Any:
    body: dict[str, Any] = {"kind": kind, "agencyCode": AGENCY}
    if kind == "from-register":
        body.update(documentType="birth-certificate", register=dict(REGISTER))
    else:
        body.update(documentType="diploma", documentName="Bằng tốt nghiệp đại học")
        body["original"] = upload("sample.pdf", "bang-tot-nghiep.pdf")
    return ok(server.call("POST", "/ecopies", who=who, json=body), 201)


def issue_ecopy(server: Server, ecopy_id: str) -> Any:
    body = {"decision": "issue"}
    return ok(server.call("POST", f"/ecopies/{ecopy_id}/certification", who=OFFICER, json=body))


def ask_agency(server: Server, who: str = APPLICANT, **kwargs: Any) -> Any:
    return server.call("POST", "/requests", who=who, json=QUESTION, **kwargs)


def stored_item(server: Server, title: str = "Căn cước công dân (bản scan)") -> Any:
    body = {
        "title": title,
        "file": upload("sample.pdf", "can-cuoc.pdf"),
        "metadata": {"documentType": "Căn cước công dân", "issuedOn": "2021-08-14"},
    }
    return ok(server.call("POST", "/repository/items", who=APPLICANT, json=body), 201)


def repository(server: Server, kind: str, who: str = APPLICANT) -> list[dict[str, Any]]:
    page = ok(server.call("GET", "/repository/items", who=who, params={"kind": kind}))
    return list(page["items"])


# ---- events --------------------------------------------------------------------------------


class Receiver:
    """A subscriber's callback endpoint on loopback that acknowledges every delivery."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/egov/events"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()


def subscribe(server: Server, url: str, types: list[str]) -> Any:
    body = {"callbackUrl": url, "types": types, "secret": SECRET}
    return ok(server.client.post("/subscriptions", json=body, headers=system(server)), 201)


def deliver(server: Server) -> int:
    """Send what the outbox holds that is due, as the background job would."""

    async def run() -> int:
        deliverer = Deliverer(server.services)
        try:
            return await deliverer.run_once()
        finally:
            await deliverer.close()

    return asyncio.run(run())


def events(server: Server, kind: str) -> list[dict[str, Any]]:
    """The feed's events of type ``vn.gov.egov.<kind>``."""
    params = {"type": f"vn.gov.egov.{kind}", "limit": 100}
    return list(ok(server.call("GET", "/events", headers=system(server), params=params))["items"])


def answered_request(server: Server) -> dict[str, Any]:
    """A request of APPLICANT that an officer answered."""
    request = ok(ask_agency(server), 201)
    path = f"/requests/{request['id']}/resolution"
    return ok(server.call("POST", path, who=OFFICER, json={"response": ANSWER}))


def webhook_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def sync_snapshot() -> dict[str, Any]:
    """A one-stop system's snapshot of a received dossier, as syncDossier takes it."""
    return dict(SNAPSHOT)
