"""A private PostgreSQL schema per test, on the server at 127.0.0.1:5432 (database ``test``)."""

from __future__ import annotations

import os
import secrets

import pytest

ADMIN_URL = os.environ.get("EGOV_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_url(request: pytest.FixtureRequest) -> str:
    """A database URL whose tables land in a fresh schema, dropped when the test ends."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"t_{secrets.token_hex(6)}"
    conninfo = ADMIN_URL.replace("postgresql://", "postgres://", 1)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {ADMIN_URL} is needed by this test and is not reachable: {exc}")

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    request.addfinalizer(drop)
    return f"{ADMIN_URL}?options=-csearch_path%3D{schema}"
