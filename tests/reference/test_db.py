"""The database layer keeps transactions atomic on both engines, savepoints included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from reference_impl.db import Database

from .pg import postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        opened = Database(f"sqlite:///{tmp_path / 'atomic.sqlite3'}")
    else:
        opened = Database(postgres_url(request))
    yield opened
    opened.dispose()


def test_work_inside_a_savepoint_rolls_back_with_its_transaction(database: Database) -> None:
    with database.transaction() as connection:
        connection.execute(text("CREATE TABLE probe (x INTEGER)"))

    def failing_request() -> None:
        with database.transaction() as connection:
            with connection.begin_nested():
                connection.execute(text("INSERT INTO probe VALUES (1)"))
            raise RuntimeError("the request failed after its savepoint")

    with pytest.raises(RuntimeError):
        failing_request()
    with database.transaction() as connection:
        assert connection.execute(text("SELECT count(*) FROM probe")).scalar() == 0


def test_a_failed_savepoint_leaves_the_rest_of_the_transaction(database: Database) -> None:
    with database.transaction() as connection:
        connection.execute(text("CREATE TABLE probe (x INTEGER PRIMARY KEY)"))
    with database.transaction() as connection:
        connection.execute(text("INSERT INTO probe VALUES (1)"))
        with pytest.raises(Exception), connection.begin_nested():  # noqa: B017, PT011
            connection.execute(text("INSERT INTO probe VALUES (1)"))
        connection.execute(text("INSERT INTO probe VALUES (2)"))
    with database.transaction() as connection:
        assert connection.execute(text("SELECT count(*) FROM probe")).scalar() == 2
