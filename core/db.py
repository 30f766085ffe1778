"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import enum
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self, cast, overload

import psycopg
from psycopg import Column
from psycopg.abc import Params, Query
from psycopg.copy import Copy, Writer
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.pq.abc import PGresult
from sqlalchemy import Table, event, exc
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from core.errors import CallCenterError

SQLITE_BUSY_TIMEOUT_S = 5.0
"""How long a SQLite writer waits for another's lock before the request fails with 503:
well inside Twilio's 15 s webhook deadline, so a caller is answered, never left hanging."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class DatabaseBusy(CallCenterError):
    status_code = 503
    error_id = "database_busy"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "2"}


PING_AFTER_IDLE_S = 10.0
"""A pooled PostgreSQL connection is pinged before reuse once it has been idle this long."""


def make_engine(
    url: str, *, echo: bool = False, ping_after_idle_s: float = PING_AFTER_IDLE_S
) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _sqlite_busy)
        _note_writes(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
    event.listen(engine, "connect", _service_cursors)
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


def _service_cursors(dbapi_connection: psycopg.Connection[Any], _record: Any) -> None:
    # A pool event, run once a connection: the statements' own pay nothing for it.
    dbapi_connection.cursor_factory = ServiceCursor
    dbapi_connection.server_cursor_factory = ServiceServerCursor


WROTE = "callcenter_wrote"
"""Where a connection notes whether its transaction has run anything but reads: a key of
its ``info`` on SQLite, an attribute of psycopg's connection on PostgreSQL."""
_READS = frozenset({"SELECT", "BEGIN", "SAVEPOINT", "RELEASE"})
_TUPLES = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class ServiceCursor(psycopg.Cursor[Any]):
    """PostgreSQL's cursors describe a result when the description is read (see
    ``_Description``), and mark each transaction that runs anything but a SELECT (see
    ``ServiceSession``), as SQLite's connections do by SQLAlchemy's events.

    Not by those events here: with any listener of a connection's events, SQLAlchemy
    dispatches every statement through all of them, which cost about 0.02 ms of CPU a
    statement and a transaction, a twentieth of a call's path."""

    def execute(self, query: Query, params: Params | None = None, **options: Any) -> Self:
        _note(self.connection, query)
        # A template (psycopg's t-string) takes no params: psycopg checks that, not us.
        return super().execute(cast(Any, query), params, **options)

    @property
    def description(self) -> Sequence[Column] | None:  # type: ignore[override]
        result = self.pgresult
        if result is None or not (result.nfields or result.status in _TUPLES):
            return None
        return _Description(self, result)

    def executemany(
        self, query: Query, params_seq: Iterable[Params], *, returning: bool = False
    ) -> None:
        _note(self.connection, query)
        super().executemany(query, params_seq, returning=returning)

    @contextmanager
    def copy(
        self, statement: Query, params: Params | None = None, *, writer: Writer | None = None
    ) -> Iterator[Copy]:
        _note(self.connection, statement)
        with super().copy(statement, params, writer=writer) as copy:
            yield copy

    def stream(
        self,
        query: Query,
        params: Params | None = None,
        *,
        binary: bool | None = None,
        size: int = 1,
    ) -> Iterator[Any]:
        _note(self.connection, query)
        return super().stream(query, params, binary=binary, size=size)


class ServiceServerCursor(psycopg.ServerCursor[Any]):
    """PostgreSQL's server-side cursors (SQLAlchemy's ``yield_per``) mark transactions as
    ``ServiceCursor`` does: one may be a transaction's first statement."""

    def execute(self, query: Query, params: Params | None = None, **options: Any) -> Self:
        _note(self.connection, query)
        return super().execute(query, params, **options)


class _Description(Sequence[Column]):
    """A result's columns, described when first read: SQLAlchemy asks every statement's
    cursor for its description, and reads it only for a statement it has not run before
    (it keeps what it learnt with the compiled statement). psycopg's described every
    column of every result, a fortieth of a call's CPU."""

    def __init__(self, cursor: psycopg.Cursor[Any], result: PGresult) -> None:
        self._cursor = cursor
        self._result = result
        self._columns: list[Column] | None = None

    def _described(self) -> list[Column]:
        if self._columns is None:
            # psycopg describes the cursor's current result, which must be this one's.
            if self._cursor.pgresult is not self._result:
                raise psycopg.InterfaceError("the cursor has moved on to another result")
            self._columns = [Column(self._cursor, i) for i in range(self._result.nfields)]
        return self._columns

    def __len__(self) -> int:
        return self._result.nfields

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        return self._described()[index]


def _note(connection: psycopg.Connection[Any], query: Query) -> None:
    # The transaction's first statement (psycopg begins it with this one) clears the mark.
    if connection.info.transaction_status is TransactionStatus.IDLE:
        setattr(connection, WROTE, False)
    if not getattr(connection, WROTE, False) and _verb(query) not in _READS:
        setattr(connection, WROTE, True)


def _wrote(connection: Connection) -> bool:
    """Whether the connection's transaction has run anything but reads (True if unknown)."""
    if connection.dialect.name == "postgresql":
        return bool(getattr(connection.connection.dbapi_connection, WROTE, True))
    return bool(connection.info.get(WROTE, True))


def _note_writes(engine: Engine) -> None:
    """Mark each transaction that runs anything but a SELECT (see ``ServiceSession``); on
    SQLite, whose engine listens to its connections' events anyway.

    Listeners run in the order they were added: the ``BEGIN IMMEDIATE`` of
    ``_sqlite_begin`` has run by the time this one clears the mark.
    """

    @event.listens_for(engine, "begin")
    def _begun(connection: Connection) -> None:
        connection.info[WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _executing(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if not connection.info.get(WROTE) and _verb(statement) not in _READS:
            connection.info[WROTE] = True


def _verb(statement: Query) -> str:
    """The statement's first word; none for one composed with psycopg's helpers, counted
    as a write as any statement not known to read."""
    if not isinstance(statement, str):
        return ""
    words = statement.lstrip()[:10].split(None, 1)
    return words[0].upper() if words else ""


class ServiceSession(Session):
    """A session that ends a transaction which only read with COMMIT, not ROLLBACK.

    For the database the two are the same. For psycopg they are not: a ROLLBACK drops
    every statement it had prepared on the connection, and the counts that lead to
    preparing one, so on a pool shared by read-only requests (the console's pops and
    checks, gathers, the wall) no statement was ever prepared, and the caller lookup and
    every other statement were parsed and planned afresh on every call. A session left
    with changes it did not commit, or left by an exception, still rolls back.
    """

    def __exit__(
        self,
        type_: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if type_ is None:
            end_reads(self)
        super().__exit__(type_, value, traceback)


def end_reads(session: Session) -> None:
    """Commit the session's transaction if it only read; else leave it to roll back."""
    transaction = session.get_transaction()
    # Not active: a statement failed and the transaction awaits its rollback.
    if transaction is None or not transaction.is_active:
        return
    if session.new or session.dirty or session.deleted:
        return
    if _wrote(session.connection()):
        return
    session.commit()


def _ping_when_idle(engine: Engine, after_s: float) -> None:
    """Pre-ping, but only connections that sat in the pool for ``after_s`` or longer.

    SQLAlchemy's ``pool_pre_ping`` spends a round trip on every checkout: one of the four a
    caller lookup makes on PostgreSQL (benchmarks/lookup.py). A connection in steady use has
    just shown it works; the idle ones are those a firewall, a server timeout or a restart
    may have closed. Should a busy one still turn out dead, SQLAlchemy invalidates the whole
    pool at that first error, so that one request fails, not one per pooled connection.
    """

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < after_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # As pre-ping does: drop this and every older connection, then reconnect.
            raise exc.InvalidatePoolError(f"pooled connection lost while idle: {error}") from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so that
    # SAVEPOINTs and rollbacks behave as documented.
    dbapi_connection.isolation_level = None


WRITER = {"sqlite_begin": "IMMEDIATE"}
"""Execution options of sessions that mostly write from many threads (the SIP endpoint):
on SQLite they take the write lock when they begin. A plain (deferred) transaction that
read first cannot upgrade to a write once another connection has committed, and SQLite
then fails at once with "database is locked" instead of waiting its busy timeout."""


def writer(engine: Engine) -> Engine:
    """The same engine and pool, for sessions that write (see ``WRITER``)."""
    return engine.execution_options(**WRITER)


def _sqlite_busy(context: Any) -> Exception | None:
    """SQLite's "database is locked" (another writer held the lock past the busy timeout)
    is the service being busy, not a bug: 503 with Retry-After."""
    original = context.original_exception
    if isinstance(original, sqlite3.OperationalError) and "locked" in str(original):
        return DatabaseBusy(
            "the database is busy with other writes; try again shortly",
            details={"waited_seconds": SQLITE_BUSY_TIMEOUT_S},
        )
    return None


def reading(session: Session, method: str) -> Session:
    """Requests that only read (GET, HEAD) begin as SQLite readers, while every other
    request takes the write lock as it begins."""
    return as_reader(session) if method in SAFE_METHODS else session


def as_reader(session: Session) -> Session:
    """The session's next transaction, which must not have begun, begins as a SQLite
    reader: under WAL it never waits for a writer. Nothing changes on PostgreSQL."""
    bind = session.bind
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": ""})
    return session


def _sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    with ServiceSession(engine, expire_on_commit=False) as session:
        yield session


def core_connection(session: Session) -> Connection:
    """The session's connection, for a Core statement that must see what the session has
    pending: flushed first, as an ORM query's autoflush would (Core skips it)."""
    if session.autoflush:
        session.flush()
    return session.connection()


def table_of(model: Any) -> Table:
    """A table model's Core table, for statements that skip the ORM (bulk reads and
    writes of many rows): typed, where ``Model.__table__`` is not."""
    table: Table = model.__table__
    return table


def bulk_insert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows of the same keys at once: COPY on PostgreSQL, where a list handed
    to the driver runs one INSERT per row (150 s for a million-order campaign plan) and a
    multi-row VALUES costs more to compile than to run; SQLite's in-process executemany is
    fast as it is."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([_plain(row[name]) for name in columns])


def _plain(value: Any) -> Any:
    """COPY writes what the driver adapts: an enum goes as its stored value."""
    return value.value if isinstance(value, enum.Enum) else value
