"""`PaymentNotificationReceiver`: the kit as the portal a payment platform notifies.

For the payment-platform profile the kit creates transactions whose ``notifyUrl`` is an inbox
of this receiver (``<base>/portal/<token>/payments/notifications``). The platform's POST is
kept as it came, and its ``secureHash`` is checked the way the contract's "Payment
notifications" section says a portal checks it: the lowercase hex HMAC-SHA256, under the
shared secret, of ``reference|transactionId|amount|currency|status|paidAt``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .host import SimulatorHost

PREFIX = "/portal"
HASHED_FIELDS = ("reference", "transactionId", "amount", "currency", "status", "paidAt")


def secure_hash(secret: str, notification: dict[str, Any]) -> str:
    """The ``secureHash`` of a payment notification's fields under ``secret``."""
    message = "|".join(str(notification.get(name, "")) for name in HASHED_FIELDS)
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ReceivedNotification:
    """One notification as it arrived."""

    token: str
    body: Any
    hash_valid: bool
    received_at: float


@dataclass
class _Inbox:
    secret: str
    received: list[ReceivedNotification] = field(default_factory=list)


class PaymentNotificationReceiver:
    """Inboxes for payment notifications, one per transaction the kit creates."""

    def __init__(self, host: SimulatorHost) -> None:
        self._host = host
        self._inboxes: dict[str, _Inbox] = {}
        self._changed = threading.Condition()
        route = Route("/{token}/payments/notifications", self._receive, methods=["POST"])
        host.mount(PREFIX, [route])

    def open(self, secret: str) -> str:
        """A new inbox whose notifications must be hashed with ``secret``; its token."""
        token = secrets.token_urlsafe(12)
        with self._changed:
            self._inboxes[token] = _Inbox(secret)
        return token

    def url(self, token: str) -> str:
        """The ``notifyUrl`` of inbox ``token``."""
        return f"{self._host.base_url}{PREFIX}/{token}/payments/notifications"

    def wait_for(
        self,
        token: str,
        predicate: Callable[[ReceivedNotification], bool] = lambda _n: True,
        timeout: float = 10.0,
    ) -> ReceivedNotification | None:
        """The first notification to ``token`` matching ``predicate``, within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                inbox = self._inboxes.get(token)
                for found in inbox.received if inbox else []:
                    if predicate(found):
                        return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def received(self, token: str) -> list[ReceivedNotification]:
        """Every notification to inbox ``token`` so far."""
        with self._changed:
            inbox = self._inboxes.get(token)
            return list(inbox.received) if inbox else []

    async def _receive(self, request: Request) -> Response:
        token = request.path_params["token"]
        with self._changed:
            inbox = self._inboxes.get(token)
        if inbox is None:
            return _problem(404, "No such notification inbox.")
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            body = None
        valid = False
        if isinstance(body, dict) and isinstance(body.get("secureHash"), str):
            expected = secure_hash(inbox.secret, body)
            valid = hmac.compare_digest(body["secureHash"].encode(), expected.encode())
        with self._changed:
            inbox.received.append(ReceivedNotification(token, body, valid, time.time()))
            self._changed.notify_all()
        if not valid:
            # What a portal answers to a bad hash; a 4xx also ends the platform's retries.
            return _problem(401, "secureHash is not the HMAC-SHA256 of the fields.")
        return JSONResponse({"status": "applied", "paymentId": f"kit-{token}"})


def _problem(status: int, detail: str) -> Response:
    return JSONResponse(
        {"type": "about:blank", "title": detail, "status": status},
        status,
        media_type="application/problem+json",
    )
