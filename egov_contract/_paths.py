"""Where the contract's data lives: a source checkout or an installed wheel."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_FOLDERS = ("specs", "schemas", "requirements", "fixtures")


@cache
def contract_root() -> Path:
    """Return the folder that holds ``specs/``, ``schemas/``, ``requirements/`` and ``fixtures/``.

    ``EGOV_CONTRACT_DIR`` wins; then the source checkout this package sits in; then the copy
    that the wheel carries inside the package.
    """
    override = os.environ.get("EGOV_CONTRACT_DIR")
    candidates = [Path(override)] if override else []
    here = Path(__file__).resolve().parent
    candidates += [here.parent, here / "_data"]
    for candidate in candidates:
        if all((candidate / name).is_dir() for name in _FOLDERS):
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"the contract folders {', '.join(_FOLDERS)} were not found in any of: {tried}; "
        "set EGOV_CONTRACT_DIR to the folder that holds them"
    )


def specs_dir() -> Path:
    """The folder of OpenAPI documents."""
    return contract_root() / "specs"


def schemas_dir() -> Path:
    """The folder of JSON Schemas."""
    return contract_root() / "schemas"


def requirements_dir() -> Path:
    """The folder of the requirement catalogue."""
    return contract_root() / "requirements"


def fixtures_dir() -> Path:
    """The folder of shared test data."""
    return contract_root() / "fixtures"
