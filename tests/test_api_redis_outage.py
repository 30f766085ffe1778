"""Redis goes away under the REST API: every route answers 503 with Retry-After
(``bus_unavailable``), as the Twilio webhooks do, never a plain 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from orders.enums import Role
from orders.models import User
from telephony.switchboard import Switchboard
from tests.conftest import PASSWORD
from tests.slots import free_port


@pytest.fixture
def redis_down(app: Any) -> Iterator[None]:
    """The app's bus and Redis state pointed at a port where no Redis listens."""
    client = redis.Redis(port=free_port(), socket_connect_timeout=1)
    app.state.bus = client
    board = app.state.switchboard
    app.state.switchboard = Switchboard.over(
        client,
        flow=board.flow,
        region=board.region,
        clock=app.state.clock,
        present_pop=board.notifier.present_pop,
    )
    yield
    client.close()


def _assert_retry_later(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["error_id"] == "bus_unavailable"
    assert body["details"] == {"redis_error": "ConnectionError"}


def test_logging_in_while_redis_is_down_is_retried_later(
    client: TestClient, make_user: Callable[..., User], redis_down: None
) -> None:
    agent = make_user(Role.AGENT)
    response = client.post(
        "/api/auth/token", data={"username": agent.username, "password": PASSWORD}
    )
    _assert_retry_later(response)


def test_the_console_while_redis_is_down_is_retried_later(
    client: TestClient, headers: dict[str, dict[str, str]], redis_down: None
) -> None:
    _assert_retry_later(client.get("/api/console/me", headers=headers["agent"]))
    _assert_retry_later(client.get("/api/console/wall", headers=headers["supervisor"]))
