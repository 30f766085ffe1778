"""The running pieces of one process: engine, Redis, and the embedded servers behind them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import redis
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.embedded_redis import EmbeddedRedis
from callcenter.migrate import upgrade
from callcenter.settings import Settings
from core.clock import system_clock
from core.db import ServiceSession, make_engine, writer
from core.types import Clock

log = structlog.get_logger(__name__)
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_TIMEOUT_S = 5.0
SWITCH_INTERVAL_S = 0.001
"""How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).

A new call's webhook makes dozens of round trips to PostgreSQL and Redis, and after each
its thread waits for the GIL, which a thread busy in Python gives up only at this interval.
Quiet-machine runs of this change with 1 ms against 5 ms: benchmarks/twilio_webhooks.py
voice at 8 connections 162 req/s and no errors against 117 with 55 failed, gather 419
against 156 req/s; benchmarks/screen_pop.py at 30 calls/s pops at p50 19-30 ms against
108-129 ms (benchmarks/results/screen_pop.json lists every run)."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    redis_url: str
    bus: redis.Redis
    embedded: EmbeddedRedis | None = field(default=None)
    clock: Clock = field(default=system_clock)
    """The process's one clock: every piece built over this runtime reads time from it."""

    @classmethod
    def start(cls, settings: Settings, *, web: bool = False) -> Runtime:
        """``web``: a process that serves HTTP; only it gets the short GIL switch interval,
        which measured worse for the SIP endpoint's media timing."""
        if web:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        engine = open_database(settings)
        embedded: EmbeddedRedis | None = None
        if settings.redis.url is None:
            embedded = EmbeddedRedis(settings.data_dir)
            redis_url = embedded.start()
            if embedded.owner:
                log.info("embedded redis started", directory=str(embedded.directory))
        else:
            redis_url = settings.redis.url
        # Bounded waits: a Redis that hangs fails a webhook in seconds (503), well inside
        # Twilio's 15 s, instead of holding it; blocking reads ask for at most 0.5 s.
        bus = redis.Redis.from_url(
            redis_url,
            decode_responses=True,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
        )
        return cls(
            settings=settings, engine=engine, redis_url=redis_url, bus=bus, embedded=embedded
        )

    def sessions(self) -> Session:
        # The worker writes alongside the app and the SIP endpoint (see core.db.WRITER).
        return ServiceSession(writer(self.engine), expire_on_commit=False)

    def close(self) -> None:
        self.bus.close()
        self.engine.dispose()
        if self.embedded is not None:
            self.embedded.stop()


def keep_files_private(settings: Settings) -> None:
    """Everything the service writes (the SQLite file with password hashes and customers,
    recordings, the embedded Redis, prompts) is readable by its own user only."""
    os.umask(0o077)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for directory in (settings.data_dir, settings.recordings_path):
        if directory.exists():
            directory.chmod(0o700)
    if settings.embedded_database:
        database = settings.data_dir / "callcenter.sqlite3"
        # SQLite gives its -wal and -shm files the mode of the database file.
        for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
            if path.exists():
                path.chmod(0o600)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))


def open_database(settings: Settings) -> Engine:
    """The database alone, for commands that need no Redis (``user add``)."""
    keep_files_private(settings)
    if settings.embedded_database:
        # The zero-configuration path: the SQLite file is brought to the newest schema
        # on every start; an external database is migrated by `callcenter db upgrade`.
        upgrade(settings.database_url)
    return make_engine(settings.database_url, echo=settings.database.echo)
