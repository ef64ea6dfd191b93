"""Reading YAML and JSON contract files with errors that name the file and place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ._errors import ContractError


def load_document(path: Path) -> Any:
    """Parse a ``.json``, ``.yaml`` or ``.yml`` file; raise `ContractError` on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(path, "/", "file-exists", "the file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(path, "/", "readable", f"cannot read the file: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise ContractError(path, "/", "json-syntax", f"{exc.msg} ({where})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1} column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractError(path, "/", "yaml-syntax", f"{problem}{where}") from None


def pointer_of(parts: Any) -> str:
    """Turn a path of keys and indices (e.g. ``error.absolute_path``) into a JSON Pointer."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped) if parts else ""
