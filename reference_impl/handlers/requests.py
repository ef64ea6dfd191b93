"""Online requests to agencies and their answers (Decree 137/2024/ND-CP Art. 7).

Agencies receive and resolve requests online; a refusal gives a clear reason (Art. 7(1)(a)) and
every answer is notified to the requester electronically (Art. 7(1)(c)), or by post alone when
the requester asked not to be notified electronically.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from .. import variants
from ..auth import Principal
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..events import emit, notify
from ..idempotency import once
from ..ids import new_id
from ..pagination import page_of_rows
from ..problems import FieldError, conflict, unprocessable
from ..tables import online_requests

router = Router()

_ANSWER_TITLES = {
    "resolved": "Đã có trả lời yêu cầu của ông/bà",
    "refused": "Yêu cầu của ông/bà không được tiếp nhận",
}


def _visible_to(principal: Principal) -> Any:
    """The requests a caller may see: those it sent, or those addressed to its agency."""
    if principal.role == "officer":
        return online_requests.c.agency_code == (principal.agency_code or "")
    return online_requests.c.owner_key == principal.owner_key


def _load(
    conn: Connection,
    principal: Principal,
    request_id: str,
    *,
    lock: bool = False,
    anyone: bool = False,
) -> dict[str, Any]:
    statement = select(online_requests.c.doc).where(online_requests.c.id == request_id)
    if not anyone:  # only the request-visible-to-others fault skips the check
        statement = statement.where(_visible_to(principal))
    if lock:  # two officers answering at once: the second sees the first answer (409)
        statement = statement.with_for_update()
    found = conn.execute(statement).scalar()
    if found is None:  # another owner's or agency's request is not revealed
        exists = select(online_requests.c.id).where(online_requests.c.id == request_id)
        raise variants.hidden(conn, exists, "request", request_id)
    return dict(found)


@router.operation("submitRequest")
def submit_request(ctx: Context) -> Reply:
    body = ctx.body
    if body["agencyCode"] not in ctx.services.fixtures.agencies:
        raise unprocessable(
            "The request is addressed to an agency that does not exist.",
            [FieldError("/agencyCode", f"No agency has code {body['agencyCode']}.", "agency")],
        )
    caller = ctx.caller

    def receive() -> Reply:
        document = {
            "id": new_id(),
            **body,
            "status": "received",
            "receivedAt": rfc3339(ctx.services.clock.now()),
            "requester": {
                "accountId": caller.subject,
                "type": caller.account_type,
                "name": caller.name or caller.subject,
            },
        }
        conn.execute(
            insert(online_requests).values(
                id=document["id"],
                owner_key=caller.owner_key,
                agency_code=document["agencyCode"],
                status="received",
                doc=document,
            )
        )
        location = f"{ctx.base_url}/requests/{document['id']}"
        return Reply(201, document, headers={"Location": location})

    with ctx.transaction() as conn:
        if ctx.fault("request-idempotency-ignored"):
            return receive()
        return once(ctx, conn, receive)


@router.operation("listRequests")
def list_requests(ctx: Context) -> Reply:
    conditions = [_visible_to(ctx.caller)]
    if status := ctx.query.get("status"):
        conditions.append(online_requests.c.status == status)
    with ctx.transaction() as conn:
        rows, cursor = page_of_rows(conn, online_requests, conditions, ctx.query)
    return Reply(body={"items": [row.doc for row in rows], "nextCursor": cursor})


@router.operation("getRequest")
def get_request(ctx: Context) -> Reply:
    anyone = ctx.caller.role == "applicant" and ctx.fault("request-visible-to-others")
    with ctx.transaction() as conn:
        document = _load(conn, ctx.caller, ctx.path["requestId"], anyone=anyone)
    return Reply(body=document)


@router.operation("resolveRequest")
def resolve_request(ctx: Context) -> Reply:
    return _answer(ctx, "resolved", {"response": ctx.body["response"]})


@router.operation("refuseRequest")
def refuse_request(ctx: Context) -> Reply:
    # An empty reason only under the request-refusal-without-reason fault.
    return _answer(ctx, "refused", {"refusalReason": ctx.body.get("reason", "")})


def _answer(ctx: Context, status: str, answer: dict[str, str]) -> Reply:
    """Move a received request to its final ``status``, notify the requester, emit the event."""
    services = ctx.services
    request_id = ctx.path["requestId"]
    with ctx.transaction() as conn:
        document = _load(conn, ctx.caller, request_id, lock=True)
        if document["status"] != "received":
            raise conflict(
                f"The request is already {document['status']}; only a received request can be "
                "resolved or refused.",
                currentStatus=document["status"],
            )
        now = rfc3339(services.clock.now())
        # The answer goes to the requester's portal inbox in this same transaction, so it is
        # notified electronically at the moment it is answered (Art. 7(1)(c)), unless the
        # requester asked for post: then it is handed to the post instead, and only that.
        by_post = document.get("notifyBy") == "post" and not ctx.fault(
            "request-notify-choice-ignored"
        )
        document.update(answer, status=status, answeredAt=now)
        document["postedAt" if by_post else "notifiedAt"] = now
        silent = by_post or (status == "resolved" and ctx.fault("request-answer-not-notified"))
        if silent:
            document.pop("notifiedAt", None)
        owner = conn.execute(
            select(online_requests.c.owner_key).where(online_requests.c.id == request_id)
        ).scalar_one()
        conn.execute(
            update(online_requests)
            .where(online_requests.c.id == request_id)
            .values(status=status, doc=document)
        )
        if not silent:
            notify(
                conn,
                services,
                owner,
                "request-answered",
                _ANSWER_TITLES[status],
                _message(document),
                {"requestId": request_id},
                reason=answer.get("refusalReason"),
            )
        emit(
            conn,
            services,
            "request.answered",
            request_id,
            {
                "requestId": request_id,
                "agencyCode": document["agencyCode"],
                "status": status,
                "answeredAt": now,
            },
        )
    return Reply(body=document)


def _message(document: dict[str, Any]) -> str:
    subject = document["subject"]
    if document["status"] == "resolved":
        text = f"Yêu cầu “{subject}” đã được trả lời: {document['response']}"
    else:
        text = f"Yêu cầu “{subject}” không được tiếp nhận. Lý do: {document['refusalReason']}"
    return text[:4000]  # the notification's message is at most 4000 characters
