"""The embedded SQLite write-locked by another process: reads go on, webhooks answer 503
with Retry-After well inside Twilio's deadline instead of hanging, and all is well after."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.app import create_app
from callcenter.settings import Settings
from core.db import make_engine
from orders.enums import Role
from orders.schemas import SYSTEM, UserCreate
from orders.services import users
from tests.conftest import OPEN_HOURS, PASSWORD, SECRET, TWILIO_ACCOUNT_SID, TestClock, bearer
from tests.migrated import SqliteTemplate
from tests.twilio_sim import TwilioSimulator

LOCK_SECONDS = 20
BUSY_TIMEOUT_SECONDS = 5.0
"""The service's SQLite busy timeout (core.db), as an operator sees it."""
NEW_CALL = {
    "CallSid": "CA" + "1" * 32,
    "AccountSid": TWILIO_ACCOUNT_SID,
    "From": "+8613900139000",
    "To": "+864008001234",
    "Direction": "inbound",
    "CallStatus": "ringing",
}
HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@contextmanager
def _write_locked(database: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the database's write lock meanwhile; it goes at the end."""
    locker = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(database), str(LOCK_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        yield locker
    finally:
        locker.kill()
        locker.wait()


@pytest.fixture
def file_engine(sqlite_template: SqliteTemplate, tmp_path: Path) -> Iterator[Engine]:
    url = sqlite_template.copy(tmp_path / "cc.sqlite3")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_a_write_locked_database_fails_fast_and_recovers(
    tmp_path: Path,
    settings: Settings,
    file_engine: Engine,
    bus: redis.Redis,
    redis_url: str,
) -> None:
    clock = TestClock(OPEN_HOURS)  # its own: nothing here depends on the date
    app = create_app(settings=settings, engine=file_engine, bus=bus, secret_key=SECRET, clock=clock)
    with Session(file_engine, expire_on_commit=False) as session:
        supervisor = users.create_user(
            session,
            data=UserCreate(username="sup", role=Role.SUPERVISOR, password=PASSWORD),
            actor=SYSTEM,
            clock=clock,
        )
    auth = bearer(supervisor, clock=clock)
    with TestClient(app) as client:
        sim = TwilioSimulator(client)
        before = sim.call("+8613800138000")
        assert before.twiml.gather() is not None
        with _write_locked(tmp_path / "cc.sqlite3") as locker:
            started = time.monotonic()
            refused = sim.post("/twilio/voice", NEW_CALL)
            waited = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "2"
            assert refused.json()["error_id"] == "database_busy"
            assert waited < 15  # answered inside Twilio's deadline, not after it gave up
            assert waited >= BUSY_TIMEOUT_SECONDS * 0.9
            # Reads do not wait for the writer at all.
            started = time.monotonic()
            assert client.get("/api/customers", headers=auth).status_code == 200
            assert time.monotonic() - started < BUSY_TIMEOUT_SECONDS
            assert locker.poll() is None, "the lock must still be held"
        retried = sim.post("/twilio/voice", NEW_CALL)
        assert retried.status_code == 200
        assert before.press("0").verbs()[-1] == "Enqueue"  # the earlier call carried on
