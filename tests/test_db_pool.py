"""Pooled PostgreSQL connections are pinged before reuse only after sitting idle.

The server really ends the pooled connection's backend (``pg_terminate_backend``), as a
restart or an idle timeout would, and the next checkout is watched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy
from sqlalchemy.engine import Engine

from core.db import make_engine
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
