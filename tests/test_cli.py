"""The command line as an operator uses it: fresh data directory, real processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli_harness import CALLCENTER, add_user, cli_env, until
from tests.slots import free_port


@pytest.mark.slow
def test_serve_on_embedded_defaults_then_log_in(tmp_path: Path) -> None:
    """Zero configuration: SQLite and Redis under the data dir, user added from stdin."""
    data_dir = tmp_path / "data"
    env = cli_env(data_dir)
    added = add_user(env, "alice", role="supervisor")
    assert added.returncode == 0, added.stderr
    assert "alice" in added.stdout
    port = free_port()
    server = subprocess.Popen(
        [CALLCENTER, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        until(lambda: httpx.get(f"{base}/healthz").status_code == 200)
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["checks"]["database"] == "ok" and ready["checks"]["redis"] == "ok"
        until(lambda: httpx.get(f"{base}/readyz").json()["checks"]["worker_heartbeat"])
        token = httpx.post(
            f"{base}/api/auth/token", data={"username": "alice", "password": "a-long-password"}
        )
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = httpx.post(
            f"{base}/api/customers",
            headers=auth,
            json={"name": "孙丽", "phones": [{"number": "13800138000"}]},
        )
        assert created.status_code == 201
        assert "callcenter_http_requests_total" in httpx.get(f"{base}/metrics").text
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text())
        # Password hashes, customers and the Redis password are for the service's user only.
        assert data_dir.stat().st_mode & 0o777 == 0o700
        written = [p for p in data_dir.rglob("*")]
        assert {p.name for p in written} >= {"callcenter.sqlite3", "callcenter.sqlite3-wal"}
        assert [p for p in written if p.stat().st_mode & 0o077] == []
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0 or server.returncode == 128 + 15, output
    assert str(data_dir.resolve()) in output
    assert f"http://127.0.0.1:{port}" in output
    assert (data_dir / "callcenter.sqlite3").exists()
    assert (data_dir / "redis" / "appendonly.aof").exists()
    # The private Redis stops with the service.
    until(lambda: not Path(f"/proc/{redis_pid}").exists(), timeout=10)


def test_user_add_refuses_a_bad_role_and_short_password(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    bad_role = add_user(env, "bob", role="janitor")
    assert bad_role.returncode == 1
    assert "role" in bad_role.stderr
    short = add_user(env, "bob", password="short")
    assert short.returncode == 1
    assert "password" in short.stderr


def test_worker_without_redis_url_explains(tmp_path: Path) -> None:
    result = subprocess.run(
        [CALLCENTER, "worker"],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path / "data"),
        timeout=60,
    )
    assert result.returncode == 2
    assert "CALLCENTER_REDIS_URL" in result.stderr


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["sip"]])
def test_a_configured_flow_that_does_not_exist_fails_at_start(
    tmp_path: Path, command: list[str]
) -> None:
    """Every channel checks the configured flow once, at start: a typo in the flow's name
    is a clear error, never a failed first call."""
    env = {
        **cli_env(tmp_path / "data"),
        "CALLCENTER_IVR_FLOW": "hotlnie",
        "CALLCENTER_REDIS_URL": "redis://127.0.0.1:1",
        "CALLCENTER_SIP_SERVER": "127.0.0.1",
        "CALLCENTER_SIP_USERNAME": "hotline",
    }
    result = subprocess.run(
        [CALLCENTER, *command], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no IVR flow named hotlnie" in result.stderr
    assert "flows: ['hotline'" in result.stderr  # the flows there are
    assert "Traceback" not in result.stderr


def test_a_worker_with_a_speech_model_that_is_not_there_says_so_at_start(
    tmp_path: Path,
) -> None:
    env = {
        **cli_env(tmp_path / "data"),
        "CALLCENTER_REDIS_URL": "redis://127.0.0.1:1",
        "CALLCENTER_VOSK_MODEL": str(tmp_path / "no-such-model"),
    }
    result = subprocess.run(
        [CALLCENTER, "worker"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"no Vosk model at {tmp_path / 'no-such-model'}" in result.stderr
    assert "Traceback" not in result.stderr
