"""Pooled PostgreSQL connections are pinged before reuse only after sitting idle, and keep
the statements psycopg prepared on them.

The server really ends the pooled connection's backend (``pg_terminate_backend``), as a
restart or an idle timeout would, and the next checkout is watched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from sqlalchemy import Integer, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlmodel import Session

from core.db import ServiceSession, bulk_insert, make_engine
from tests.conftest import IN_CI, POSTGRES_URL


@pytest.fixture
def admin() -> Iterator[Engine]:
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.OperationalError as exc:
        engine.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    return pid


def _terminate(admin: Engine, pid: int) -> None:
    with admin.connect() as connection:
        # Waits (up to 5 s) until the backend has gone, not only until it was signalled.
        ended = connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 5000)")
        assert ended.scalar_one() is True


def test_connection_lost_while_idle_is_replaced_before_use(admin: Engine) -> None:
    engine = make_engine(POSTGRES_URL, ping_after_idle_s=0.0)
    try:
        pid = _backend_pid(engine)
        _terminate(admin, pid)
        assert _backend_pid(engine) != pid
    finally:
        engine.dispose()


def test_connection_in_steady_use_is_not_pinged_and_a_loss_costs_one_error(
    admin: Engine,
) -> None:
    engine = make_engine(POSTGRES_URL, ping_after_idle_s=3600.0)
    try:
        pid = _backend_pid(engine)
        _terminate(admin, pid)
        with pytest.raises(sqlalchemy.exc.OperationalError):
            _backend_pid(engine)
        # The error invalidated the pool: the next checkout connects afresh.
        assert _backend_pid(engine) != pid
    finally:
        engine.dispose()


def _prepared(session: Session, marker: str) -> int:
    """Statements the server holds prepared on this session's connection, of this test."""
    found = session.execute(
        text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :marker"),
        {"marker": f"%{marker}%"},
    )
    return int(found.scalar_one())


def _read_repeatedly(engine: Engine, session_class: type[Session], marker: str) -> set[int]:
    """The same read in ten sessions, one after the other (so on one pooled connection)."""
    backends = set()
    for n in range(10):
        with session_class(engine) as session:
            session.execute(text(f"SELECT :n AS {marker}"), {"n": n}).scalar_one()
            backends.add(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    return backends


def test_sessions_that_only_read_keep_the_statements_psycopg_prepared(admin: Engine) -> None:
    engine = make_engine(POSTGRES_URL)
    try:
        marker = f"read_{uuid.uuid4().hex[:8]}"
        assert len(_read_repeatedly(engine, ServiceSession, marker)) == 1
        with ServiceSession(engine) as session:
            assert _prepared(session, marker) == 1
        # The same reads in sessions that end with ROLLBACK: psycopg drops what it had
        # prepared at each one, and never prepares the statement again.
        plain = f"plain_{uuid.uuid4().hex[:8]}"
        _read_repeatedly(engine, Session, plain)
        with ServiceSession(engine) as session:
            assert _prepared(session, plain) == 0
    finally:
        engine.dispose()


def test_a_session_that_reads_first_through_a_server_cursor_keeps_them_too(
    admin: Engine,
) -> None:
    """A transaction's first statement may open a server-side cursor (SQLAlchemy's
    ``yield_per``): its reads count as reads, whatever the transaction before wrote."""
    engine = make_engine(POSTGRES_URL)
    try:
        marker = f"after_write_{uuid.uuid4().hex[:8]}"
        for n in range(10):
            with ServiceSession(engine) as session:
                session.execute(text("CREATE TEMP TABLE IF NOT EXISTS wrote_before (id int)"))
                session.commit()
            with ServiceSession(engine) as session:
                streamed = session.execute(text("SELECT 1").execution_options(yield_per=5))
                assert list(streamed.scalars()) == [1]
                session.execute(text(f"SELECT :n AS {marker}"), {"n": n}).scalar_one()
        with ServiceSession(engine) as session:
            assert _prepared(session, marker) == 1
    finally:
        engine.dispose()


class _Scratch(DeclarativeBase):
    """A registry of the test's own, apart from the service's tables."""


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch(
    request: pytest.FixtureRequest, admin: Engine, tmp_path: Path
) -> Iterator[tuple[Engine, str]]:
    """An engine and a table of this test's own."""
    table = f"scratch_{uuid.uuid4().hex[:8]}"
    url = f"sqlite:///{tmp_path / 'scratch.sqlite3'}" if request.param == "sqlite" else POSTGRES_URL
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    yield engine, table
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {table}")
    engine.dispose()


def test_a_session_left_with_writes_it_did_not_commit_still_rolls_back(
    scratch: tuple[Engine, str],
) -> None:
    engine, table = scratch
    row = type(
        f"Row_{table}",
        (_Scratch,),
        {"__tablename__": table, "id": mapped_column(Integer, primary_key=True)},
    )
    with ServiceSession(engine) as session:
        session.execute(text(f"SELECT count(*) FROM {table}"))
        session.execute(text(f"INSERT INTO {table} (id) VALUES (1)"))
    with pytest.raises(RuntimeError), ServiceSession(engine) as session:
        session.execute(text(f"SELECT count(*) FROM {table}"))
        raise RuntimeError("the request failed after reading")
    with ServiceSession(engine) as session:
        session.execute(text(f"INSERT INTO {table} (id) VALUES (4)"))
        session.execute(text(f"SELECT count(*) FROM {table}"))  # a read after the write
    with ServiceSession(engine) as session:
        session.execute(text(f"SELECT count(*) FROM {table}"))
        # A bulk insert: on PostgreSQL a COPY, through psycopg's own cursor.
        bulk_insert(session.connection(), row.__table__, [{"id": 3}])
    with ServiceSession(engine) as session:
        session.execute(text(f"INSERT INTO {table} (id) VALUES (2)"))
        session.commit()
        session.execute(text(f"SELECT count(*) FROM {table}"))
    # A flush that failed leaves the transaction waiting for its rollback: the session
    # closes as before, rolling back, and raises nothing more.
    with ServiceSession(engine) as session:
        session.add(row(id=2))
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            session.flush()
    with engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT id FROM {table}").scalars().all() == [2]


def test_a_result_is_described_as_psycopg_describes_it_when_read(admin: Engine) -> None:
    """The service's cursors describe a result only when its description is read (most
    are not: SQLAlchemy knows the statements it ran before): the same columns as psycopg's
    own, and an error, not another result's columns, once the cursor has moved on."""
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor, psycopg.Cursor(raw) as plain:
                query = "SELECT 1 AS one, 'x'::varchar(3) AS letter, now() AS at"
                expected = plain.execute(query).description
                described = cursor.execute(query).description
                assert expected is not None and described is not None
                assert len(described) == 3
                assert [tuple(c) for c in described] == [tuple(c) for c in expected]
                assert [c.name for c in described[1:]] == ["letter", "at"]
                unread = cursor.execute(query).description
                cursor.execute("SELECT 2 AS two")
                with pytest.raises(psycopg.InterfaceError):
                    unread[0]
                assert cursor.execute("DO $$ BEGIN END $$").description is None
    finally:
        engine.dispose()
