"""What the suites of payments, results, events and the Repository share.

Reading signed things (compact JWS against a published JWK Set), reading a PDF's text,
subscribing the kit's webhook receiver, walking paginated lists, and taking a dossier to a fee
notice or a result. Every helper checks its own outcome against the requirement its caller
names, so a failed precondition reads as the requirement it broke.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from conformance.checks import expect, expect_status, fail
from conformance.client import TargetClient
from conformance.config import TargetConfig
from conformance.scenario import Portal
from conformance.simulators import ReceivedEvent, Simulators, secure_hash
from egov_contract import SCHEMA_BASE, contract

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SIGNING_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
"""The algorithms the contract lets results, e-copies and receipts be signed with."""
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})
EVENT_WAIT_SECONDS = 10.0
"""How long the kit waits for an asynchronous effect (an event, a notification, a push)."""
REASON = "Kết quả được cấp sai thông tin người được cấp; hủy theo quyết định của cơ quan cấp."
FEE_LINE = {
    "code": "LEPHI",
    "name": "Lệ phí giải quyết hồ sơ (bộ công cụ kiểm thử)",
    "amount": 8000,
}


def new_key(prefix: str = "kit") -> str:
    """A fresh Idempotency-Key (the header's alphabet)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def now_vn() -> str:
    """Now, RFC 3339 with the +07:00 offset."""
    return datetime.now(VN_TZ).isoformat(timespec="seconds")


def require_identity(target: TargetConfig, name: str, why: str) -> None:
    """Skip unless the configuration has the identity ``name``."""
    if name not in target.identities:
        pytest.skip(f"insufficient test data: no `{name}` identity in the configuration ({why})")


def require_interface(target: TargetConfig, name: str) -> None:
    """Skip unless the configuration gives a base URL for interface ``name``."""
    if name not in target.base_urls:
        pytest.skip(f"the configuration gives no base URL for the {name} interface")


def schema_of(definition: str) -> dict[str, Any]:
    """The schema the contract names ``definition`` (e.g. ``sync.json#/$defs/x``), resolved."""
    uri = SCHEMA_BASE + definition
    found = contract().registry.resolver().lookup(uri).contents
    return dict(found) if isinstance(found, dict) else {}


def contract_fields(definition: str, body: Any) -> dict[str, Any]:
    """The members of ``body`` the contract's ``definition`` (e.g. ``sync.json#/$defs/x``) names.

    Servers may add fields the contract does not list (conventions, Requests and responses);
    comparing two answers member by member must look at the contract's fields only.
    """
    names = set(schema_of(definition).get("properties", {}))
    return {k: v for k, v in body.items() if k in names} if isinstance(body, dict) else {}


# ---- signatures ------------------------------------------------------------------------------


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jws_parts(token: str) -> tuple[dict[str, Any], bytes] | None:
    """The protected header and the payload bytes of a compact JWS, unverified."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64decode(parts[0]))
        return (header, _b64decode(parts[1])) if isinstance(header, dict) else None
    except (ValueError, TypeError):
        return None


def flipped(token: str, segment: int) -> str:
    """``token`` with one byte of its ``segment``-th part (0 header, 1 payload, 2 signature)
    flipped, the way a bit error or a forger's edit would change it."""
    parts = token.split(".")
    raw = bytearray(_b64decode(parts[segment]))
    raw[len(raw) // 2] ^= 0x01
    parts[segment] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    return ".".join(parts)


def key_set(requirement: str, response: httpx.Response, what: str) -> KeySet:
    """The JWK Set of ``response``: public keys only, importable; else `CheckFailed`."""
    body = expect_status(requirement, response, 200, why=f"{what} publishes its signing keys")
    keys = body.get("keys") if isinstance(body, dict) else None
    expect(
        requirement,
        isinstance(keys, list) and bool(keys),
        f"{what}: a non-empty JWK Set",
        lambda: f"keys {keys!r}",
        response,
    )
    leaked = [k.get("kid") for k in keys or [] if isinstance(k, dict) and PRIVATE_MEMBERS & set(k)]
    expect(
        requirement,
        not leaked,
        f"{what}: public keys only (no d, p, q…)",
        f"private members in the keys {leaked}",
        response,
    )
    try:
        return KeySet.import_key_set({"keys": list(keys or [])})
    except (JoseError, ValueError, TypeError) as problem:
        raise fail(
            requirement,
            f"{what}: keys a JOSE library can import",
            f"{type(problem).__name__}: {problem}",
            response,
        ) from None


def verify_jws(
    requirement: str, token: Any, keys: KeySet, what: str, *responses: httpx.Response
) -> tuple[dict[str, Any], Any]:
    """Verify a compact JWS with ``keys``; its protected header and JSON payload.

    Fails ``requirement`` when the token is not a compact JWS, names no published ``kid``,
    uses an algorithm the contract does not allow (``none`` among them) or does not verify.
    """
    parts = jws_parts(token)
    if parts is None:
        raise fail(
            requirement,
            f"{what}: a compact JWS (header.payload.signature)",
            repr(token)[:200],
            *responses,
        )
    header, _ = parts
    expect(
        requirement,
        header.get("alg") in SIGNING_ALGORITHMS,
        f"{what}: signed with one of {', '.join(SIGNING_ALGORITHMS)}",
        f"alg {header.get('alg')!r}",
        *responses,
    )
    published = [key.kid for key in keys.keys]
    expect(
        requirement,
        header.get("kid") in published,
        f"{what}: a kid that the published key set names ({published})",
        f"kid {header.get('kid')!r}",
        *responses,
    )
    try:
        verified = jws.deserialize_compact(token, keys, algorithms=list(SIGNING_ALGORITHMS))
    except (JoseError, ValueError, TypeError) as problem:
        raise fail(
            requirement,
            f"{what}: a signature that verifies with the published key {header.get('kid')!r}",
            f"{type(problem).__name__}: {problem}",
            *responses,
        ) from None
    try:
        payload = json.loads(verified.payload)
    except ValueError:
        raise fail(
            requirement, f"{what}: a JSON payload", repr(verified.payload[:200]), *responses
        ) from None
    return header, payload


def expect_tamper_detected(
    requirement: str, token: str, keys: KeySet, what: str, *responses: httpx.Response
) -> None:
    """Fail unless a copy of ``token`` with one payload or signature byte flipped is rejected.

    A signature that still verifies after its payload changed binds nothing: the integrity the
    law asks for would be a formality.
    """
    for segment, name in ((1, "payload"), (2, "signature")):
        try:
            jws.deserialize_compact(
                flipped(token, segment), keys, algorithms=list(SIGNING_ALGORITHMS)
            )
        except (JoseError, ValueError, TypeError):
            continue
        raise fail(
            requirement,
            f"{what}: verification fails once one byte of its {name} changes",
            f"the {name}-altered copy still verifies",
            *responses,
        )


# ---- reading a PDF's text ----------------------------------------------------------------------

_OBJECT = re.compile(rb"(\d+)\s+\d+\s+obj\b(.*?)\bendobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\n?endstream", re.S)
_FONT_REF = re.compile(rb"/([A-Za-z0-9_.+-]+)\s+(\d+)\s+\d+\s+R")
_TO_UNICODE = re.compile(rb"/ToUnicode\s+(\d+)\s+\d+\s+R")
_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_BFRANGE = re.compile(rb"beginbfrange(.*?)endbfrange", re.S)
_HEX = re.compile(rb"<([0-9A-Fa-f\s]*)>")
_TOKENS = re.compile(
    rb"/([A-Za-z0-9_.+-]+)\s+[-\d.]+\s+Tf"  # a font selection
    rb"|\((?:\\.|[^\\()])*\)|<[0-9A-Fa-f\s]*>"  # a string, literal or hex
    rb"|\b(Tj|TJ|'|\"|ET|T\*|Td|TD)\b",  # the operators that show text or move to a new line
    re.S,
)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    out, index = bytearray(), 0
    while index < len(literal):
        char = literal[index : index + 1]
        if char != b"\\":
            out += char
            index += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", literal[index + 1 : index + 4])
        if octal:
            out.append(int(octal.group(0), 8) & 0xFF)
            index += 1 + len(octal.group(0))
        else:
            following = literal[index + 1 : index + 2]
            out += _ESCAPES.get(following, following)
            index += 2
    return bytes(out)


def _hex_bytes(text: bytes) -> bytes:
    digits = re.sub(rb"\s", b"", text)
    if len(digits) % 2:
        digits += b"0"
    return bytes.fromhex(digits.decode())


def _utf16(data: bytes) -> str:
    return data.decode("utf-16-be", "replace")


def _cmap(data: bytes) -> dict[bytes, str]:
    """A ToUnicode CMap's code → text table (bfchar and bfrange entries)."""
    table: dict[bytes, str] = {}
    for block in _BFCHAR.findall(data):
        pairs = _HEX.findall(block)
        for source, target in zip(pairs[::2], pairs[1::2], strict=False):
            table[_hex_bytes(source)] = _utf16(_hex_bytes(target))
    for block in _BFRANGE.findall(data):
        for line in block.splitlines():
            values = _HEX.findall(line)
            if len(values) < 3:
                continue
            low, high = _hex_bytes(values[0]), _hex_bytes(values[1])
            start = int.from_bytes(low, "big")
            first = int.from_bytes(_hex_bytes(values[2]), "big")
            for offset in range(min(int.from_bytes(high, "big") - start + 1, 65536)):
                code = (start + offset).to_bytes(len(low), "big")
                table[code] = chr(first + offset) if first + offset < 0x110000 else "\ufffd"
    return table


def _decode(raw: bytes, cmap: dict[bytes, str] | None) -> str:
    if not cmap:
        return raw.decode("latin-1")
    width = max(len(code) for code in cmap)
    return "".join(
        cmap.get(raw[i : i + width], "\ufffd") for i in range(0, len(raw) - width + 1, width)
    )


def pdf_text(pdf: bytes) -> str:
    """The text a PDF shows, read the simple way: streams inflated, fonts' ToUnicode maps applied.

    Good for what common generators write (fpdf2, ReportLab, wkhtmltopdf): text objects with
    literal or hex strings. An empty answer means the kit found no text it can read (text drawn
    as outlines or images), not that the PDF shows none.
    """
    objects: dict[int, tuple[bytes, bytes | None]] = {}
    for number, body in _OBJECT.findall(pdf):
        found = _STREAM.search(body)
        data = None
        if found:
            data = found.group(1)
            head = body[: found.start()]
            if b"/FlateDecode" in head:
                try:
                    data = zlib.decompressobj().decompress(data)
                except zlib.error:
                    data = None
            objects[int(number)] = (head, data)
        else:
            objects[int(number)] = (body, None)
    maps: dict[bytes, dict[bytes, str]] = {}
    for head, _ in objects.values():
        for name, number in _FONT_REF.findall(head):
            font = objects.get(int(number))
            reference = _TO_UNICODE.search(font[0]) if font else None
            cmap_object = objects.get(int(reference.group(1))) if reference else None
            if cmap_object and cmap_object[1]:
                maps[name] = _cmap(cmap_object[1])
    lines: list[str] = []
    for head, stream in objects.values():
        if not stream or b"BT" not in stream or b"/Length1" in head:
            continue
        current: dict[bytes, str] | None = None
        line = ""
        for match in _TOKENS.finditer(stream):
            token = match.group(0)
            if match.group(1) is not None:
                current = maps.get(match.group(1))
            elif token.startswith(b"("):
                line += _decode(_unescape(token[1:-1]), current)
            elif token.startswith(b"<"):
                line += _decode(_hex_bytes(token[1:-1]), current)
            elif token in (b"ET", b"T*", b"'", b'"', b"Td", b"TD") and line:
                lines.append(line)
                line = ""
        if line:
            lines.append(line)
    return "\n".join(lines)


def shows(text: str, wanted: str) -> bool:
    """True when ``wanted`` is in the PDF text, however the generator split or spaced it."""
    squeezed = re.sub(r"\s+", "", text)
    return wanted in text or re.sub(r"\s+", "", wanted) in squeezed


# ---- paginated lists ----------------------------------------------------------------------------


def find_in_pages(
    requirement: str,
    client: TargetClient,
    interface: str,
    path: str,
    match: Callable[[dict[str, Any]], bool],
    *,
    as_: str,
    params: dict[str, Any] | None = None,
    max_pages: int = 20,
) -> dict[str, Any] | None:
    """The first item of a cursor-paginated list that ``match`` accepts, or ``None``.

    The order is the server's choice, so the whole list is walked (at most ``max_pages``).
    """
    query: dict[str, Any] = {"limit": 100, **(params or {})}
    for _ in range(max_pages):
        answer = client.call("GET", interface, path, as_=as_, params=query)
        body = expect_status(requirement, answer, 200, why=f"listing {path}")
        items = body.get("items") if isinstance(body, dict) else None
        expect(
            requirement,
            isinstance(items, list),
            f"{path}: a page with items[]",
            repr(body)[:200],
            answer,
        )
        for item in items or []:
            if isinstance(item, dict) and match(item):
                return item
        cursor = body.get("nextCursor")
        if not cursor:
            return None
        query = {**query, "cursor": cursor}
    return None


# ---- events --------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """A subscription of the kit's `system` identity to the target's events, and its inbox."""

    simulators: Simulators
    token: str
    secret: str
    subscription: dict[str, Any]

    @property
    def url(self) -> str:
        """The callback URL given to the target."""
        return self.simulators.events.url(self.token)

    def wait(
        self,
        event_type: str,
        predicate: Callable[[ReceivedEvent], bool],
        timeout: float = EVENT_WAIT_SECONDS,
    ) -> ReceivedEvent | None:
        """The first delivery of ``event_type`` that ``predicate`` accepts, within ``timeout``."""
        return self.simulators.events.wait_for(
            self.token, predicate, timeout, event_type=event_type
        )

    def received(self) -> list[ReceivedEvent]:
        """Every delivery so far."""
        return self.simulators.events.received(self.token)


def webhook_secret(target: TargetConfig) -> str:
    """The secret the kit sets on its subscriptions: the configuration's, else a fresh one."""
    configured = target.secrets.get("webhook")
    return configured if configured else "kit-" + secrets.token_urlsafe(24)


def subscribe(
    requirement: str,
    client: TargetClient,
    target: TargetConfig,
    simulators: Simulators,
    types: list[str],
) -> Inbox:
    """Subscribe a new inbox of the event receiver to ``types`` as `system` (201 expected)."""
    require_identity(target, "system", "subscriptions are made by a state system")
    secret = webhook_secret(target)
    token = simulators.events.open(secret)
    body = {"callbackUrl": simulators.events.url(token), "types": types, "secret": secret}
    answer = client.call("POST", "events", "/subscriptions", as_="system", json=body)
    if answer.status_code == 403:
        pytest.skip(
            f"the configured `system` identity may not subscribe to {types} (403); "
            "configure a system client the target lets receive these events"
        )
    created = expect_status(requirement, answer, 201, why="createSubscription by a state system")
    expect(
        requirement,
        isinstance(created, dict) and bool(created.get("id")),
        "the new subscription with its id",
        lambda: repr(created)[:200],
        answer,
    )
    expect(
        requirement,
        secret not in answer.text,
        "no response carries the subscription secret",
        "the secret is in the answer",
        answer,
    )
    return Inbox(simulators, token, secret, created)


def unsubscribe(client: TargetClient, inbox: Inbox) -> httpx.Response:
    """Delete the subscription; the inbox stops accepting deliveries."""
    answer = client.call(
        "DELETE", "events", f"/subscriptions/{inbox.subscription['id']}", as_="system"
    )
    inbox.simulators.events.close(inbox.token)
    return answer


@contextmanager
def subscribed(
    requirement: str,
    client: TargetClient,
    target: TargetConfig,
    simulators: Simulators,
    types: list[str],
) -> Iterator[Inbox]:
    """A subscription for the time of a ``with`` block, deleted afterwards."""
    inbox = subscribe(requirement, client, target, simulators, types)
    try:
        yield inbox
    finally:
        unsubscribe(client, inbox)


def expect_delivered(
    requirement: str, found: ReceivedEvent | None, what: str, inbox: Inbox
) -> ReceivedEvent:
    """Fail unless ``found`` came and its Webhook-Signature verifies."""
    if found is None:
        seen = [
            (e.type, e.data.get("dossierCode") or e.data.get("resultCode"))
            for e in inbox.received()
        ]
        raise fail(
            requirement,
            f"{what}, delivered to the subscriber within {EVENT_WAIT_SECONDS:.0f} s",
            f"none came; deliveries seen: {seen[:10]}",
        )
    expect(
        requirement,
        found.signature_valid,
        "Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body under the subscription secret>",
        f"Webhook-Signature {found.headers.get('webhook-signature')!r}",
    )
    return found


# ---- dossiers taken far enough ------------------------------------------------------------------


def resolved_result(portal: Portal, requirement: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A processed dossier and its e-result, read back as the holder (applicantA)."""
    dossier = portal.resolved()
    codes = dossier.get("resultCodes") or portal.get(dossier["id"]).get("resultCodes") or []
    expect(
        requirement,
        bool(codes),
        "the processed dossier lists the code of its result",
        f"resultCodes {codes!r}",
    )
    answer = portal.call("GET", "results", f"/results/{codes[0]}", as_="applicantA")
    result = expect_status(requirement, answer, 200, why="the holder reads the result")
    return dossier, result


def delivered(
    portal: Portal, requirement: str, dossier: dict[str, Any], channel: str = "electronic"
) -> dict[str, Any]:
    """``deliverResult`` on a processed dossier (status 10 expected)."""
    body = portal.step(requirement, dossier["id"], "delivery", {"channel": channel})
    expect(
        requirement,
        body.get("status") == "returned",
        "the dossier is returned (10) once its result is delivered",
        f"status {body.get('status')!r}",
    )
    return body


def returned(portal: Portal) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dossier resolved and its result delivered electronically; both as the holder reads them."""
    dossier, result = resolved_result(portal, "RES-03")
    delivered(portal, "RES-03", dossier)
    return portal.get(dossier["id"]), result


def download(
    portal: Portal, requirement: str, interface: str, path: str, as_: str = "applicantA"
) -> httpx.Response:
    """A file download that must succeed."""
    answer = portal.call("GET", interface, path, as_=as_)
    expect_status(requirement, answer, 200, why=f"downloading {path}")
    return answer


# ---- fees and payments ---------------------------------------------------------------------------


def fee_requested(portal: Portal) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A dossier in ``fee-requested`` (6) and the unpaid obligations its fee notice raised."""
    dossier = portal.in_process()
    portal.step("PAY-01", dossier["id"], "fee-notice", {"fees": [FEE_LINE]})
    answer = portal.call("GET", "payments", f"/dossiers/{dossier['id']}/fees", as_="applicantA")
    page = expect_status("PAY-01", answer, 200, why="the applicant lists the dossier's fees")
    unpaid = [
        o for o in page.get("items", []) if isinstance(o, dict) and o.get("status") == "unpaid"
    ]
    expect(
        "PAY-01",
        bool(unpaid),
        "an unpaid obligation raised by the fee notice",
        lambda: f"obligations {page.get('items')!r}"[:300],
        answer,
    )
    notice = [o for o in unpaid if o.get("due") == "on-notice"] or unpaid
    return dossier, notice


def request_payment(
    portal: Portal, obligation_ids: list[str], key: str | None = None, **extra: Any
) -> httpx.Response:
    """``createPaymentRequest`` as applicantA (with an Idempotency-Key unless ``key`` is "")."""
    headers = {"Idempotency-Key": key or new_key()} if key != "" else {}
    return portal.call(
        "POST",
        "payments",
        "/payments",
        as_="applicantA",
        json={"obligationIds": obligation_ids, **extra},
        headers=headers,
    )


def pending_payment(portal: Portal) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dossier waiting for payment and the pending payment request of its fee notice."""
    dossier, obligations = fee_requested(portal)
    answer = request_payment(portal, [o["id"] for o in obligations])
    payment = expect_status("PAY-02", answer, 201, why="a payment request for the fees due")
    expect(
        "PAY-02",
        isinstance(payment, dict)
        and bool(payment.get("reference"))
        and bool(payment.get("transactionId")),
        "a payment with a reference and a transactionId",
        lambda: repr(payment)[:300],
        answer,
    )
    return dossier, payment


def platform_secret(target: TargetConfig) -> str:
    """The secret the portal shares with the payment platform; a skip when not configured."""
    secret = target.secrets.get("paymentNotification")
    if not secret:
        pytest.skip(
            "insufficient test data: no secrets.paymentNotification in the configuration, "
            "so the kit cannot sign a notification as the platform"
        )
    return secret


def notification(payment: dict[str, Any], secret: str, **changes: Any) -> dict[str, Any]:
    """A notification of ``payment``'s success, hashed with ``secret`` after ``changes``."""
    body: dict[str, Any] = {
        "notificationId": new_key("ntf"),
        "reference": payment["reference"],
        "transactionId": payment["transactionId"],
        "amount": payment["amount"],
        "currency": "VND",
        "status": "succeeded",
        "paidAt": now_vn(),
        **changes,
    }
    body["secureHash"] = secure_hash(secret, body)
    return body


def notify(portal: Portal, body: dict[str, Any]) -> httpx.Response:
    """``receivePaymentNotification``: no bearer token, the body authenticates itself."""
    return portal.call("POST", "payments", "/payments/notifications", json=body)


def poll(
    read: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = EVENT_WAIT_SECONDS,
) -> dict[str, Any]:
    """Read until ``done`` or ``timeout``; the last reading."""
    deadline = time.monotonic() + timeout
    current = read()
    while not done(current) and time.monotonic() < deadline:
        time.sleep(0.25)
        current = read()
    return current
