"""Several worker processes on one PostgreSQL: nothing acknowledged is lost, doubled or misnumbered.

``egov-conformance serve --workers N`` runs N processes that share only the database. Threads
submit dossiers at once (each request goes to whichever worker accepts it); afterwards every
acknowledged dossier must be readable exactly once, the codes ``<agency>-<YYMMDD>-<NNNN>``
(Circular 01/2018/TT-VPCP Art. 19) unique and sequential per unit and day, with no gaps, and
each status-change event delivered to a subscriber by one worker only.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from egov_contract import fixtures_dir, load_document

from .live import LiveServer, client_token, sign_in
from .pg import postgres_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CITIZENS = ("001203012345", "079190012345", "084183071547")
PROCEDURE = "1.001193"  # birth registration: two required components, no fee
AGENCIES = ("000.00.01.H22", "000.00.02.H22")
DRAFTS_PER_CITIZEN_AND_AGENCY = 8  # 48 submissions in all
THREADS = 12
SYSTEM = "one-stop-h22"
SYSTEM_SECRET = "sandbox-only-f53dd749197ca7044bd264033f543851"  # fixtures/systems.json
STATUS_CHANGED = "vn.gov.egov.dossier.status-changed"


class Receiver:
    """A subscriber's callback on loopback: keeps the ``Webhook-Id`` of every delivery.

    It takes a little while to answer, as real ones do, so that two workers sending the same
    pending delivery would overlap instead of missing each other by luck.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        received = self.ids

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                received.append(self.headers["Webhook-Id"])
                time.sleep(0.05)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/events"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def _upload() -> dict[str, str]:
    content = (fixtures_dir() / "documents" / "sample.pdf").read_bytes()
    return {
        "fileName": "sample.pdf",
        "mediaType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
    }


def _workers_of(server: LiveServer) -> list[int]:
    """The worker processes uvicorn's supervisor started (Linux ``/proc``), if it can tell."""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        return []
    found = []
    for child in children.read_text().split():
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in command:  # not multiprocessing's resource tracker
            found.append(int(child))
    return found


@pytest.fixture(params=[2, 4], ids=lambda n: f"{n}-workers")
def workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[LiveServer, int, Path]]:
    count: int = request.param
    log = tmp_path / "server.log"
    live = LiveServer(postgres_url(request), log, "--workers", str(count))
    live.start(timeout=90)
    yield live, count, log
    live.stop()


class Applicant:
    """One citizen on the portal, with a client per thread."""

    def __init__(self, base_url: str, login_hint: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {sign_in(base_url, login_hint)}"}

    def call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        answer = client.request(method, self.base_url + path, headers=headers, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def draft(self, agency: str) -> str:
        form = load_document(fixtures_dir() / "forms" / f"{PROCEDURE}.sample.json")
        body = {"procedureCode": PROCEDURE, "agencyCode": agency, "form": form}
        with httpx.Client(timeout=30) as client:
            dossier = self.call(client, "POST", "/dossiers", json=body)
            for code in ("TKKS", "GCS"):
                component = {"componentCode": code, "file": _upload()}
                self.call(client, "POST", f"/dossiers/{dossier['id']}/components", json=component)
        return str(dossier["id"])

    def all_dossiers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 100}
        with httpx.Client(timeout=30) as client:
            while True:
                page = self.call(client, "GET", "/dossiers", params=query)
                found += page["items"]
                if not page.get("nextCursor"):
                    return found
                query["cursor"] = page["nextCursor"]


def _events(base_url: str, headers: dict[str, str], event_type: str) -> list[dict[str, Any]]:
    """Every event of ``event_type`` in the server's feed, oldest first."""
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"type": event_type, "limit": 100}
    while True:
        page = httpx.get(f"{base_url}/events", params=query, headers=headers, timeout=30).json()
        if not page["items"]:
            return found
        found += page["items"]
        query["after"] = page["nextCursor"]


def test_concurrent_submissions_on_several_workers_are_each_kept_once_with_gapless_codes(
    workers: tuple[LiveServer, int, Path], receiver: Receiver
) -> None:
    server, count, log = workers
    pids = _workers_of(server)
    assert len(pids) in (0, count), pids  # 0: no /proc to look in
    # Workers start together: none may have failed on the way (creating the tables, say) and
    # been quietly replaced by uvicorn.
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-3000:]
    system = {"Authorization": f"Bearer {client_token(server.base_url, SYSTEM, SYSTEM_SECRET)}"}
    subscription = {"callbackUrl": receiver.url, "types": [STATUS_CHANGED], "secret": "s" * 24}
    created = httpx.post(f"{server.base_url}/subscriptions", json=subscription, headers=system)
    assert created.status_code == 201, created.text
    applicants = [Applicant(server.base_url, hint) for hint in CITIZENS]
    plan = [
        (applicant, agency)
        for applicant in applicants
        for agency in AGENCIES
        for _ in range(DRAFTS_PER_CITIZEN_AND_AGENCY)
    ]
    with ThreadPoolExecutor(THREADS) as pool:
        drafts = list(pool.map(lambda item: (item[0], item[0].draft(item[1])), plan))

    def submit(item: tuple[Applicant, str]) -> tuple[str, dict[str, Any]]:
        applicant, dossier_id = item
        with httpx.Client(timeout=60) as client:
            key = {"Idempotency-Key": f"workers-{dossier_id}"}
            answer = applicant.call(
                client, "POST", f"/dossiers/{dossier_id}/submission", headers=key
            )
        return dossier_id, answer

    with ThreadPoolExecutor(THREADS) as pool:
        acknowledged = dict(pool.map(submit, drafts))

    assert len(acknowledged) == len(plan)
    codes = [answer["code"] for answer in acknowledged.values()]
    assert len(set(codes)) == len(codes), Counter(codes).most_common(3)
    numbers: dict[str, list[int]] = defaultdict(list)
    for dossier_id, answer in acknowledged.items():
        assert answer["status"] == "submitted"
        unit_and_day, number = answer["code"].rsplit("-", 1)
        assert unit_and_day.startswith(answer["agencyCode"] + "-"), answer["code"]
        assert len(number) == 4, answer["code"]
        numbers[unit_and_day].append(int(number))
        assert answer["id"] == dossier_id
    for unit_and_day, taken in numbers.items():  # a day boundary would start a new 0001
        assert sorted(taken) == list(range(1, len(taken) + 1)), (unit_and_day, sorted(taken))

    # Read back: each acknowledged dossier exactly once, as acknowledged, whichever worker asks.
    listed: list[dict[str, Any]] = []
    for applicant in applicants:
        listed += applicant.all_dossiers()
    seen = Counter(dossier["id"] for dossier in listed)
    assert set(seen) == set(acknowledged)
    assert max(seen.values()) == 1
    by_id = {dossier["id"]: dossier for dossier in listed}
    for dossier_id, answer in acknowledged.items():
        assert by_id[dossier_id]["code"] == answer["code"]
        assert by_id[dossier_id]["version"] == answer["version"]
    owner = {dossier_id: applicant for applicant, dossier_id in drafts}
    with httpx.Client(timeout=30) as client:
        for dossier_id, answer in list(acknowledged.items())[:: max(1, len(acknowledged) // 12)]:
            again = owner[dossier_id].call(client, "GET", f"/dossiers/{dossier_id}")
            assert again["code"] == answer["code"]
            # The same key again replays the first answer: no second code, no second event.
            key = {"Idempotency-Key": f"workers-{dossier_id}"}
            replay = owner[dossier_id].call(
                client, "POST", f"/dossiers/{dossier_id}/submission", headers=key
            )
            assert replay["code"] == answer["code"]

    # Every worker runs a deliverer; each event still reaches the subscriber once.
    events = _events(server.base_url, system, STATUS_CHANGED)
    assert {event["subject"] for event in events} == set(codes)
    deadline = time.monotonic() + 30
    while set(receiver.ids) < {event["id"] for event in events} and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a second worker sending the same event would have done so by now
    assert set(receiver.ids) == {event["id"] for event in events}
    assert Counter(receiver.ids).most_common(1)[0][1] == 1, Counter(receiver.ids).most_common(3)
