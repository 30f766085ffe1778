"""Settings from the environment, readiness, and the standalone worker."""

from __future__ import annotations

import gc
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from callcenter.app import create_app
from callcenter.migrate import upgrade
from callcenter.settings import Settings
from core.db import make_engine
from core.keys import WORKER_HEARTBEAT
from orders.enums import Role
from orders.models import User
from tests.cli_harness import CALLCENTER, cli_env
from tests.conftest import OPEN_HOURS, SECRET, TestClock, bearer


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", "postgresql://u@db.example/cc")
    monkeypatch.setenv("CALLCENTER_REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("CALLCENTER_TWILIO_AUTH_TOKEN", "tok")
    monkeypatch.setenv("CALLCENTER_AUTH_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("CALLCENTER_PHONE_DEFAULT_REGION", "US")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql://u@db.example/cc"
    assert not settings.embedded_database and not settings.embedded_redis
    assert settings.twilio.auth_token is not None
    assert settings.twilio.auth_token.get_secret_value() == "tok"
    assert settings.auth.login_max_failures == 3
    assert settings.phone.default_region == "US"


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CALLCENTER_DATABASE_URL", "CALLCENTER_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'callcenter.sqlite3'}"
    assert settings.embedded_redis


def test_readyz_reports_an_unreachable_database(settings: Settings, bus: redis.Redis) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    engine = make_engine("postgresql://postgres@127.0.0.1:9/none?connect_timeout=2")
    app = create_app(
        settings=settings, engine=engine, bus=bus, secret_key=SECRET, clock=TestClock(OPEN_HOURS)
    )
    with TestClient(app) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")
    assert response.json()["checks"]["redis"] == "ok"


def test_a_running_app_keeps_its_startup_heap_from_the_collector(
    settings: Settings, engine: Any, bus: redis.Redis
) -> None:
    """A full collection over a served worker's whole heap stalls every call in flight
    (170 ms for 360,000 objects); what the app built before serving is frozen, and given
    back to the collector when it stops."""
    app = create_app(
        settings=settings, engine=engine, bus=bus, secret_key=SECRET, clock=TestClock(OPEN_HOURS)
    )
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        frozen = gc.get_freeze_count()
    assert frozen > 10_000
    assert gc.get_freeze_count() == 0


def test_standalone_worker_beats(tmp_path: Path, redis_url: str, bus: redis.Redis) -> None:
    env = {**cli_env(tmp_path / "data"), "CALLCENTER_REDIS_URL": redis_url}
    worker = subprocess.Popen(
        [CALLCENTER, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while bus.get(WORKER_HEARTBEAT) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert bus.get(WORKER_HEARTBEAT) is not None
    finally:
        worker.terminate()
        output: Any = worker.communicate(timeout=30)[0]
    assert "heartbeat" in output


def test_concurrent_writers_on_the_embedded_sqlite_all_succeed(
    tmp_path: Path, bus: redis.Redis
) -> None:
    """Several requests that read, then write, at once: none may fail with "database is
    locked" (SQLite cannot upgrade a read transaction once another has committed)."""
    url = f"sqlite:///{tmp_path / 'cc.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        admin = User(
            username="admin",
            full_name="Admin",
            role=Role.ADMIN,
            password_hash="x",
            created_at=OPEN_HOURS,
            updated_at=OPEN_HOURS,
        )
        session.add(admin)
        session.commit()
        session.refresh(admin)
        headers = bearer(admin)
    app = create_app(
        settings=Settings(data_dir=tmp_path / "data", auth={"secret_key": SECRET}),
        engine=engine,
        bus=bus,
        secret_key=SECRET,
        clock=TestClock(OPEN_HOURS),
    )

    def create(index: int) -> int:
        body = {
            "name": f"并发客户{index}",
            "phones": [{"number": f"1380013{index:04d}"}],
            "addresses": [],
        }
        return client.post("/api/customers", json=body, headers=headers).status_code

    with TestClient(app) as client, ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(40)))
    engine.dispose()
    assert statuses == [201] * 40


def test_metrics_are_for_loopback_or_the_token_holder(
    settings: Settings, client: TestClient
) -> None:
    """Found: /metrics was open to anyone who could reach the service."""
    remote = client.get("/metrics")  # the test client's address is not loopback
    assert remote.status_code == 403
    assert remote.json()["error_id"] == "permission_denied"
    settings.metrics.token = SecretStr("scrape-token-0123456789")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert scraped.status_code == 200
    assert "callcenter_http_requests_total" in scraped.text


def test_metrics_are_scraped_while_redis_is_away_without_the_repairs(
    settings: Settings, engine: Any
) -> None:
    """The worker's repairs are read from Redis as /metrics is scraped: with Redis away the
    scrape still answers, with every other figure, and leaves the repairs out (unknown,
    not zero)."""
    away = redis.Redis.from_url("redis://127.0.0.1:9", socket_connect_timeout=0.5)
    app = create_app(
        settings=settings, engine=engine, bus=away, secret_key=SECRET, clock=TestClock(OPEN_HOURS)
    )
    settings.metrics.token = SecretStr("scrape-token-0123456789")
    with TestClient(app) as client:
        scraped = client.get(
            "/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"}
        )
    assert scraped.status_code == 200
    assert "callcenter_event_loop_lag_seconds" in scraped.text
    assert "callcenter_call_repairs_total" not in scraped.text
    assert "callcenter_twilio_calls_untold" not in scraped.text
