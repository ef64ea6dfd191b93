"""The database: SQLite by default, PostgreSQL on request, through SQLAlchemy Core.

Domain objects are stored as their API representation (a JSON document) beside the few
columns that queries and constraints need, so no field list is written twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Dialect,
    Engine,
    Integer,
    MetaData,
    Select,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
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


_BEGIN_OPTION = "egov_begin"
"""URL query option of a SQLite database: ``immediate`` makes every transaction BEGIN IMMEDIATE."""


def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def for_several_processes(url: str) -> str:
    """``url``, made safe for several server processes writing to it at once.

    PostgreSQL needs nothing. A SQLite transaction that reads, then writes, fails at once with
    "database is locked" when another process wrote in between; taking the write lock at the
    start of every transaction (BEGIN IMMEDIATE) makes the processes queue instead.
    """
    parsed = make_url(_normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    return parsed.update_query_dict({_BEGIN_OPTION: "immediate"}).render_as_string(
        hide_password=False
    )


class Database:
    """An engine and its transactions."""

    def __init__(self, url: str) -> None:
        parsed = make_url(_normalise_url(url))
        self.dialect = parsed.get_backend_name()
        begin = parsed.query.get(_BEGIN_OPTION)
        if begin not in (None, "immediate") or (begin and self.dialect != "sqlite"):
            raise ValueError(f"{_BEGIN_OPTION}={begin!r}: only SQLite takes it, as 'immediate'")
        parsed = parsed.difference_update_query([_BEGIN_OPTION])
        self.begin_immediate = begin == "immediate"
        """Every transaction takes SQLite's write lock first (several processes share it)."""
        kwargs: dict[str, Any] = {}
        if self.begin_immediate:
            kwargs["execution_options"] = {"sqlite_begin": "BEGIN IMMEDIATE"}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        # Documents are stored compact and in UTF-8, not \u-escaped: a third smaller, and read
        # back (json.loads on every request) markedly faster.
        kwargs["json_serializer"] = _compact_json
        self.engine: Engine = create_engine(parsed, **kwargs)
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


class Prepared:
    """A SELECT compiled once per dialect and run as driver SQL: for the hottest reads.

    A Core statement is compiled once and cached, but each execution still builds an execution
    context and result metadata, which cost several times the read itself. Here the compiled
    SQL runs as driver SQL, in the connection's transaction; columns whose type decodes
    values (JSON on SQLite) are decoded as a Core result decodes them. On SQLite it goes
    straight to the driver (errors wrapped as SQLAlchemy wraps them); elsewhere through
    ``exec_driver_sql``, which also notices a dead connection (a network round trip costs
    more than the engine there anyway).
    """

    def __init__(self, statement: Select[Any]) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}

    def first(
        self, connection: Connection, parameters: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """The first row for ``parameters`` (by bind name), or ``None``."""
        dialect = connection.dialect
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self._statement, dialect)
        if compiled.order is None:
            arguments: Any = {name: parameters[name] for name in parameters}
        else:
            arguments = tuple(parameters[name] for name in compiled.order)
        if dialect.name == "sqlite":
            row = _sqlite_first(connection, compiled.sql, arguments)
        else:
            row = connection.exec_driver_sql(compiled.sql, arguments).first()
        if row is None:
            return None
        return tuple(
            value if process is None or value is None else process(value)
            for value, process in zip(row, compiled.processors, strict=True)
        )


class _Compiled:
    """A statement's SQL for one dialect, its positional bind order and column decoders."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if dialect.positional else None
        )
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]


def _sqlite_first(connection: Connection, sql: str, arguments: Any) -> Any:
    driver: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]
    try:
        return driver.execute(sql, arguments).fetchone()
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, arguments, error, sqlite3.Error) from error


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _compact_json(value: Any) -> str:
    return _COMPACT.encode(value)


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
