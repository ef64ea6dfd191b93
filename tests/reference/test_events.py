"""Event subscriptions, signed deliveries with retries, and the event feed, through HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from reference_impl.events import Deliverer, emit
from reference_impl.tables import deliveries

from .conftest import Server, make_server
from .support import assert_problem

SYSTEM = "one-stop-h22"

OTHER_SYSTEM = "subscriber-g09"
CITIZEN = "001203012345"
SECRET = "q8V2nR5tKx7LmW3pZc9YdF4h"
ANSWERED = "vn.gov.egov.request.answered"
CANCELLED = "vn.gov.egov.result.cancelled"


class Receiver:
    """A subscriber's callback endpoint on loopback that answers with the statuses given."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
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


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[Server]:
    """A server whose outbox is only delivered when the test says so."""
    yield from make_server(tmp_path, outbox_interval_seconds=0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver([])
    yield found
    found.close()


def as_system(server: Server, client_id: str = SYSTEM) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.system_token(client_id)}"}


def subscribe(server: Server, url: str, types: list[str] | None = None, **extra: Any) -> Any:
    body = {"callbackUrl": url, "types": types or [ANSWERED], "secret": SECRET, **extra}
    return server.client.post("/subscriptions", json=body, headers=as_system(server))


def subscribed(server: Server, url: str, types: list[str] | None = None) -> dict[str, Any]:
    response = subscribe(server, url, types)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def answered(server: Server, request_id: str = "req-5c1e9b27") -> dict[str, Any]:
    """Emit a request.answered event the way a handler would."""
    data = {
        "requestId": request_id,
        "agencyCode": "000.00.01.H22",
        "status": "resolved",
        "answeredAt": "2025-03-17T09:00:00+07:00",
    }
    with server.services.database.transaction() as conn:
        return emit(conn, server.services, "request.answered", request_id, data)


def cancelled(server: Server) -> dict[str, Any]:
    data = {
        "resultCode": "000.00.01.H22-250317-0042-KQ1",
        "dossierCode": "000.00.01.H22-250317-0042",
        "agencyCode": "000.00.01.H22",
        "cancelledAt": "2025-03-17T09:00:00+07:00",
        "reason": "Giấy khai sinh cấp sai ngày sinh của trẻ.",
    }
    with server.services.database.transaction() as conn:
        return emit(conn, server.services, "result.cancelled", data["resultCode"], data)


def deliver(server: Server) -> int:
    async def run() -> int:
        deliverer = Deliverer(server.services)
        try:
            return await deliverer.run_once()
        finally:
            await deliverer.close()

    return asyncio.run(run())


def delivery_rows(server: Server) -> list[Any]:
    with server.services.database.transaction() as conn:
        return list(conn.execute(select(deliveries).order_by(deliveries.c.seq)))


def assert_signed(headers: dict[str, str], body: bytes, event: dict[str, Any]) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["Webhook-Signature"], expected)
    assert headers["Webhook-Id"] == event["id"]
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert json.loads(body) == event


# ---- subscriptions ---------------------------------------------------------------------------


def test_create_subscription_never_returns_the_secret(quiet: Server) -> None:
    """201 with Location and the subscription, active, without its secret."""
    response = subscribe(quiet, "https://lienthong.hanoi.gov.vn/egov/events")
    assert response.status_code == 201, response.text
    document = response.json()
    assert response.headers["location"].endswith(f"/subscriptions/{document['id']}")
    assert document["active"] is True
    assert document["types"] == [ANSWERED]
    assert SECRET not in response.text
    got = quiet.client.get(f"/subscriptions/{document['id']}", headers=as_system(quiet))
    assert got.json() == document
    assert SECRET not in got.text


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"callbackUrl": "ftp://example.com/x"}, "/callbackUrl"),
        ({"types": ["vn.gov.egov.unknown"]}, "/types/0"),
        ({"secret": "short"}, "/secret"),
    ],
)
def test_create_subscription_refuses_a_malformed_body(
    quiet: Server, change: dict[str, Any], pointer: str
) -> None:
    """A bad callback URL, an unknown event type or a short secret is 400."""
    body = {"callbackUrl": "https://example.com/cb", "types": [ANSWERED], "secret": SECRET}
    response = quiet.client.post("/subscriptions", json=body | change, headers=as_system(quiet))
    assert_problem(response, 400, pointer)


def test_subscriptions_are_for_systems_only(quiet: Server) -> None:
    """An applicant is 403; no token is 401."""
    body = {"callbackUrl": "https://example.com/cb", "types": [ANSWERED], "secret": SECRET}
    assert_problem(quiet.call("POST", "/subscriptions", who=CITIZEN, json=body), 403)
    assert_problem(quiet.client.post("/subscriptions", json=body), 401)
    assert_problem(quiet.call("GET", "/events", who=CITIZEN), 403)


def test_another_system_cannot_see_or_delete_a_subscription(quiet: Server) -> None:
    """Only the system that created a subscription reads or deletes it; others get 404."""
    document = subscribed(quiet, "https://example.com/cb")
    path = f"/subscriptions/{document['id']}"
    other = as_system(quiet, OTHER_SYSTEM)
    assert_problem(quiet.client.get(path, headers=other), 404)
    assert_problem(quiet.client.delete(path, headers=other), 404)
    assert quiet.client.get(path, headers=as_system(quiet)).status_code == 200


def test_delete_subscription_ends_it(quiet: Server) -> None:
    """204, then 404; a second delete is 404 too."""
    document = subscribed(quiet, "https://example.com/cb")
    path = f"/subscriptions/{document['id']}"
    response = quiet.client.delete(path, headers=as_system(quiet))
    assert response.status_code == 204
    assert_problem(quiet.client.get(path, headers=as_system(quiet)), 404)
    assert_problem(quiet.client.delete(path, headers=as_system(quiet)), 404)


# ---- deliveries ------------------------------------------------------------------------------


def test_an_event_is_delivered_signed_to_the_subscriber(quiet: Server, receiver: Receiver) -> None:
    """The event is POSTed as a CloudEvent with Webhook-Id and a valid Webhook-Signature."""
    subscribed(quiet, receiver.url)
    event = answered(quiet)
    cancelled(quiet)  # a type the subscription did not ask for
    assert deliver(quiet) == 1
    assert len(receiver.received) == 1
    assert_signed(*receiver.received[0], event)
    assert [row.status for row in delivery_rows(quiet)] == ["delivered"]
    assert deliver(quiet) == 0


def test_an_unacknowledged_delivery_is_retried_later(quiet: Server) -> None:
    """A 500 leaves the delivery pending with back-off; when due it is sent again."""
    failing = Receiver([500])
    try:
        subscribed(quiet, failing.url)
        event = answered(quiet)
        assert deliver(quiet) == 0
        [row] = delivery_rows(quiet)
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
        assert row.next_attempt_at > time.time()
        assert deliver(quiet) == 0  # not due yet
        assert len(failing.received) == 1
        with quiet.services.database.transaction() as conn:
            conn.execute(update(deliveries).values(next_attempt_at=0))
        assert deliver(quiet) == 1
        assert len(failing.received) == 2
        for headers, body in failing.received:
            assert_signed(headers, body, event)
        assert delivery_rows(quiet)[0].status == "delivered"
    finally:
        failing.close()


def test_an_unreachable_subscriber_is_retried(quiet: Server) -> None:
    """No answer at all counts like an error answer."""
    unreachable = Receiver([])
    url = unreachable.url
    unreachable.close()
    subscribed(quiet, url)
    answered(quiet)
    assert deliver(quiet) == 0
    [row] = delivery_rows(quiet)
    assert row.status == "pending"
    assert row.last_error


def test_deleting_a_subscription_drops_its_pending_deliveries(
    quiet: Server, receiver: Receiver
) -> None:
    """Deliveries still waiting are dropped; nothing is sent after the answer."""
    document = subscribed(quiet, receiver.url)
    kept = subscribed(quiet, receiver.url, [CANCELLED])
    answered(quiet)
    cancelled(quiet)
    assert len(delivery_rows(quiet)) == 2
    quiet.client.delete(f"/subscriptions/{document['id']}", headers=as_system(quiet))
    assert [row.target for row in delivery_rows(quiet)] == [kept["id"]]
    assert deliver(quiet) == 1
    assert [json.loads(body)["type"] for _, body in receiver.received] == [CANCELLED]


@pytest.fixture
def ticking(tmp_path: Path) -> Iterator[Server]:
    """A server whose outbox job runs by itself, as in production."""
    yield from make_server(tmp_path, outbox_interval_seconds=0.05)


def test_the_server_delivers_events_by_itself(ticking: Server, receiver: Receiver) -> None:
    """The background job sends due deliveries every outbox interval."""
    server = ticking
    subscribed(server, receiver.url)
    event = answered(server)
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.received
    assert_signed(*receiver.received[0], event)


# ---- the feed --------------------------------------------------------------------------------


def events_page(server: Server, **params: Any) -> dict[str, Any]:
    response = server.client.get("/events", params=params, headers=as_system(server))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_list_events_oldest_first_with_a_cursor_that_is_never_null(quiet: Server) -> None:
    """The feed pages oldest first; nextCursor always lets the caller poll again."""
    empty = events_page(quiet)
    assert empty["items"] == []
    assert empty["nextCursor"]
    first, second, third = answered(quiet, "r1"), cancelled(quiet), answered(quiet, "r3")
    page = events_page(quiet, limit=2, after=empty["nextCursor"])
    assert [e["id"] for e in page["items"]] == [first["id"], second["id"]]
    rest = events_page(quiet, limit=2, after=page["nextCursor"])
    assert [e["id"] for e in rest["items"]] == [third["id"]]
    caught_up = events_page(quiet, after=rest["nextCursor"])
    assert caught_up == {"items": [], "nextCursor": rest["nextCursor"]}
    later = answered(quiet, "r4")
    assert [e["id"] for e in events_page(quiet, after=rest["nextCursor"])["items"]] == [later["id"]]


def test_list_events_filters_by_type(quiet: Server) -> None:
    """?type= keeps one event type."""
    answered(quiet, "r1")
    only = cancelled(quiet)
    answered(quiet, "r3")
    assert events_page(quiet, type=CANCELLED)["items"] == [only]


def test_list_events_refuses_a_foreign_cursor(quiet: Server) -> None:
    """A cursor this server did not issue names no page: 404 naming the parameter."""
    response = quiet.client.get("/events?after=not-a-cursor", headers=as_system(quiet))
    assert_problem(response, 404, "#/query/after")
    assert_problem(quiet.client.get("/events"), 401)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_subscription_operations_check_token_role_and_id(quiet: Server, method: str) -> None:
    """No token is 401, an applicant 403, a malformed id 400."""
    document = subscribed(quiet, "https://example.com/cb")
    path = f"/subscriptions/{document['id']}"
    assert_problem(quiet.client.request(method, path), 401)
    assert_problem(quiet.call(method, path, who=CITIZEN), 403)
    bad = quiet.client.request(method, "/subscriptions/bad%20id", headers=as_system(quiet))
    assert_problem(bad, 400, "#/path/subscriptionId")
    assert quiet.client.get(path, headers=as_system(quiet)).status_code == 200
