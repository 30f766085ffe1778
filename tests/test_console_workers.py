"""Two uvicorn worker processes over one database and one Redis, as deployed at scale.

A call handled by one process pops on a console connected to the other; a console that
drops and comes back (to either process) first receives the pop it missed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from callcenter.demo.calls import open_around_the_clock
from core.clock import system_clock
from core.db import make_engine, session_scope
from orders.enums import Role
from orders.schemas import SYSTEM, CustomerCreate, PhoneIn, UserCreate
from orders.services import customers, users
from tests.cli_harness import cli_env
from tests.conftest import (
    LOADED_MACHINE_HTTP,
    NO_TWILIO_API,
    PASSWORD,
    PUBLIC_URL,
    SECRET,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    migrated_copy,
)
from tests.slots import free_port
from tests.twilio_sim import TwilioSimulator

CLI = Path(sys.executable).parent / "callcenter"
QUEUE = "hotline-zh-CN"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: the servers commit, so no test transaction can hold it."""
    with migrated_copy(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
def people(database_url: str) -> dict[str, Any]:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        agent = users.create_user(
            session,
            data=UserCreate(username="agent-two", role=Role.AGENT, password=PASSWORD),
            actor=SYSTEM,
            clock=system_clock,
        )
        customer = customers.create_customer(
            session,
            data=CustomerCreate(name="孙悦", title="女士", phones=[PhoneIn(number="13800138000")]),
            actor=SYSTEM,
            # The service under test runs in its own processes on the system clock.
            clock=system_clock,
        )
        found = {"agent_id": agent.id, "customer_id": customer.id}
    engine.dispose()
    return found


@contextmanager
def _serve(env: dict[str, str], logs: list[Path]) -> Iterator[list[str]]:
    """One ``serve`` process a log, started together: each takes seconds to import and
    start, and one after the other they doubled each test's set-up."""
    servers = []
    try:
        for log in logs:
            port = free_port()
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(CLI), "serve", "--port", str(port), "--no-worker"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            servers.append((process, f"http://127.0.0.1:{port}", log))
        deadline = time.monotonic() + 30
        for process, base, log in servers:
            while True:
                assert process.poll() is None, log.read_text()[-3000:]
                with suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"no answer from {base}:\n{log.read_text()}"
                time.sleep(0.1)
        yield [base for _process, base, _log in servers]
    finally:
        for process, _base, _log in servers:
            os.killpg(process.pid, signal.SIGTERM)
        for process, _base, _log in servers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


@pytest.fixture
def workers(
    database_url: str, redis_url: str, bus: Any, people: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[str, str]]:
    env = cli_env(
        tmp_path / "data",
        CALLCENTER_DATABASE_URL=database_url,
        CALLCENTER_REDIS_URL=redis_url,
        CALLCENTER_AUTH_SECRET_KEY=SECRET,
        CALLCENTER_PUBLIC_URL=PUBLIC_URL,
        CALLCENTER_TWILIO_ACCOUNT_SID=TWILIO_ACCOUNT_SID,
        CALLCENTER_TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        CALLCENTER_TWILIO_API_BASE_URL=NO_TWILIO_API,
        CALLCENTER_IVR_FLOWS_DIR=str(open_around_the_clock(tmp_path / "flows")),
        CALLCENTER_LOG_LEVEL="WARNING",
        **{f"CALLCENTER_HTTP_{name.upper()}": str(v) for name, v in LOADED_MACHINE_HTTP.items()},
    )
    with _serve(env, [tmp_path / "a.log", tmp_path / "b.log"]) as (first, second):
        yield first, second


def _token(base: str) -> str:
    response = httpx.post(
        f"{base}/api/auth/token", data={"username": "agent-two", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _console(base: str, token: str, last_event_id: str | None = None) -> ClientConnection:
    ws = connect(base.replace("http://", "ws://") + "/ws/console")
    ws.send(json.dumps({"type": "auth", "token": token, "last_event_id": last_event_id}))
    return ws


def _offer(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=15))
        if frame["type"] == "event" and frame["name"] == "call.offered":
            return frame


def _ring(base: str, caller: str) -> None:
    with httpx.Client(base_url=base) as client:
        TwilioSimulator(client).call(caller).press("0")  # type: ignore[arg-type]


def test_a_pop_made_by_one_worker_reaches_a_console_on_the_other(
    workers: tuple[str, str], people: dict[str, Any]
) -> None:
    first, second = workers
    token = _token(first)
    headers = {"Authorization": f"Bearer {token}"}
    login = httpx.put(f"{first}/api/agents/me/login", json={"queues": [QUEUE]}, headers=headers)
    assert login.status_code == 200, login.text
    with _console(second, token) as ws:
        # The client offers per-message compression; the service declines it (its CPU).
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        _ring(first, "+8613800138000")
        offered = _offer(ws)
    assert offered["data"]["agent_id"] == people["agent_id"]
    card = offered["pop"]["customers"][0]
    assert (card["id"], card["name"], card["title"]) == (people["customer_id"], "孙悦", "女士")


def test_a_console_that_drops_receives_the_pop_it_missed_on_reconnect(
    workers: tuple[str, str], people: dict[str, Any]
) -> None:
    first, second = workers
    token = _token(first)
    headers = {"Authorization": f"Bearer {token}"}
    login = httpx.put(f"{second}/api/agents/me/login", json={"queues": [QUEUE]}, headers=headers)
    assert login.status_code == 200, login.text
    with _console(second, token) as ws:
        ready = json.loads(ws.recv(timeout=10))
    _ring(first, "+8613800138000")  # offered while no console of the agent is connected
    for base in (second, first):  # back on the same process, or on the other one
        with _console(base, token, last_event_id=ready["last_event_id"]) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "ready"
            missed = _offer(ws)
        assert missed["pop"]["customers"][0]["name"] == "孙悦"
        assert missed["data"]["agent_id"] == people["agent_id"]
