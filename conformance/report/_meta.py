"""What a report says about the run itself: the kit, the contract, the environment, the clock."""

from __future__ import annotations

import hashlib
import platform
from datetime import datetime, timedelta, timezone, tzinfo
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from egov_contract import Catalogue, contract, specs_dir

KIT = "egov-conformance"
# The distributions a result depends on: the test engine and the HTTP and schema libraries.
DEPENDENCIES = ("schemathesis", "hypothesis", "httpx", "pytest", "jsonschema", "locust")


def _vietnam() -> tzinfo:
    try:
        return ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:
        # A machine without tzdata (Windows without the tzdata wheel): Vietnam has kept +07:00
        # without daylight saving since 1975, so the fixed offset gives the same times.
        return timezone(timedelta(hours=7), "ICT")


VIETNAM = _vietnam()


def in_vietnam(moment: datetime) -> datetime:
    """The same instant on Vietnam's clock; a naive datetime is taken as this machine's time."""
    return moment.astimezone(VIETNAM)


def timestamp(moment: datetime) -> str:
    """RFC 3339 with milliseconds and the +07:00 offset."""
    return in_vietnam(moment).isoformat(timespec="milliseconds")


def kit() -> dict[str, str]:
    """The report's ``kit`` object."""
    return {"name": KIT, "version": version(KIT)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def contract_section(catalogue: Catalogue) -> dict[str, Any]:
    """Every spec's ``info.version`` and digest, and the catalogue's version and digest."""
    documents = contract().specs
    specs = []
    for path in sorted(specs_dir().glob("*.yaml")):
        info = documents.get(path.stem, {}).get("info") or {}
        specs.append(
            {
                "name": path.stem,
                "version": str(info.get("version", "unknown")),
                "sha256": _sha256(path.read_bytes()),
            }
        )
    return {
        "specs": specs,
        "catalogueVersion": catalogue.version,
        "catalogueSha256": _sha256(catalogue.path.read_bytes()),
    }


def environment() -> dict[str, Any]:
    """Python, the platform and the installed versions of `DEPENDENCIES`."""
    found: dict[str, str] = {}
    for name in DEPENDENCIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue  # locust is only needed for load runs; absent means "not used"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": found,
    }
