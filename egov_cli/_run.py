"""``egov-conformance run``: registered from the conformance package."""

from __future__ import annotations

from typing import Any


def add_run_command(commands: Any) -> None:
    """Register ``run`` (its options and handler live in `conformance.cli`)."""
    from conformance.cli import add_run_command as register

    register(commands)
