"""The database: SQLite by default, PostgreSQL on request, through SQLAlchemy Core.

Domain objects are stored as their API representation (a JSON document) beside the few
columns that queries and constraints need, so no field list is written twice.
"""

from __future__ import annotations

import threading
import time
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
    text,
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


_HELD_IDLE_SECONDS = 5.0
"""A thread's kept connection goes back to the pool after this long unused (see `transaction`)."""
_SCHEMA_LOCK = 0x65676F76  # "egov": the advisory lock workers take to create the tables


class _Held(threading.local):
    """The connection a thread keeps between its transactions."""

    connection: Connection | None = None
    used_at: float = 0.0


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
        self._held = _Held()
        self._all_held: list[Connection] = []
        self._lock = threading.Lock()

    def create_tables(self) -> None:
        """Create every table that does not exist yet.

        Worker processes start together and each creates the tables: they take turns (an
        advisory lock on PostgreSQL, the write lock on SQLite), so none finds a table half made.
        """
        with self.engine.connect() as connection:
            connection = connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with connection.begin():
                if self.dialect == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK}
                    )
                metadata.create_all(connection)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction that commits (durably) on success and rolls back on error.

        Each thread keeps one connection between its transactions instead of checking one out
        of the pool every time (which costs more than the statement of a simple read). A
        transaction opened while the thread's own is still open gets a pooled connection of its
        own, as before; a connection unused for a few seconds goes back to the pool, so an idle
        server's next transaction is checked out (and pinged, on PostgreSQL) afresh.
        """
        held = self._held
        connection = held.connection
        if connection is not None and connection.in_transaction():
            with self.engine.begin() as own:  # nested: never share the open transaction
                yield own
            return
        if connection is not None and (
            connection.closed
            or connection.invalidated
            or time.monotonic() - held.used_at > _HELD_IDLE_SECONDS
        ):
            self._release(connection)
            connection = held.connection = None
        if connection is None:
            connection = self.engine.connect()
            held.connection = connection
            with self._lock:
                self._all_held.append(connection)
        try:
            with connection.begin():
                yield connection
        finally:
            held.used_at = time.monotonic()
            if connection.in_transaction():  # used after its block: never leave one open
                connection.rollback()

    def _release(self, connection: Connection) -> None:
        with self._lock:
            if connection in self._all_held:
                self._all_held.remove(connection)
        connection.close()

    def dispose(self) -> None:
        """Close every kept and pooled connection."""
        with self._lock:
            held, self._all_held = self._all_held, []
        for connection in held:
            connection.close()
        self._held.connection = None
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
    # Straight to the driver: exec_driver_sql would take a statement's whole way through the
    # engine for one word, on every transaction. ``sqlite_begin`` (an execution option) asks
    # for BEGIN IMMEDIATE, which takes the write lock at once.
    statement = connection.get_execution_options().get("sqlite_begin", "BEGIN")
    connection.connection.driver_connection.execute(statement)
