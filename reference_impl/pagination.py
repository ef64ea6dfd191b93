"""Cursor pagination: opaque cursors over an insertion-order sequence."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, Table, select
from sqlalchemy.sql import ColumnElement

from . import variants
from .problems import FieldError, Problem

T = TypeVar("T")
DEFAULT_LIMIT = 20


def encode_cursor(position: int) -> str:
    """An opaque cursor that resumes after ``position``."""
    if variants.on("opaque-cursors"):
        return variants.seal_cursor(position)
    raw = json.dumps({"after": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, parameter: str = "cursor") -> int:
    """The position a cursor resumes after; 0 for none; a 404 for a cursor not ours.

    A cursor is an opaque string, so one this server never issued breaks no rule of the
    contract: it names a page that does not exist (docs/contract-conventions.md, Pagination).
    ``parameter`` names the query parameter the cursor came in, for the problem's pointer.
    """
    if not cursor:
        return 0
    if variants.on("opaque-cursors"):
        sealed = variants.open_cursor(cursor)
        if sealed is not None:
            return sealed
    else:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            position = json.loads(raw)["after"]
            if isinstance(position, int) and position >= 0:
                return position
        except (ValueError, KeyError, TypeError):
            pass
    raise Problem(
        404,
        "No page starts at this cursor: it is not one this server issued.",
        "not-found",
        [FieldError(f"#/query/{parameter}", "Use the nextCursor of the previous page.", "cursor")],
    )


def page_of_list(items: Sequence[T], query: dict[str, Any]) -> dict[str, Any]:
    """One page of an in-memory list, in its order."""
    limit = int(query.get("limit", DEFAULT_LIMIT))
    start = decode_cursor(query.get("cursor"))
    chosen = list(items[start : start + limit])
    more = start + limit < len(items)
    return {"items": chosen, "nextCursor": encode_cursor(start + limit) if more else None}


def page_of_rows(
    connection: Connection,
    table: Table,
    conditions: Sequence[ColumnElement[bool]],
    query: dict[str, Any],
) -> tuple[list[Row[Any]], str | None]:
    """One page of rows in insertion order, and the cursor of the next page."""
    if variants.on("reverse-order"):  # the operations served from here fix no order
        return page_of_rows_newest_first(connection, table, conditions, query)
    limit = int(query.get("limit", DEFAULT_LIMIT))
    after = decode_cursor(query.get("cursor"))
    statement = (
        select(table).where(*conditions, table.c.seq > after).order_by(table.c.seq).limit(limit + 1)
    )
    rows = list(connection.execute(statement))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].seq)
    return rows, None


def page_of_rows_newest_first(
    connection: Connection,
    table: Table,
    conditions: Sequence[ColumnElement[bool]],
    query: dict[str, Any],
) -> tuple[list[Row[Any]], str | None]:
    """One page of rows, newest first, and the cursor of the next (older) page.

    The cursor holds the ``seq`` of the last row shown; the next page starts below it.
    """
    limit = int(query.get("limit", DEFAULT_LIMIT))
    before = decode_cursor(query.get("cursor"))
    statement = select(table).where(*conditions)
    if before:
        statement = statement.where(table.c.seq < before)
    rows = list(connection.execute(statement.order_by(table.c.seq.desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].seq)
    return rows, None
