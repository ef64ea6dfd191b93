"""ETag and If-Match for objects that two parties edit (RFC 9110 §13.1.1)."""

from __future__ import annotations

from typing import Any

from .dispatch import Context
from .problems import precondition_failed


def etag_of(document: dict[str, Any]) -> str:
    """The strong ETag of a versioned document."""
    return f'"{document["version"]}"'


def check_if_match(ctx: Context, document: dict[str, Any]) -> None:
    """Raise 412 when the request's ``If-Match`` names another version."""
    wanted = ctx.headers.get("If-Match")
    if not wanted or ctx.fault("ignore-if-match"):
        return
    current = etag_of(document)
    candidates = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    if "*" in candidates or current in candidates:
        return
    raise precondition_failed(current)
