"""The sandbox payment platform (in practice PayGov) and the portal's client of it.

Decree 45/2020/ND-CP Art. 13. A portal (a system client) creates a transaction for an agency,
the merchant; the payer's outcome (confirmPlatformPayment, the sandbox's stand-in for the
bank) is signed into an e-receipt with the platform key and posted to the transaction's
``notifyUrl``, authenticated by ``secureHash``. The notification always goes through the
outbox, which retries it; when ``notifyUrl`` is this same server it is also applied at once,
through the very code the portal's endpoint runs, so the payer's confirmation answers with the
outcome already delivered. The later outbox delivery is then a harmless duplicate.

The last part is the portal's client of its platform: in process when the platform is this
server (``settings.platform_url`` unset or equal to ``public_url``), over HTTP otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Connection, Row, insert, select, update

from . import variants
from .auth import Principal
from .clock import rfc3339
from .events import enqueue_push
from .pagination import page_of_rows
from .problems import FieldError, Problem, conflict, forbidden, not_found, unprocessable
from .signing import sign_json
from .tables import deliveries, platform_transactions
from .tokens import access_token, system_claims

if TYPE_CHECKING:
    from .services import Services

PORTAL_CLIENT_ID = "portal"
"""The client id under which a portal of this server calls its payment platform."""
NOTIFY_TARGET = "platform-notify"
SIGNING_PURPOSE = "platform"
RECEIPT_TYPE = "egov-receipt+jws"
_COLLECT_FOR_ALL = frozenset({"national-portal", "payment-platform"})
_HTTP_TIMEOUT_SECONDS = 10.0
_HASHED_FIELDS = ("reference", "transactionId", "amount", "currency", "status", "paidAt")


# ---- who collects for which merchant -------------------------------------------------------


def merchants_of(services: Services, client: Principal) -> frozenset[str] | None:
    """The merchant codes a system client collects for; ``None`` for every merchant.

    A portal (``portal`` client), the national portal and the platform itself collect for
    every agency; a one-stop system for its agency and the agencies under it; others for none.
    """
    if client.client_id == PORTAL_CLIENT_ID:
        return None
    system = services.fixtures.systems.get(client.client_id or "")
    if system is None:
        return frozenset()
    if system["role"] in _COLLECT_FOR_ALL:
        return None
    if system["role"] != "one-stop":
        return frozenset()
    return frozenset(
        code for code in services.fixtures.agencies if _under(services, code, system["agencyCode"])
    )


def _under(services: Services, code: str, root: str) -> bool:
    agencies = services.fixtures.agencies
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current not in seen:
        if current == root:
            return True
        seen.add(current)
        current = agencies.get(current, {}).get("parentCode")
    return False


def may_collect(services: Services, client: Principal, merchant_code: str) -> bool:
    """True when ``client`` may create and read transactions of ``merchant_code``."""
    merchants = merchants_of(services, client)
    return merchants is None or merchant_code in merchants


# ---- transactions --------------------------------------------------------------------------


def _request_errors(services: Services, request: dict[str, Any]) -> list[FieldError]:
    errors = []
    merchant = request["merchantCode"]
    if merchant not in services.fixtures.agencies:
        detail = f"No merchant (agency) {merchant!r} is registered at the platform."
        errors.append(FieldError("/merchantCode", detail, "unknown-merchant"))
    total = sum(line["amount"] for line in request["lines"])
    if total != request["amount"]:
        detail = f"amount is {request['amount']} VND but the lines add up to {total} VND."
        errors.append(FieldError("/amount", detail, "amount-sum"))
    return errors


def create_transaction(
    connection: Connection,
    services: Services,
    request: dict[str, Any],
    client: Principal | None,
) -> dict[str, Any]:
    """Create a pending transaction from a ``platformPaymentRequest``.

    ``client`` is the calling system, or ``None`` for this server's own portal. 422 when the
    merchant is unknown or the lines do not add up, 403 when the client may not collect for
    the merchant, 409 when the merchant already used the reference.
    """
    errors = _request_errors(services, request)
    if errors:
        raise unprocessable("The platform cannot create this transaction.", errors)
    merchant = request["merchantCode"]
    if client is not None and not may_collect(services, client, merchant):
        raise forbidden(f"Client {client.client_id!r} does not collect for merchant {merchant}.")
    taken = connection.execute(
        select(platform_transactions.c.id).where(
            platform_transactions.c.reference == request["reference"],
            platform_transactions.c.merchant_code == merchant,
        )
    ).scalar()
    if taken is not None:
        raise conflict(
            f"Merchant {merchant} already used reference {request['reference']} for "
            f"transaction {taken}; a new payment needs a new reference.",
            transactionId=taken,
        )
    now = services.clock.now()
    transaction_id = f"PG{now:%y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
    base = services.settings.public_url.rstrip("/")
    document: dict[str, Any] = {
        "transactionId": transaction_id,
        "reference": request["reference"],
        "merchantCode": merchant,
        "amount": request["amount"],
        "currency": request["currency"],
        "lines": [dict(line) for line in request["lines"]],
        "description": request["description"],
        "status": "pending",
        "checkoutUrl": f"{base}/platform/checkout/{transaction_id}",
        "createdAt": rfc3339(now),
        "payerName": request["payerName"],
    }
    connection.execute(
        insert(platform_transactions).values(
            id=transaction_id,
            reference=request["reference"],
            merchant_code=merchant,
            status="pending",
            created_day=now.date().isoformat(),
            notify_url=request["notifyUrl"],
            doc=document,
        )
    )
    return document


def load_transaction(
    connection: Connection, transaction_id: str, *, for_update: bool = False
) -> Row[Any, Any, Any]:
    """The stored transaction (``doc``, ``notify_url``, ``merchant_code``), else 404."""
    statement = select(
        platform_transactions.c.doc,
        platform_transactions.c.notify_url,
        platform_transactions.c.merchant_code,
    ).where(platform_transactions.c.id == transaction_id)
    if for_update:
        statement = statement.with_for_update()
    row = connection.execute(statement).first()
    if row is None:
        raise not_found("transaction", transaction_id)
    return row


def _store(connection: Connection, document: dict[str, Any]) -> None:
    connection.execute(
        update(platform_transactions)
        .where(platform_transactions.c.id == document["transactionId"])
        .values(status=document["status"], doc=document)
    )


def present(connection: Connection, document: dict[str, Any]) -> dict[str, Any]:
    """The transaction as the API shows it, with the delivery of its notification so far."""
    shown = dict(document)
    report = dict(document.get("notification") or {"attempts": 0})
    queued = connection.execute(
        select(deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error).where(
            deliveries.c.target == NOTIFY_TARGET,
            deliveries.c.event_id == _notify_key(document["transactionId"]),
        )
    ).first()
    if queued is not None and queued.attempts:
        report["attempts"] = report.get("attempts", 0) + queued.attempts
        status = _status_of(queued.status, queued.last_error)
        if status is not None:
            report["lastStatus"] = status
    shown["notification"] = report
    return shown


def _status_of(delivery_status: str, last_error: str | None) -> int | None:
    if delivery_status == "delivered":
        return 200
    if last_error and last_error.startswith("HTTP "):
        code = last_error.removeprefix("HTTP ")
        return int(code) if code.isdigit() else None
    return None


def list_transactions(
    connection: Connection, services: Services, client: Principal, query: dict[str, Any]
) -> dict[str, Any]:
    """A page of the transactions of the merchants ``client`` collects for (reconciliation)."""
    merchants = merchants_of(services, client)
    if merchants is not None and not merchants:
        raise forbidden(f"Client {client.client_id!r} collects for no merchant.")
    table = platform_transactions
    conditions = []
    if merchants is not None:
        conditions.append(table.c.merchant_code.in_(sorted(merchants)))
    if status := query.get("status"):
        conditions.append(table.c.status == status)
    if first := query.get("from"):
        conditions.append(table.c.created_day >= first)
    if last := query.get("to"):
        conditions.append(table.c.created_day <= last)
    rows, cursor = page_of_rows(connection, table, conditions, query)
    return {"items": [present(connection, dict(row.doc)) for row in rows], "nextCursor": cursor}


# ---- the payer's outcome, the receipt and the notification ---------------------------------


def receipt_claims(document: dict[str, Any]) -> dict[str, Any]:
    """What the e-receipt says (payment.json, receiptClaims)."""
    return {
        "reference": document["reference"],
        "transactionId": document["transactionId"],
        "amount": document["amount"],
        "currency": document["currency"],
        "paidAt": document["paidAt"],
        "payerName": document["payerName"],
        "agencyCode": document["merchantCode"],
        "lines": document["lines"],
    }


def secure_hash(secret: str, notification: dict[str, Any]) -> str:
    """A notification's ``secureHash``: hex HMAC-SHA256 of its fields joined by ``|``.

    The amount is written in plain decimal; the key is the shared secret's UTF-8 bytes.
    """
    message = "|".join(str(notification[name]) for name in _HASHED_FIELDS)
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def notification_of(services: Services, document: dict[str, Any]) -> dict[str, Any]:
    """The signed notification of a transaction's outcome; every delivery is the same."""
    secret = services.settings.platform_secret
    body: dict[str, Any] = {
        "notificationId": f"ntf-{document['transactionId']}",
        "reference": document["reference"],
        "transactionId": document["transactionId"],
        "amount": document["amount"],
        "currency": document["currency"],
        "status": document["status"],
        "paidAt": document["paidAt"],
    }
    body["secureHash"] = secure_hash(secret, body)
    if services.settings.has_fault("platform-plain-sha256-hash"):  # PayGov's own construction
        fields = "|".join(str(body[name]) for name in _HASHED_FIELDS)
        body["secureHash"] = hashlib.sha256(f"{fields}|{secret}".encode()).hexdigest()
    return body


def confirm(
    connection: Connection, services: Services, transaction_id: str, outcome: dict[str, Any]
) -> dict[str, Any]:
    """Record the payer's outcome, sign the receipt, and send the notification.

    409 unless the transaction is pending.
    """
    row = load_transaction(connection, transaction_id, for_update=True)
    document = dict(row.doc)
    if document["status"] != "pending":
        raise conflict(
            f"Transaction {transaction_id} is already {document['status']}; only a pending "
            "transaction takes the payer's outcome.",
            currentStatus=document["status"],
        )
    now = rfc3339(services.clock.now())
    document.update(status=outcome["outcome"], paidAt=now)
    for name in ("payerName", "bankCode"):
        if outcome.get(name):
            document[name] = outcome[name]
    if document["status"] == "succeeded":
        # The fault signs with a key the platform's JWKS does not publish.
        wrong_key = services.settings.has_fault("platform-receipt-wrong-key")
        purpose = "agency" if wrong_key else SIGNING_PURPOSE
        document["receipt"] = sign_json(
            services.keys, purpose, receipt_claims(document), typ=RECEIPT_TYPE
        )
    _store(connection, document)
    notification = notification_of(services, document)
    enqueue_push(
        connection, NOTIFY_TARGET, _notify_key(transaction_id), row.notify_url, "POST", notification
    )
    if _is_this_server(services, row.notify_url) and not variants.on("async-delivery"):
        document["notification"] = _deliver_in_process(connection, services, notification, now)
        _store(connection, document)
    return document


def _notify_key(transaction_id: str) -> str:
    return f"notify:{transaction_id}"


def _is_this_server(services: Services, url: str) -> bool:
    return url.startswith(services.settings.public_url.rstrip("/") + "/")


def _deliver_in_process(
    connection: Connection, services: Services, notification: dict[str, Any], at: str
) -> dict[str, Any]:
    """Apply the notification to this server's portal now; report it as the first attempt.

    A savepoint keeps a refusal (a 4xx) from undoing the platform's own changes. Calling the
    endpoint over HTTP instead would wait on this very request: handlers run on the loop.
    """
    from .fees import receive_notification  # the portal's side of this same server

    try:
        with connection.begin_nested():
            receive_notification(connection, services, notification)
    except Problem as refused:
        return {"attempts": 1, "lastStatus": refused.status}
    return {"attempts": 1, "lastStatus": 200, "deliveredAt": at}


# ---- the portal's client of its platform ---------------------------------------------------


def platform_is_local(services: Services) -> bool:
    """True when the portal's payment platform is this server's sandbox."""
    url = services.settings.platform_url
    return url is None or url.rstrip("/") == services.settings.public_url.rstrip("/")


def platform_client(services: Services) -> httpx.Client:
    """An HTTP client of the remote payment platform (tests replace this seam)."""
    base = (services.settings.platform_url or "").rstrip("/")
    return httpx.Client(base_url=base, timeout=_HTTP_TIMEOUT_SECONDS)


def _call_platform(services: Services, method: str, path: str, **kwargs: Any) -> httpx.Response:
    # The target is another process, so a blocking call cannot wait on this server.
    token, _ = access_token(services, system_claims(PORTAL_CLIENT_ID))
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    with platform_client(services) as client:
        return client.request(method, path, headers=headers, **kwargs)


def create_for_portal(
    connection: Connection, services: Services, request: dict[str, Any]
) -> dict[str, Any]:
    """Create the platform transaction of a portal payment request; 502 if the platform fails."""
    if platform_is_local(services):
        return create_transaction(connection, services, request, None)
    try:
        response = _call_platform(
            services,
            "POST",
            "/platform/payment-requests",
            json=request,
            # The reference is new per payment, so a retried call replays, never duplicates.
            headers={"Idempotency-Key": f"portal-{request['reference']}"},
        )
    except httpx.HTTPError as exc:
        raise Problem(502, f"The payment platform could not be reached: {exc}.") from None
    if response.status_code not in (200, 201):
        raise Problem(
            502,
            f"The payment platform refused the transaction (HTTP {response.status_code}): "
            f"{response.text[:300]}",
        )
    return dict(response.json())


def receipt_for_portal(
    connection: Connection, services: Services, transaction_id: str
) -> str | None:
    """The platform's signed receipt of a transaction, verified, or ``None`` if not held."""
    if platform_is_local(services):
        found = connection.execute(
            select(platform_transactions.c.doc).where(platform_transactions.c.id == transaction_id)
        ).scalar()
        return found.get("receipt") if found else None
    try:
        transaction = _call_platform(
            services, "GET", f"/platform/payment-requests/{transaction_id}"
        )
        key_set = _call_platform(services, "GET", "/platform/jwks")
        receipt = transaction.json().get("receipt") if transaction.status_code == 200 else None
        if receipt is None or key_set.status_code != 200:
            return None
        jws.deserialize_compact(receipt, KeySet.import_key_set(key_set.json()))
    except (httpx.HTTPError, ValueError, JoseError):
        return None
    return str(receipt)
