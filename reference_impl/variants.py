"""Valid variants: other choices the contract leaves open, switched on at start-up.

The registry (names, descriptions, the clause that allows each) is `faults.VARIANTS`. Choices
made deep in domain code (how an id looks, the order of a list, how a cursor reads) ask `on`,
which reads the variants of the server answering the current request from a context variable
that `VariantLayer` sets: ids and cursors are minted far from any settings object, and one
process may host several servers (the tests do). Response-wide choices (latency, headers,
problem members) are made by `VariantLayer` itself, and vendor fields by `with_vendor_fields`
before the dispatcher checks the reply against the contract.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import os
import random
import secrets
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Connection, Select

from .problems import PROBLEM_MEDIA_TYPE, Problem, forbidden, not_found

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from .dispatch import Handler, Reply
    from .settings import Settings

VENDOR_FIELD = "vendorExtension"
"""The response member ``extra-fields`` adds, which no schema of the contract defines."""
LATENCY_SECONDS = (0.05, 0.15)
"""The range of the ``slow`` variant's added latency."""
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CURSOR_PREFIX = "oc_"


@dataclass(frozen=True)
class _Active:
    names: frozenset[str]
    cursor_key: bytes


_ACTIVE: ContextVar[_Active | None] = ContextVar("egov_reference_variants", default=None)


def on(name: str) -> bool:
    """True when the server answering the current request runs with variant ``name``."""
    active = _ACTIVE.get()
    return active is not None and name in active.names


# ---- identifiers, cursors, delivery and sequence choices -----------------------------------


def ulid() -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits, in Crockford base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def seal_cursor(position: int) -> str:
    """An ``opaque-cursors`` cursor: a nonce, the masked position and an HMAC tag."""
    key = _cursor_key()
    nonce = secrets.token_bytes(8)
    mask = hmac.new(key, b"mask" + nonce, hashlib.sha256).digest()[:8]
    masked = bytes(a ^ b for a, b in zip(position.to_bytes(8, "big"), mask, strict=True))
    tag = hmac.new(key, nonce + masked, hashlib.sha256).digest()[:12]
    return _CURSOR_PREFIX + urlsafe_b64encode(nonce + masked + tag).decode().rstrip("=")


def open_cursor(cursor: str) -> int | None:
    """The position of a cursor `seal_cursor` made, or ``None`` for any other string."""
    if not cursor.startswith(_CURSOR_PREFIX):
        return None
    text = cursor.removeprefix(_CURSOR_PREFIX)
    try:
        raw = urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    if len(raw) != 28:
        return None
    key = _cursor_key()
    nonce, masked, tag = raw[:8], raw[8:16], raw[16:]
    expected = hmac.new(key, nonce + masked, hashlib.sha256).digest()[:12]
    if not hmac.compare_digest(tag, expected):
        return None
    mask = hmac.new(key, b"mask" + nonce, hashlib.sha256).digest()[:8]
    return int.from_bytes(bytes(a ^ b for a, b in zip(masked, mask, strict=True)), "big")


def _cursor_key() -> bytes:
    active = _ACTIVE.get()
    return active.cursor_key if active is not None else b""


def first_attempt_at() -> int:
    """When a queued delivery is first due (epoch seconds): at once, or later (async-delivery)."""
    # Two seconds of integer time are at least one second of real time.
    return int(time.time()) + 2 if on("async-delivery") else 0


def sequence_step() -> int:
    """How far a dossier code's sequence advances per dossier."""
    return 2 if on("sequence-gaps") else 1


def hidden(connection: Connection, exists: Select[Any], what: str, key: str) -> Problem:
    """The answer for an object the caller may not see: 404, or 403 when it exists and the
    server runs ``forbidden-for-others``."""
    if on("forbidden-for-others") and connection.execute(exists).first() is not None:
        return forbidden(f"The {what} {key!r} belongs to someone else; you may not see it.")
    return not_found(what, key)


# ---- vendor fields -------------------------------------------------------------------------


def with_vendor_fields(handler: Handler) -> Handler:
    """``handler``, its JSON object replies (and the items of its pages) given a vendor field."""

    @functools.wraps(handler)
    def shaped(ctx: Any) -> Reply:
        reply = handler(ctx)
        body = reply.body
        if not isinstance(body, dict) or reply.media_type not in (None, "application/json"):
            return reply
        stamp = {"product": "egov-reference", "operation": ctx.operation.operation_id}
        shown: dict[str, Any] = {**body, VENDOR_FIELD: stamp}
        if isinstance(body.get("items"), list):
            shown["items"] = [
                {**item, VENDOR_FIELD: stamp} if isinstance(item, dict) else item
                for item in body["items"]
            ]
        return replace(reply, body=shown)

    return shaped


def shape_handlers(handlers: dict[str, Handler], settings: Settings) -> dict[str, Handler]:
    """The handlers as the variants of ``settings`` shape them."""
    if not settings.has_variant("extra-fields"):
        return handlers
    return {operation_id: with_vendor_fields(h) for operation_id, h in handlers.items()}


# ---- the response-wide layer ---------------------------------------------------------------


class VariantLayer:
    """ASGI middleware: publishes the active variants to the request, then shapes the answer."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        seed = f"egov-cursor|{settings.db_url}|{settings.platform_secret}".encode()
        self.active = _Active(settings.variants, hashlib.sha256(seed).digest())
        self.names = settings.variants

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _ACTIVE.set(self.active)
        started = time.monotonic()
        try:
            if "slow" in self.names:
                await asyncio.sleep(random.uniform(*LATENCY_SECONDS))
            await self.app(scope, receive, self._sender(scope, send, started))
        finally:
            _ACTIVE.reset(token)

    def _sender(self, scope: Scope, send: Send, started: float) -> Send:
        held: list[Message] = []

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start" and "extra-headers" in self.names:
                elapsed = (time.monotonic() - started) * 1000
                message = {**message, "headers": [*message.get("headers", []), *_vendor(elapsed)]}
            if "problem-extensions" not in self.names:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                for out in _extend_problem(held, scope):
                    await send(out)

        return sender


def _vendor(elapsed_ms: float) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-request-id", os.urandom(8).hex().encode()),
        (b"server-timing", f"app;dur={elapsed_ms:.1f}".encode()),
        (b"x-powered-by", b"egov-reference"),
    ]


def _extend_problem(messages: list[Message], scope: Scope) -> list[Message]:
    start = messages[0]
    headers = list(start.get("headers", []))
    media = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if not media.startswith(PROBLEM_MEDIA_TYPE.encode()):
        return messages
    problem = json.loads(b"".join(m.get("body", b"") for m in messages[1:]))
    # The path as it came on the wire (percent-encoded): the decoded one may hold characters a
    # URI reference cannot, and `instance` must be one (RFC 9457 Sec. 3.1.5).
    raw_path = scope.get("raw_path") or scope.get("path", "/").encode()
    problem.setdefault("instance", quote(raw_path.decode("latin-1"), safe="/%:@!$&'()*+,;=-._~"))
    problem["traceId"] = os.urandom(16).hex()
    body = json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    return [{**start, "headers": headers}, {"type": "http.response.body", "body": body}]
