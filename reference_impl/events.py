"""Events between systems and notifications to people, written in the same transaction.

An event is a CloudEvent stored in the outbox together with one delivery row per subscriber
(and one for the national portal's sync endpoint), inside the transaction that changed the
dossier, payment or result. A background job delivers them with retries, so an acknowledged
change is never announced twice as different events nor lost in a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Connection, Select, insert, select, update

from . import variants
from .clock import rfc3339
from .ids import new_id
from .tables import deliveries, notifications, outbox, subscriptions

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger("reference_impl.events")

EVENT_PREFIX = "vn.gov.egov."
EVENT_TYPES = frozenset(
    {
        "vn.gov.egov.dossier.status-changed",
        "vn.gov.egov.payment.completed",
        "vn.gov.egov.result.issued",
        "vn.gov.egov.result.cancelled",
        "vn.gov.egov.request.answered",
    }
)
MAX_ATTEMPTS = 12
_BATCH = 50

# Built once: every change of a dossier writes these (see dossier_store.save).
_INSERT_EVENT = insert(outbox)
_INSERT_DELIVERY = insert(deliveries)
_INSERT_NOTIFICATION = insert(notifications)
_ACTIVE_SUBSCRIPTIONS = select(subscriptions.c.id, subscriptions.c.doc).where(
    subscriptions.c.active == 1
)


def emit(
    connection: Connection, services: Services, kind: str, subject: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Record the event ``vn.gov.egov.<kind>`` and queue it for every subscriber."""
    event_type = EVENT_PREFIX + kind
    event = {
        "specversion": "1.0",
        "id": new_id(),
        "source": services.settings.public_url,
        "type": event_type,
        "subject": subject,
        "time": rfc3339(services.clock.now()),
        "datacontenttype": "application/json",
        "data": data,
    }
    connection.execute(_INSERT_EVENT, {"event_id": event["id"], "type": event_type, "doc": event})
    for row in connection.execute(_ACTIVE_SUBSCRIPTIONS):
        if event_type in row.doc["types"]:
            connection.execute(
                _INSERT_DELIVERY,
                {
                    "target": row.id,
                    "event_id": event["id"],
                    "url": row.doc["callbackUrl"],
                    "method": "POST",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": variants.first_attempt_at(),
                },
            )
    return event


def enqueue_push(
    connection: Connection, target: str, key: str, url: str, method: str, body: dict[str, Any]
) -> None:
    """Queue a request to another system (the NPSP sync), delivered like an event."""
    connection.execute(
        _INSERT_DELIVERY,
        {
            "target": target,
            "event_id": key,
            "url": url,
            "method": method,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": variants.first_attempt_at(),
        },
    )


def notify(
    connection: Connection,
    services: Services,
    owner_key: str,
    kind: str,
    title: str,
    message: str,
    refs: dict[str, str],
    reason: str | None = None,
) -> None:
    """Put an electronic notification in the owner's inbox (Decree 137/2024/ND-CP Art. 7).

    Refusals, supplement requests and cancellations carry their ``reason`` (Art. 7(1)(a)).
    """
    document: dict[str, Any] = {
        "id": new_id(),
        "createdAt": rfc3339(services.clock.now()),
        "kind": kind,
        "title": title,
        "message": message,
        "channel": "portal",
        "refs": refs,
    }
    if reason:
        document["reason"] = reason
    connection.execute(
        _INSERT_NOTIFICATION,
        {"id": document["id"], "owner_key": owner_key, "kind": kind, "doc": document},
    )


def signature(secret: str, body: bytes) -> str:
    """The ``Webhook-Signature`` of a body: ``sha256=`` and the hex HMAC."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_LEASE_SECONDS = 120
"""How long a SQLite deliverer shared by processes holds the deliveries it claimed."""


def _due(now: int) -> Select[Any]:
    """Pending deliveries whose next attempt is due, oldest first."""
    return (
        select(deliveries)
        .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.seq)
    )


def _outcome(row: Any, outcome: str, error: str, now: int) -> dict[str, Any]:
    """The delivery row's new values after one attempt."""
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:500] or None}
    if outcome == "delivered":
        values["status"] = "delivered"
    elif outcome == "rejected" or attempts >= MAX_ATTEMPTS:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = now + min(2**attempts, 300)
    return values


class Deliverer:
    """The background job that sends queued deliveries, with exponential back-off."""

    def __init__(self, services: Services, push_headers: Any = None) -> None:
        self._services = services
        self._client = httpx.AsyncClient(timeout=5.0)
        self._push_headers = push_headers

    async def run_once(self) -> int:
        """Send what is due; return how many were delivered.

        Several server processes may share the database, each with its deliverer; none sends
        a delivery another is sending. On PostgreSQL each delivery is claimed with a row lock
        held while it is sent (a dead process's locks go with it, so nothing waits after a
        crash); on a SQLite file shared by processes, with a lease on its next attempt.
        """
        now = int(time.time())
        database = self._services.database
        if database.dialect == "postgresql":
            return await self._run_locked(now)
        with database.transaction() as connection:
            due = list(connection.execute(_due(now).limit(_BATCH)))
            if due and database.begin_immediate:  # other processes: claim them for a while
                claimed = [row.seq for row in due]
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.seq.in_(claimed))
                    .values(next_attempt_at=now + _LEASE_SECONDS)
                )
        delivered = 0
        for row in due:
            outcome, error = await self._send(row)
            values = _outcome(row, outcome, error, now)
            delivered += outcome == "delivered"
            with database.transaction() as connection:
                connection.execute(
                    update(deliveries).where(deliveries.c.seq == row.seq).values(**values)
                )
        return delivered

    async def _run_locked(self, now: int) -> int:
        """Deliver one due row at a time, each locked (``SKIP LOCKED``) until its outcome."""
        delivered = 0
        for _ in range(_BATCH):
            with self._services.database.transaction() as connection:
                claim = _due(now).limit(1).with_for_update(skip_locked=True)
                row = connection.execute(claim).first()
                if row is None:
                    break
                outcome, error = await self._send(row)
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.seq == row.seq)
                    .values(**_outcome(row, outcome, error, now))
                )
            delivered += outcome == "delivered"
        return delivered

    async def _send(self, row: Any) -> tuple[str, str]:
        """Send one delivery: ``delivered``, ``retry`` later, or ``rejected`` for good.

        A subscriber's webhook is retried on any failure (events.yaml). A push to another
        system (the NPSP sync, a payment notification) that answers 4xx refused that request
        on its merits: sending it again cannot change the answer (payment-platform.yaml).
        """
        headers = {"Content-Type": "application/json"}
        if row.body is not None:
            body = json.dumps(row.body, ensure_ascii=False).encode()
            if self._push_headers is not None:
                headers.update(self._push_headers())
        else:
            event_body, secret = self._event_body(row)
            if event_body is None:
                return "rejected", "the event or its subscription no longer exists"
            body = event_body
            headers["Content-Type"] = "application/cloudevents+json"
            headers["Webhook-Id"] = row.event_id
            headers["Webhook-Signature"] = signature(secret, body)
            if self._services.settings.has_fault("webhook-unkeyed-signature"):
                headers["Webhook-Signature"] = "sha256=" + hashlib.sha256(body).hexdigest()
        try:
            response = await self._client.request(
                row.method, row.url, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            return "retry", f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            if row.body is None and self._services.settings.has_variant("async-delivery"):
                # At least once means maybe twice: the subscriber must de-duplicate by id.
                with contextlib.suppress(httpx.HTTPError):
                    await self._client.request(row.method, row.url, content=body, headers=headers)
            return "delivered", ""
        if row.body is not None and 400 <= response.status_code < 500:
            return "rejected", f"HTTP {response.status_code}: {response.text[:300]}"
        return "retry", f"HTTP {response.status_code}"

    def _event_body(self, row: Any) -> tuple[bytes | None, str]:
        with self._services.database.transaction() as connection:
            event = connection.execute(
                select(outbox.c.doc).where(outbox.c.event_id == row.event_id)
            ).scalar()
            secret = connection.execute(
                select(subscriptions.c.secret).where(subscriptions.c.id == row.target)
            ).scalar()
        if event is None or secret is None:
            return None, ""
        if self._services.settings.has_fault("redelivery-new-event-id"):
            event = {**event, "id": new_id()}
        return json.dumps(event, ensure_ascii=False).encode(), secret

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
