"""Running the reference server under uvicorn, with one or many worker processes."""

from __future__ import annotations

import dataclasses
import json
import os

import uvicorn
from starlette.applications import Starlette

from .app import create_app
from .db import for_several_processes
from .settings import Settings

_SETTINGS_ENV = "EGOV_REFERENCE_SETTINGS"


def settings_to_env(settings: Settings) -> str:
    """Serialise settings for worker processes (they re-create the app from the environment)."""
    data = dataclasses.asdict(settings)
    data["faults"] = sorted(settings.faults)
    data["variants"] = sorted(settings.variants)
    return json.dumps(data)


def settings_from_env() -> Settings:
    """The settings a parent process put in the environment."""
    data = json.loads(os.environ[_SETTINGS_ENV])
    data["faults"] = frozenset(data["faults"])
    data["variants"] = frozenset(data.get("variants", ()))
    data["trusted_issuers"] = tuple(tuple(pair) for pair in data["trusted_issuers"])
    return Settings(**data)


def app_from_env() -> Starlette:
    """uvicorn factory used by every worker process."""
    return create_app(settings_from_env())


def run(
    settings: Settings, host: str, port: int, workers: int = 1, log_level: str = "info"
) -> None:
    """Serve until interrupted.

    With several workers, each process builds its own app from the same settings; they share
    only the database, which keeps every acknowledged change, the dossier counters and the
    outbox (see `db.for_several_processes` for SQLite).
    """
    if workers > 1:
        settings = dataclasses.replace(settings, db_url=for_several_processes(settings.db_url))
    os.environ[_SETTINGS_ENV] = settings_to_env(settings)
    uvicorn.run(
        "reference_impl.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        proxy_headers=False,
    )
