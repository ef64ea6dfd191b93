"""``Idempotency-Key``: a retried request gets the first answer instead of a second effect."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from .dispatch import Context, Reply
from .problems import FieldError, Problem, unprocessable
from .tables import idempotency_keys


def _request_hash(ctx: Context) -> str:
    material = {"path": ctx.path, "body": ctx.body}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def once(ctx: Context, connection: Connection, run: Callable[[], Reply]) -> Reply:
    """Run ``run`` once per ``Idempotency-Key``; replay its reply for the same key and body.

    The key is claimed inside the caller's transaction, so the effect and the stored reply
    commit together; a second worker racing on the same key waits, then replays.
    """
    key = ctx.headers.get("Idempotency-Key")
    if not key:
        return run()
    owner = ctx.principal.owner_key if ctx.principal else "public"
    scope = f"{ctx.operation.operation_id}|{owner}"
    fingerprint = _request_hash(ctx)
    where = (idempotency_keys.c.scope == scope) & (idempotency_keys.c.key == key)
    try:
        with connection.begin_nested():
            connection.execute(
                insert(idempotency_keys).values(
                    scope=scope, key=key, request_hash=fingerprint, status=0, headers={}, body=None
                )
            )
    except IntegrityError:
        row = connection.execute(select(idempotency_keys).where(where)).one()
        if row.request_hash != fingerprint:
            raise unprocessable(
                "This Idempotency-Key was used with a different request.",
                [
                    FieldError(
                        "#/header/Idempotency-Key",
                        "Use a new key for a new request.",
                        "idempotency",
                    )
                ],
            ) from None
        if row.status == 0:
            raise Problem(
                409, "A request with this Idempotency-Key is still being processed."
            ) from None
        return Reply(row.status, row.body, dict(row.headers))
    reply = run()
    connection.execute(
        update(idempotency_keys)
        .where(where)
        .values(status=reply.status, headers=reply.headers, body=reply.body)
    )
    return reply
