"""The NPSP's sync endpoints (Decision 31/2021/QD-TTg Art. 30(3)), through HTTP."""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from reference_impl import FixedClock, Settings, create_app
from reference_impl.clock import rfc3339
from reference_impl.dossier_store import insert_new, save
from reference_impl.services import Services
from reference_impl.tables import deliveries
from reference_impl.tokens import access_token, system_claims

from .conftest import MONDAY_MORNING, Server
from .support import assert_problem

SYSTEM = "one-stop-h22"  # serves 000.00.00.H22 and every agency under it

OTHER_SYSTEM = "one-stop-h29"
NPSP = "npsp-sandbox"
SUBSCRIBER = "subscriber-h22-stp"
CITIZEN = "001203012345"
CODE = "000.00.01.H22-250317-0042"
RESULT = f"{CODE}-KQ1"
REASON = "Giấy khai sinh cấp sai ngày sinh của trẻ; đã cấp lại theo hồ sơ cải chính."
SUPPLEMENT = "Thiếu bản sao giấy chứng sinh (component GCS)."

SNAPSHOT: dict[str, Any] = {
    "dossierCode": CODE,
    "procedureCode": "1.001193",
    "agencyCode": "000.00.01.H22",
    "status": "received",
    "statusCode": 2,
    "applicant": {"type": "individual", "name": "Nguyễn Văn An", "personalId": CITIZEN},
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
    "status": "supplement-requested",
    "statusCode": 5,
    "updatedAt": "2025-03-17T09:40:05+07:00",
    "history": [
        *SNAPSHOT["history"],
        {
            "at": "2025-03-17T09:40:05+07:00",
            "fromStatus": "received",
            "toStatus": "supplement-requested",
            "reason": SUPPLEMENT,
        },
    ],
}
VALID_RESULT = {
    "resultCode": RESULT,
    "dossierCode": CODE,
    "agencyCode": "000.00.01.H22",
    "status": "valid",
    "issuedAt": "2025-03-18T15:20:00+07:00",
}
CANCELLED_RESULT = {
    **VALID_RESULT,
    "status": "cancelled",
    "cancelledAt": "2025-04-02T09:05:00+07:00",
    "cancellationReason": REASON,
}
PAYMENT = {
    "reference": "PAY-250319-000042",
    "dossierCode": CODE,
    "amount": 75000,
    "currency": "VND",
    "status": "succeeded",
    "paidAt": "2025-03-19T14:07:33+07:00",
    "transactionId": "PG2503191407330001",
}


def as_system(server: Server, client_id: str = SYSTEM) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.system_token(client_id)}"}


def push(server: Server, body: dict[str, Any], code: str = CODE, who: str = SYSTEM) -> Any:
    return server.client.put(f"/sync/dossiers/{code}", json=body, headers=as_system(server, who))


def push_result(server: Server, body: dict[str, Any], who: str = SYSTEM) -> Any:
    path = f"/sync/results/{body['resultCode']}"
    return server.client.put(path, json=body, headers=as_system(server, who))


def push_payment(server: Server, body: dict[str, Any], who: str = SYSTEM, **headers: str) -> Any:
    return server.client.post(
        "/sync/payments", json=body, headers={**as_system(server, who), **headers}
    )


def held(server: Server, code: str = CODE, who: str = SYSTEM) -> Any:
    return server.client.get(f"/sync/dossiers/{code}", headers=as_system(server, who))


# ---- dossiers --------------------------------------------------------------------------------


def test_sync_dossier_stores_first_then_updates(server: Server) -> None:
    """201 the first time, 200 for a newer snapshot, and the NPSP keeps the newest."""
    first = push(server, SNAPSHOT)
    assert first.status_code == 201, first.text
    assert first.json() == {**SNAPSHOT, "receivedAt": "2025-03-17T09:00:00+07:00"}
    server.clock.advance(timedelta(minutes=5))
    second = push(server, LATER)
    assert second.status_code == 200, second.text
    assert second.json()["receivedAt"] == "2025-03-17T09:05:00+07:00"
    assert held(server).json() == second.json()


def test_sync_dossier_repeated_is_200_and_changes_nothing(server: Server) -> None:
    """The same snapshot again answers 200 with what was stored first."""
    first = push(server, SNAPSHOT).json()
    server.clock.advance(timedelta(minutes=5))
    again = push(server, SNAPSHOT)
    assert again.status_code == 200
    assert again.json() == first


def test_sync_dossier_refuses_stale_or_contradicting_snapshots(server: Server) -> None:
    """Older than held is 409; as old but different is 409; nothing changes."""
    push(server, LATER)
    problem = assert_problem(push(server, SNAPSHOT), 409)
    assert LATER["updatedAt"] in problem["detail"]
    different = copy.deepcopy(LATER)
    different["appointmentDate"] = "2025-03-20"
    assert_problem(push(server, different), 409)
    assert held(server).json()["status"] == "supplement-requested"
    assert held(server).json()["appointmentDate"] == "2025-03-18"


def test_sync_dossier_lists_every_failing_domain_check(server: Server) -> None:
    """Code mismatch, last move not the status, history out of order or after updatedAt."""
    body = copy.deepcopy(SNAPSHOT)
    body["dossierCode"] = "000.00.01.H22-250317-0043"
    body["history"][0]["at"] = "2025-03-17T10:00:00+07:00"  # after the next one and updatedAt
    body["history"][1]["toStatus"] = "in-process"
    problem = assert_problem(push(server, body), 422)
    pointers = {(e["pointer"], e["rule"]) for e in problem["errors"]}
    assert pointers == {
        ("/dossierCode", "code-match"),
        ("/history/1/toStatus", "history-status"),
        ("/history/1/at", "history-order"),
        ("/history/0/at", "history-after-update"),
    }
    assert_problem(held(server), 404)


def test_sync_dossier_refuses_a_body_that_breaks_the_contract(server: Server) -> None:
    """status and statusCode naming different statuses, or an unknown member, is 400."""
    assert_problem(push(server, {**SNAPSHOT, "statusCode": 4}), 400)
    assert_problem(push(server, {**SNAPSHOT, "note": "x"}), 400)
    assert_problem(push(server, SNAPSHOT, code="not-a-code"), 400, "#/path/dossierCode")


def test_sync_dossier_only_from_a_system_serving_the_agency(server: Server) -> None:
    """Another province's system, a subscriber and an applicant are 403; no token is 401."""
    assert_problem(push(server, SNAPSHOT, who=OTHER_SYSTEM), 403)
    assert_problem(push(server, SNAPSHOT, who=SUBSCRIBER), 403)
    assert_problem(push(server, SNAPSHOT, who=NPSP), 403)
    url = f"/sync/dossiers/{CODE}"
    token = {"Authorization": f"Bearer {server.token(CITIZEN)}"}
    assert_problem(server.client.put(url, json=SNAPSHOT, headers=token), 403)
    assert_problem(server.client.put(url, json=SNAPSHOT), 401)
    assert_problem(held(server), 404)


def test_get_synced_dossier_for_serving_systems_and_the_npsp(server: Server) -> None:
    """The pushing system and the NPSP read the snapshot; another province's system is 403."""
    stored = push(server, SNAPSHOT).json()
    assert held(server).json() == stored
    assert held(server, who=NPSP).json() == stored
    assert_problem(held(server, who=OTHER_SYSTEM), 403)
    assert_problem(held(server, "000.00.01.H22-250317-0099"), 404)


# ---- results ---------------------------------------------------------------------------------


def test_sync_result_issued_then_cancelled(server: Server) -> None:
    """201 for a new result; the same state again 200 unchanged; a cancellation 200."""
    push(server, SNAPSHOT)
    created = push_result(server, VALID_RESULT)
    assert created.status_code == 201, created.text
    server.clock.advance(timedelta(minutes=1))
    again = push_result(server, VALID_RESULT)
    assert again.status_code == 200
    assert again.json() == created.json()
    cancelled = push_result(server, CANCELLED_RESULT)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancellationReason"] == REASON
    assert cancelled.json()["receivedAt"] == "2025-03-17T09:01:00+07:00"


def test_a_cancelled_result_stays_cancelled(server: Server) -> None:
    """Pushing a cancelled result as valid again is 409."""
    push(server, SNAPSHOT)
    push_result(server, CANCELLED_RESULT)
    assert_problem(push_result(server, VALID_RESULT), 409)
    assert push_result(server, CANCELLED_RESULT).status_code == 200


def test_sync_result_lists_every_failing_domain_check(server: Server) -> None:
    """Path/body mismatch, a code not of the dossier, an unknown dossier, cancelled first."""
    body = {
        **CANCELLED_RESULT,
        "dossierCode": "000.00.01.H22-250317-0050",
        "cancelledAt": "2025-03-01T09:05:00+07:00",
    }
    path = f"/sync/results/{CODE}-KQ2"
    response = server.client.put(path, json=body, headers=as_system(server))
    problem = assert_problem(response, 422)
    rules = sorted(e["rule"] for e in problem["errors"])
    assert rules == ["cancelled-after-issued", "code-match", "dossier-synced", "result-code"]


def test_sync_result_only_from_a_system_serving_the_agency(server: Server) -> None:
    """Another province's system is 403; a valid result with cancellation fields is 400."""
    push(server, SNAPSHOT)
    assert_problem(push_result(server, VALID_RESULT, who=OTHER_SYSTEM), 403)
    assert_problem(push_result(server, {**VALID_RESULT, "cancellationReason": REASON}), 400)


# ---- payments --------------------------------------------------------------------------------


def test_sync_payment_stored_once(server: Server) -> None:
    """201 the first time; the same payment again 200 unchanged."""
    push(server, SNAPSHOT)
    first = push_payment(server, PAYMENT)
    assert first.status_code == 201, first.text
    assert first.json() == {**PAYMENT, "receivedAt": "2025-03-17T09:00:00+07:00"}
    server.clock.advance(timedelta(minutes=1))
    again = push_payment(server, PAYMENT)
    assert again.status_code == 200
    assert again.json() == first.json()


def test_sync_payment_with_another_outcome_is_409(server: Server) -> None:
    """A different outcome or amount for a recorded transaction is 409 naming the fields."""
    push(server, SNAPSHOT)
    push_payment(server, PAYMENT)
    problem = assert_problem(push_payment(server, {**PAYMENT, "status": "failed"}), 409)
    assert "status" in problem["detail"]
    assert "amount" in assert_problem(push_payment(server, {**PAYMENT, "amount": 1}), 409)["detail"]


def test_sync_payment_of_an_unknown_dossier_is_422(server: Server) -> None:
    """The dossier is pushed before its payments."""
    assert_problem(push_payment(server, PAYMENT), 422, "/dossierCode")


def test_sync_payment_only_from_a_system_serving_the_agency(server: Server) -> None:
    """Another province's system is 403."""
    push(server, SNAPSHOT)
    assert_problem(push_payment(server, PAYMENT, who=OTHER_SYSTEM), 403)
    assert_problem(push_payment(server, {**PAYMENT, "currency": "USD"}), 400, "/currency")


def test_sync_payment_with_an_idempotency_key(server: Server) -> None:
    """The same key and body replay the first answer; the same key with another body is 422."""
    push(server, SNAPSHOT)
    key = {"Idempotency-Key": "pay-PG2503191407330001"}
    first = push_payment(server, PAYMENT, **key)
    replay = push_payment(server, PAYMENT, **key)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    other = {**PAYMENT, "transactionId": "PG2503191407330002"}
    assert_problem(push_payment(server, other, **key), 422, "#/header/Idempotency-Key")


# ---- the server's own push arrives here ------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Services, FixedClock]]:
    """A reference server on a free loopback port, delivering its outbox every 50 ms."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    clock = FixedClock(MONDAY_MORNING)
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'live.sqlite3'}",
        public_url=base,
        validate_responses=True,
        outbox_interval_seconds=0.05,
    )
    app = create_app(settings, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield base, app.state.services, clock
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def move(services: Services, clock: FixedClock, document: dict[str, Any], to: str) -> None:
    """Change the dossier's status through the store, as the dossiers interface does."""
    clock.advance(timedelta(minutes=5))
    with services.database.transaction() as conn:
        before = document["status"]
        document["status"] = to
        save(conn, services, document, action="move", actor={"role": "officer"}, from_status=before)


def test_the_servers_own_dossier_push_arrives_at_its_sync_endpoint(
    live: tuple[str, Services, FixedClock],
) -> None:
    """A status change queues the snapshot; the outbox pushes it with a system token; the
    server's own NPSP side accepts it (201, then 200 for the next move)."""
    base, services, clock = live
    now = rfc3339(clock.now())
    document: dict[str, Any] = {
        "id": "dossier-live-1",
        "code": CODE,
        "status": "draft",
        "procedureCode": "1.001193",
        "agencyCode": "000.00.01.H22",
        "applicant": {
            "accountId": "acc-1",
            "type": "individual",
            "name": "Nguyễn Văn An",
            "personalId": CITIZEN,
        },
        "submittedAt": now,
        "officialReceiptTime": now,
        "version": 1,
    }
    with services.database.transaction() as conn:
        insert_new(conn, f"individual:{CITIZEN}", document)
    move(services, clock, document, "submitted")
    with services.database.transaction() as conn:
        queued = conn.execute(select(deliveries.c.url, deliveries.c.body)).first()
    assert queued is not None
    assert queued.url == f"{base}/sync/dossiers/{CODE}"
    validator = services.contract.schema_validator("sync.json#/$defs/dossierSync")
    assert list(validator.iter_errors(queued.body)) == []

    token = access_token(services, system_claims(NPSP))[0]
    snapshot = wait_for_snapshot(base, token, "submitted")
    assert snapshot["history"][-1]["toStatus"] == "submitted"
    move(services, clock, document, "received")
    assert wait_for_snapshot(base, token, "received")["statusCode"] == 2
    with services.database.transaction() as conn:
        states = [row[0] for row in conn.execute(select(deliveries.c.status))]
    assert states == ["delivered", "delivered"]


def wait_for_snapshot(base: str, token: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        response = httpx.get(f"{base}/sync/dossiers/{CODE}", headers=headers)
        if response.status_code == 200 and response.json()["status"] == status:
            found: dict[str, Any] = response.json()
            return found
        time.sleep(0.05)
    raise AssertionError(f"the snapshot never reached {status}: {response.text}")


def test_sync_operations_need_a_system_token(server: Server) -> None:
    """Every sync operation is 401 without a token and 403 for an officer."""
    calls = [
        ("GET", f"/sync/dossiers/{CODE}", None),
        ("PUT", f"/sync/results/{RESULT}", VALID_RESULT),
        ("POST", "/sync/payments", PAYMENT),
    ]
    officer = {"Authorization": f"Bearer {server.token('canbo.h22.honghai.01')}"}
    for method, path, body in calls:
        assert_problem(server.client.request(method, path, json=body), 401)
        assert_problem(server.client.request(method, path, json=body, headers=officer), 403)
    assert_problem(held(server, "000.00.01.H22-251399-0001"), 400, "#/path/dossierCode")
