"""Event subscriptions and the event feed (Decision 31/2021/QD-TTg Art. 30(3)).

Events are written to the outbox by the transactions that cause them (`events.emit`); the
background `events.Deliverer` POSTs them, signed, to each subscription's callback URL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .. import variants
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..ids import new_id
from ..pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from ..tables import deliveries, outbox, subscriptions

router = Router()


@router.operation("createSubscription")
def create_subscription(ctx: Context) -> Reply:
    body = ctx.body
    document = {
        "id": new_id(),
        "callbackUrl": body["callbackUrl"],
        "types": body["types"],
        "createdAt": rfc3339(ctx.services.clock.now()),
        "active": True,
    }
    with ctx.transaction() as conn:
        conn.execute(
            insert(subscriptions).values(
                id=document["id"],
                owner_key=ctx.caller.owner_key,
                secret=body["secret"],  # write-only: kept apart from the document shown
                active=1,
                doc=document,
            )
        )
    location = f"{ctx.base_url}/subscriptions/{document['id']}"
    return Reply(201, document, headers={"Location": location})


def _owned(conn: Connection, ctx: Context) -> Any:
    """The caller's subscription row; another system's is not revealed (404)."""
    subscription_id = ctx.path["subscriptionId"]
    row = conn.execute(
        select(subscriptions).where(
            subscriptions.c.id == subscription_id,
            subscriptions.c.owner_key == ctx.caller.owner_key,
        )
    ).first()
    if row is None:
        exists = select(subscriptions.c.id).where(subscriptions.c.id == subscription_id)
        raise variants.hidden(conn, exists, "subscription", subscription_id)
    return row


@router.operation("getSubscription")
def get_subscription(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        row = _owned(conn, ctx)
    return Reply(body={**row.doc, "active": bool(row.active)})


@router.operation("deleteSubscription")
def delete_subscription(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        row = _owned(conn, ctx)
        if ctx.fault("deleted-subscription-kept"):  # acknowledged, never carried out
            return Reply(204)
        # Waiting deliveries go with it; delivered and failed rows stay as the record.
        conn.execute(
            delete(deliveries).where(
                deliveries.c.target == row.id, deliveries.c.status == "pending"
            )
        )
        conn.execute(delete(subscriptions).where(subscriptions.c.seq == row.seq))
    return Reply(204)


@router.operation("listEvents")
def list_events(ctx: Context) -> Reply:
    limit = int(ctx.query.get("limit", DEFAULT_LIMIT))
    after = decode_cursor(ctx.query.get("after"), parameter="after")
    statement = select(outbox.c.seq, outbox.c.doc).where(outbox.c.seq > after)
    if event_type := ctx.query.get("type"):
        statement = statement.where(outbox.c.type == event_type)
    with ctx.transaction() as conn:
        rows = list(conn.execute(statement.order_by(outbox.c.seq).limit(limit)))
    # Never null: the position reached, to poll from again later.
    position = rows[-1].seq if rows else after
    return Reply(body={"items": [row.doc for row in rows], "nextCursor": encode_cursor(position)})
