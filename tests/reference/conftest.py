"""A reference server per test: temporary SQLite, a fixed clock, response validation on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reference_impl import FixedClock, Settings, create_app
from reference_impl.clock import VN_TZ
from reference_impl.services import Services
from reference_impl.tokens import access_token, subject_claims, system_claims

MONDAY_MORNING = datetime(2025, 3, 17, 9, 0, tzinfo=VN_TZ)


@dataclass
class Server:
    """A running reference app with helpers to act as fixture subjects."""

    client: TestClient
    services: Services
    clock: FixedClock

    def token(self, login_hint: str) -> str:
        claims = subject_claims(self.services, login_hint)
        assert claims is not None, f"no fixture subject {login_hint!r}"
        return access_token(self.services, claims)[0]

    def system_token(self, client_id: str) -> str:
        return access_token(self.services, system_claims(client_id))[0]

    def as_(self, login_hint: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(login_hint)}"}

    def call(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers.update(self.as_(who))
        return self.client.request(method, path, headers=headers, **kwargs)


def make_server(tmp_path: Path, **settings: Any) -> Iterator[Server]:
    clock = FixedClock(MONDAY_MORNING)
    options = {
        "db_url": f"sqlite:///{tmp_path / 'reference.sqlite3'}",
        "public_url": "http://testserver",
        "validate_responses": True,
        # Deliveries are driven by the tests that check them (Deliverer.run_once), not by a
        # timer that would race the assertions.
        "outbox_interval_seconds": 0,
        **settings,
    }
    app = create_app(Settings(**options), clock=clock)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Server(client=client, services=app.state.services, clock=clock)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path)
