"""The database: SQLite by default, PostgreSQL on request, through SQLAlchemy Core.

Domain objects are stored as their API representation (a JSON document) beside the few
columns that queries and constraints need, so no field list is written twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

metadata = MetaData()

Document = JSON().with_variant(JSONB(), "postgresql")
"""Column type for a stored API representation."""


def seq_column() -> Column[int]:
    """An auto-incrementing sequence number: insertion order, and the cursor of lists."""
    return Column(
        "seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """An engine and its transactions."""

    def __init__(self, url: str) -> None:
        url = _normalise_url(url)
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)

    def create_tables(self) -> None:
        """Create every table that does not exist yet."""
        metadata.create_all(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction that commits (durably) on success and rolls back on error."""
        with self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling starts transactions lazily, so a SAVEPOINT can open
    # one and its RELEASE then commits it: work inside begin_nested() survived the rollback of
    # the enclosing transaction. Taking BEGIN over ourselves (see _sqlite_begin) is the remedy
    # SQLAlchemy documents for pysqlite ("Serializable isolation / Savepoints / Transactional
    # DDL"); tests/reference/test_db.py holds it.
    connection.isolation_level = None
    # WAL lets readers run beside a writer; synchronous=FULL makes every acknowledged commit
    # survive a crash of the process or of the machine.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")
