"""SIGKILL in the middle of a load: what was acknowledged is there once, the outbox pays its debts.

Threads submit dossiers whose procedure charges a fee on submission, pay each fee (payment
request with an ``Idempotency-Key``, the platform's payer confirmation, its signed notification)
while a subscriber's callback is failing, so deliveries pile up in the outbox. The server is
killed mid-load and restarted on the same database: every acknowledged submission, payment and
confirmation must be there exactly once, retried requests must replay rather than repeat, the
dossier codes must stay unique and gapless, and every event the outbox holds must reach the
subscriber once it answers again. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.signatures import sandbox_signer, signed
from egov_contract import fixtures_dir, load_document

from .live import LiveServer, client_token, sign_in
from .pg import postgres_url

pytestmark = pytest.mark.slow

CITIZEN = "001203012345"
OFFICER = "canbo.h22.honghai.01"  # 000.00.01.H22
PROCEDURE = "1.000894"  # marriage registration extract: a fee is due on submission
AGENCY = "000.00.01.H22"
SYSTEM = "one-stop-h22"
SYSTEM_SECRET = "sandbox-only-f53dd749197ca7044bd264033f543851"  # fixtures/systems.json
TYPES = ["vn.gov.egov.dossier.status-changed", "vn.gov.egov.payment.completed"]
DRAFTS = 30
THREADS = 6
KILL_AFTER_CONFIRMATIONS = 8
LOAD_SECONDS = 20.0
"""The kill comes after this many confirmed payments, or after this long at the latest; with
the 30 s bound on the deliveries after the restart, the test stays well under a minute on an
idle machine (about 30 s here, under load)."""


class Receiver:
    """A subscriber's callback on loopback: 503 while ``down``, then 200; keeps what arrived."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.ids: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.down.is_set():
                    self.send_response(503)
                else:
                    receiver.ids.append(self.headers["Webhook-Id"])
                    self.send_response(204)
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    else:
        db_url = postgres_url(request)
    live = LiveServer(db_url, tmp_path / "server.log").start()
    yield live
    live.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


class ServerGoneError(Exception):
    """The server went away in the middle of a request."""


@dataclass
class Ledger:
    """What the server acknowledged, and what was in flight when it died."""

    submitted: dict[str, str] = field(default_factory=dict)
    """dossier id → code"""
    paid: dict[str, dict[str, Any]] = field(default_factory=dict)
    """dossier id → the payment request's answer"""
    confirmed: set[str] = field(default_factory=set)
    """payment ids whose payer confirmation came back ``succeeded``"""
    in_flight: dict[str, str] = field(default_factory=dict)
    """dossier id → the step that got no answer"""
    lock: threading.Lock = field(default_factory=threading.Lock)


class Portal:
    """The citizen, the officer and the platform's payer page, over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.citizen = {"Authorization": f"Bearer {sign_in(base_url, CITIZEN)}"}
        self.officer = {"Authorization": f"Bearer {sign_in(base_url, OFFICER)}"}
        token = client_token(base_url, SYSTEM, SYSTEM_SECRET)
        self.system = {"Authorization": f"Bearer {token}"}

    def call(
        self, client: httpx.Client, who: dict[str, str], method: str, path: str, **kwargs: Any
    ) -> Any:
        headers = {**who, **kwargs.pop("headers", {})}
        try:
            answer = client.request(method, self.base_url + path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise ServerGoneError(f"{method} {path}: {exc!r}") from None
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def draft(self, client: httpx.Client) -> str:
        form = load_document(fixtures_dir() / "forms" / f"{PROCEDURE}.sample.json")
        body = {"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": form}
        dossier = self.call(client, self.citizen, "POST", "/dossiers", json=body)
        content = (fixtures_dir() / "documents" / "sample.pdf").read_bytes()
        upload = {
            "fileName": "to-khai.pdf",
            "mediaType": "application/pdf",
            "contentBase64": base64.b64encode(content).decode(),
        }
        component = {"componentCode": "TKDKKH", "file": signed(upload, sandbox_signer())}
        path = f"/dossiers/{dossier['id']}/components"
        self.call(client, self.citizen, "POST", path, json=component)
        return str(dossier["id"])

    def submit(self, client: httpx.Client, dossier_id: str) -> dict[str, Any]:
        key = {"Idempotency-Key": f"crash-submit-{dossier_id}"}
        path = f"/dossiers/{dossier_id}/submission"
        answer: dict[str, Any] = self.call(client, self.citizen, "POST", path, headers=key)
        return answer

    def pay(self, client: httpx.Client, dossier_id: str) -> dict[str, Any]:
        fees = self.call(client, self.citizen, "GET", f"/dossiers/{dossier_id}/fees")["items"]
        body = {"obligationIds": sorted(item["id"] for item in fees)}
        key = {"Idempotency-Key": f"crash-pay-{dossier_id}"}
        answer: dict[str, Any] = self.call(
            client, self.citizen, "POST", "/payments", json=body, headers=key
        )
        return answer

    def confirm(self, client: httpx.Client, transaction_id: str) -> dict[str, Any]:
        path = f"/platform/payment-requests/{transaction_id}/payer-confirmation"
        body = {"outcome": "succeeded", "payerName": "Nguyễn Văn An"}
        answer: dict[str, Any] = self.call(client, {}, "POST", path, json=body)
        return answer

    def pages(self, who: dict[str, str], path: str, **query: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100, **query}
        with httpx.Client(timeout=30) as client:
            while True:
                page = self.call(client, who, "GET", path, params=params)
                found += page["items"]
                if not page.get("nextCursor") or not page["items"]:
                    return found
                params["after" if path == "/events" else "cursor"] = page["nextCursor"]


def _work(portal: Portal, ledger: Ledger, drafts: list[str], stop: threading.Event) -> None:
    """Submit, pay and confirm each draft, noting every acknowledgement, until the server dies."""
    with httpx.Client(timeout=30) as client:
        for dossier_id in drafts:
            if stop.is_set():
                return
            step = "submit"
            try:
                submitted = portal.submit(client, dossier_id)
                with ledger.lock:
                    ledger.submitted[dossier_id] = submitted["code"]
                step = "pay"
                payment = portal.pay(client, dossier_id)
                with ledger.lock:
                    ledger.paid[dossier_id] = payment
                step = "confirm"
                confirmed = portal.confirm(client, payment["transactionId"])
                assert confirmed["status"] == "succeeded", confirmed
                with ledger.lock:
                    ledger.confirmed.add(payment["id"])
            except ServerGoneError:
                with ledger.lock:
                    ledger.in_flight[dossier_id] = step
                return


def _gapless(codes: list[str]) -> None:
    numbers: dict[str, list[int]] = defaultdict(list)
    for code in codes:
        unit_and_day, number = code.rsplit("-", 1)
        numbers[unit_and_day].append(int(number))
    for unit_and_day, taken in numbers.items():
        assert sorted(taken) == list(range(1, len(taken) + 1)), (unit_and_day, sorted(taken))


def test_sigkill_mid_load_keeps_every_acknowledgement_once_and_the_outbox_delivers(
    server: LiveServer, receiver: Receiver
) -> None:
    portal = Portal(server.base_url)
    subscription = {"callbackUrl": receiver.url, "types": TYPES, "secret": "k" * 24}
    with httpx.Client(timeout=30) as client:
        portal.call(client, portal.system, "POST", "/subscriptions", json=subscription)
    with ThreadPoolExecutor(THREADS) as pool:
        drafts = list(pool.map(lambda _: _draft(portal), range(DRAFTS)))

    # The load, with the subscriber failing: what the outbox owes keeps piling up.
    receiver.down.set()
    ledger, stop = Ledger(), threading.Event()
    shares = [drafts[i::THREADS] for i in range(THREADS)]
    threads = [
        threading.Thread(target=_work, args=(portal, ledger, share, stop)) for share in shares
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + LOAD_SECONDS
    while len(ledger.confirmed) < KILL_AFTER_CONFIRMATIONS and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert ledger.confirmed, "nothing was confirmed before the kill; the load never ran"
    # The subscriber refused everything so far: each event in the outbox was owed at the kill.
    assert len(ledger.submitted) < DRAFTS, "the load finished before the kill: not a crash test"

    server.start()
    receiver.down.clear()

    # Every acknowledged submission is there once, with its code; codes unique and gapless.
    mine = portal.pages(portal.citizen, "/dossiers")
    seen = Counter(dossier["id"] for dossier in mine)
    assert max(seen.values()) == 1
    by_id = {dossier["id"]: dossier for dossier in mine}
    for dossier_id, code in ledger.submitted.items():
        assert by_id[dossier_id]["code"] == code
        assert by_id[dossier_id]["status"] != "draft"
    _gapless([d["code"] for d in mine if d.get("code")])

    with httpx.Client(timeout=30) as client:
        # A retried request replays its first answer (acknowledged or lost with the crash).
        for dossier_id, code in ledger.submitted.items():
            assert portal.submit(client, dossier_id)["code"] == code
        for dossier_id, step in ledger.in_flight.items():
            if step == "submit":
                committed = by_id[dossier_id].get("code")
                again = portal.submit(client, dossier_id)["code"]
                assert committed in (None, again)
        for dossier_id, payment in ledger.paid.items():
            assert portal.pay(client, dossier_id)["id"] == payment["id"]

        # Every acknowledged payment is there once; every confirmed one succeeded.
        ledger_rows = portal.pages(portal.officer, "/payments")
        references = Counter(row["reference"] for row in ledger_rows)
        for payment in ledger.paid.values():
            assert references[payment["reference"]] == 1, payment["reference"]
            stored = portal.call(client, portal.citizen, "GET", f"/payments/{payment['id']}")
            assert stored["transactionId"] == payment["transactionId"]
            if payment["id"] in ledger.confirmed:
                assert stored["status"] == "succeeded", stored
    _gapless([d["code"] for d in portal.pages(portal.citizen, "/dossiers") if d.get("code")])

    # The outbox holds an event for each acknowledged change, and delivers all it owes.
    events = portal.pages(portal.system, "/events")
    owed = {event["id"] for event in events if event["type"] in TYPES}
    subjects = {(event["type"], event["subject"]) for event in events}
    for code in ledger.submitted.values():
        assert (TYPES[0], code) in subjects, code
    paid_codes = {
        ledger.submitted[d] for d, p in ledger.paid.items() if p["id"] in ledger.confirmed
    }
    for code in paid_codes:
        assert (TYPES[1], code) in subjects, code
    wait_until = time.monotonic() + 30
    while not owed <= set(receiver.ids) and time.monotonic() < wait_until:
        time.sleep(0.2)
    assert owed <= set(receiver.ids), f"{len(owed - set(receiver.ids))} events never delivered"
    assert set(receiver.ids) <= owed, "an event arrived that the outbox does not hold"


def _draft(portal: Portal) -> str:
    with httpx.Client(timeout=30) as client:
        return portal.draft(client)
