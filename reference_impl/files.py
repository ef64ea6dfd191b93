"""Uploaded files: decoded, checked against what they claim to be, stored by content hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .problems import FieldError
from .tables import blobs

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EXECUTABLE_SUFFIXES = (
    ".exe",
    ".bat",
    ".cmd",
    ".com",
    ".js",
    ".sh",
    ".ps1",
    ".msi",
    ".scr",
    ".dll",
)


def sniff(content: bytes) -> str | None:
    """The media type the bytes really are, from their magic numbers."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    stripped = content.lstrip()
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return "application/xml"
    if stripped[:1] in (b"{", b"["):
        try:
            json.loads(content)
            return "application/json"
        except ValueError:
            return None
    return None


def file_name_problem(name: str) -> str | None:
    """Why a file name is refused, or ``None`` when it is a plain, harmless name."""
    if name != name.strip() or not name:
        return "The file name has leading or trailing spaces, or is empty."
    if any(ch in name for ch in "/\\") or ".." in name:
        return "The file name contains a path; send the bare name."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "The file name contains control characters."
    if name.startswith("."):
        return "Hidden file names (starting with a dot) are refused."
    if name.endswith("."):
        return "The file name ends with a dot, which Windows silently strips."
    if any(ch in _BIDI_CONTROLS for ch in name):
        return "The file name contains bidirectional controls that disguise its extension."
    stem = name.split(".")[0].upper()
    if stem in _WINDOWS_RESERVED:
        return f"{stem} is a reserved device name."
    if name.lower().endswith(_EXECUTABLE_SUFFIXES):
        return "Executable files are refused."
    if len(name.encode("utf-8")) > 255:
        return "The file name is longer than 255 bytes."
    return None


def check_upload(
    upload: dict[str, Any],
    pointer: str,
    max_bytes: int,
    allowed: list[str] | None = None,
    *,
    trust_declared_type: bool = False,
) -> tuple[bytes | None, list[FieldError]]:
    """Decode and check an upload; return its bytes and every reason it is refused.

    ``trust_declared_type`` skips reading the bytes' real type; only a deliberate fault sets it.
    """
    errors: list[FieldError] = []
    name_problem = file_name_problem(upload["fileName"])
    if name_problem:
        errors.append(FieldError(f"{pointer}/fileName", name_problem, "file-name"))
    try:
        content = base64.b64decode(upload["contentBase64"], validate=True)
    except (binascii.Error, ValueError):
        errors.append(
            FieldError(f"{pointer}/contentBase64", "The content is not valid base64.", "base64")
        )
        return None, errors
    declared = upload["mediaType"]
    if not content:
        errors.append(FieldError(f"{pointer}/contentBase64", "The file is empty.", "file-size"))
    elif len(content) > max_bytes:
        errors.append(
            FieldError(
                f"{pointer}/contentBase64",
                f"The file is {len(content)} bytes; at most {max_bytes} are accepted.",
                "file-size",
            )
        )
    actual = sniff(content) if content else None
    if content and actual != declared and not trust_declared_type:
        errors.append(
            FieldError(
                f"{pointer}/mediaType",
                f"The file is declared {declared} but its content is "
                f"{actual or 'of an unknown type'}.",
                "media-type",
            )
        )
    if allowed is not None and declared not in allowed:
        errors.append(
            FieldError(
                f"{pointer}/mediaType",
                f"{declared} is not accepted here; send one of {', '.join(allowed)}.",
                "media-type",
            )
        )
    return content, errors


def store_blob(connection: Connection, content: bytes, media_type: str) -> str:
    """Keep ``content`` (once per hash) and return its SHA-256."""
    digest = hashlib.sha256(content).hexdigest()
    values = {"sha256": digest, "media_type": media_type, "content": content}
    dialect = connection.dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    connection.execute(builder(blobs).values(**values).on_conflict_do_nothing())
    return digest


def file_info(file_name: str, media_type: str, content: bytes) -> dict[str, Any]:
    """The contract's description of a stored file."""
    return {
        "fileName": file_name,
        "mediaType": media_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def load_blob(connection: Connection, digest: str) -> tuple[bytes, str] | None:
    """The bytes and media type stored under ``digest``."""
    row = connection.execute(
        select(blobs.c.content, blobs.c.media_type).where(blobs.c.sha256 == digest)
    ).first()
    return (bytes(row[0]), row[1]) if row else None
