"""One module per spec, each with a `Router` of that spec's handlers."""

from __future__ import annotations

from importlib import import_module

from ..dispatch import Handler

MODULES = (
    "catalogue",
    "dossiers",
    "ecopies",
    "events",
    "identity",
    "payment_platform",
    "payments",
    "repository",
    "requests",
    "results",
    "sync",
)


def all_handlers() -> dict[str, Handler]:
    """Every registered handler, by operationId."""
    found: dict[str, Handler] = {}
    for name in MODULES:
        router = import_module(f"{__name__}.{name}").router
        for operation_id, handler in router.handlers.items():
            if operation_id in found:
                raise ValueError(f"{operation_id} is handled in two modules")
            found[operation_id] = handler
    return found
