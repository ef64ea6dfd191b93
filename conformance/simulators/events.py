"""`EventReceiver`: the kit as a subscribed agency's webhook endpoint (specs/events.yaml).

A test opens an inbox with the secret it gives ``createSubscription`` and subscribes the
inbox's URL, ``<base>/events/<token>``. Every POST to it is kept with its raw bytes, and its
``Webhook-Signature`` is checked over those bytes before parsing, as the contract tells
subscribers to do. A delivery that verifies is acknowledged (204); one that does not is
refused (401) and still kept, so a test can say "a delivery came, its signature was wrong"
instead of timing out.
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

PREFIX = "/events"
SIGNATURE_HEADER = "webhook-signature"


def webhook_signature(secret: str, body: bytes) -> str:
    """The ``Webhook-Signature`` the contract prescribes: ``sha256=`` + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("ascii"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ReceivedEvent:
    """One webhook delivery as it arrived."""

    token: str
    headers: dict[str, str]
    body: bytes
    event: Any
    """The parsed JSON body, or ``None`` when it is not JSON."""
    signature_valid: bool
    received_at: float

    @property
    def type(self) -> str | None:
        """The CloudEvent ``type``, when the body has one."""
        found = self.event.get("type") if isinstance(self.event, dict) else None
        return found if isinstance(found, str) else None

    @property
    def id(self) -> str | None:
        """The CloudEvent ``id``, when the body has one."""
        found = self.event.get("id") if isinstance(self.event, dict) else None
        return found if isinstance(found, str) else None

    @property
    def data(self) -> dict[str, Any]:
        """The CloudEvent ``data`` object (empty when absent)."""
        found = self.event.get("data") if isinstance(self.event, dict) else None
        return found if isinstance(found, dict) else {}


@dataclass
class _Inbox:
    secret: str
    events: list[ReceivedEvent] = field(default_factory=list)


class EventReceiver:
    """Webhook inboxes, one per subscription the kit creates."""

    def __init__(self, host: SimulatorHost) -> None:
        self._host = host
        self._inboxes: dict[str, _Inbox] = {}
        self._changed = threading.Condition()
        host.mount(PREFIX, [Route("/{token}", self._receive, methods=["POST"])])

    # ---- what tests use ----------------------------------------------------------------------

    def open(self, secret: str) -> str:
        """A new inbox whose deliveries must be signed with ``secret``; its token."""
        token = secrets.token_urlsafe(12)
        with self._changed:
            self._inboxes[token] = _Inbox(secret)
        return token

    def url(self, token: str) -> str:
        """The callback URL of inbox ``token``, as the target must reach it."""
        return f"{self._host.base_url}{PREFIX}/{token}"

    def received(self, token: str) -> list[ReceivedEvent]:
        """Every delivery to inbox ``token`` so far, in arrival order."""
        with self._changed:
            inbox = self._inboxes.get(token)
            return list(inbox.events) if inbox else []

    def wait_for(
        self,
        token: str,
        predicate: Callable[[ReceivedEvent], bool],
        timeout: float = 10.0,
        *,
        event_type: str | None = None,
    ) -> ReceivedEvent | None:
        """The first delivery to ``token`` (of ``event_type``) matching ``predicate``.

        Waits at most ``timeout`` seconds; ``None`` when none came. Deliveries whose signature
        does not verify match too: the caller judges the signature and says so.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                inbox = self._inboxes.get(token)
                for event in inbox.events if inbox else []:
                    if (event_type is None or event.type == event_type) and predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def close(self, token: str) -> None:
        """Forget inbox ``token``; later deliveries to it are answered 404."""
        with self._changed:
            self._inboxes.pop(token, None)

    # ---- the endpoint ------------------------------------------------------------------------

    async def _receive(self, request: Request) -> Response:
        token = request.path_params["token"]
        body = await request.body()
        with self._changed:
            inbox = self._inboxes.get(token)
        if inbox is None:
            return JSONResponse(
                {"title": "No such inbox", "status": 404},
                404,
                media_type="application/problem+json",
            )
        sent = request.headers.get(SIGNATURE_HEADER, "")
        valid = hmac.compare_digest(sent.encode(), webhook_signature(inbox.secret, body).encode())
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        received = ReceivedEvent(
            token=token,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            event=parsed,
            signature_valid=valid,
            received_at=time.time(),
        )
        with self._changed:
            inbox.events.append(received)
            self._changed.notify_all()
        if not valid:
            return JSONResponse(
                {"title": "Webhook-Signature does not verify", "status": 401},
                401,
                media_type="application/problem+json",
            )
        return Response(status_code=204)
