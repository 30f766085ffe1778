"""Logins and tokens under attack: parallel guesses, lockouts anyone could cause, tokens
that outlive a password reset."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.errors import NotAuthenticated, TooManyRequests
from orders.enums import Role
from orders.models import User
from orders.services.users import LoginPolicy, _hasher, authenticate
from tests.conftest import OPEN_HOURS, PASSWORD, TestClock


@pytest.fixture
def committed_user(engine: Engine) -> Iterator[User]:
    """A user other sessions see (the test transaction would hide it from them)."""
    with Session(engine, expire_on_commit=False) as session:
        user = User(
            username=f"target-{uuid.uuid4().hex[:6]}",
            role=Role.ADMIN,
            password_hash=_hasher.hash(PASSWORD),
            created_at=OPEN_HOURS,
            updated_at=OPEN_HOURS,
        )
        session.add(user)
        session.commit()
    yield user
    with Session(engine) as session:
        session.delete(session.get_one(User, user.id))
        session.commit()


def test_parallel_guesses_are_counted_before_they_are_verified(
    engine: Engine, bus: redis.Redis, committed_user: User, clock: TestClock
) -> None:
    """Found: 20 parallel guesses against a limit of 5 were all tried; the 20th, the right
    password, got in."""
    clock.frozen = True
    policy = LoginPolicy(max_failures=5)
    start = threading.Barrier(20, timeout=60)
    outcomes: list[str] = []

    def guess(index: int) -> None:
        password = PASSWORD if index == 19 else f"guess-{index}"
        start.wait()
        with Session(engine) as session:
            try:
                authenticate(
                    session,
                    bus=bus,
                    username=committed_user.username,
                    password=password,
                    address="192.0.2.7",
                    policy=policy,
                    clock=clock,
                )
                outcomes.append("in")
            except NotAuthenticated:
                outcomes.append("wrong")
            except TooManyRequests:
                outcomes.append("slowed")
            except Exception as exc:  # a broken guess must show, not vanish with its thread
                outcomes.append(f"error: {exc!r}")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    tally = Counter(outcomes)
    assert len(outcomes) == 20, outcomes
    assert tally["wrong"] + tally["in"] == 5
    assert tally["slowed"] == 15


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/auth/token", data={"username": username, "password": password})


def test_failed_logins_slow_down_instead_of_locking_the_admin_out(
    client: TestClient, make_user: Any, clock: TestClock
) -> None:
    """Found: five bad tries locked any account, admin included, for five minutes."""
    clock.freeze(OPEN_HOURS)
    admin = make_user(Role.ADMIN)
    for _ in range(5):
        assert _login(client, admin.username, "guess").status_code == 401
    slowed = _login(client, admin.username, PASSWORD)
    assert (slowed.status_code, slowed.headers["retry-after"]) == (429, "1")
    clock.advance(1)
    assert _login(client, admin.username, "guess").status_code == 401
    assert _login(client, admin.username, PASSWORD).headers["retry-after"] == "2"
    clock.advance(2)
    assert _login(client, admin.username, PASSWORD).status_code == 200
    assert _login(client, admin.username, "guess").status_code == 401  # counting afresh


def test_one_address_guessing_at_many_usernames_is_slowed(
    client: TestClient, make_user: Any, clock: TestClock
) -> None:
    clock.freeze(OPEN_HOURS)
    for index in range(20):
        assert _login(client, f"nobody-{index}", "guess").status_code == 401
    user = make_user(Role.AGENT)
    assert _login(client, user.username, PASSWORD).status_code == 429


def test_a_right_login_from_an_address_near_its_limit_does_not_slow_the_next(
    client: TestClient, make_user: Any, clock: TestClock
) -> None:
    """Found in review: a right login counted as the address's 20th try got the delay
    of a 20th failure, and kept it once taken back: the next agent of the office waited."""
    clock.freeze(OPEN_HOURS)
    for index in range(19):
        assert _login(client, f"typo-{index}", "guess").status_code == 401
    for _ in range(3):
        agent = make_user(Role.AGENT)
        assert _login(client, agent.username, PASSWORD).status_code == 200


def test_agents_of_one_office_logging_in_are_never_slowed(
    client: TestClient, make_user: Any, clock: TestClock
) -> None:
    clock.freeze(OPEN_HOURS)
    for _ in range(30):
        agent = make_user(Role.AGENT)
        assert _login(client, agent.username, PASSWORD).status_code == 200


def test_a_password_reset_or_a_new_role_revokes_the_tokens_issued_before(
    client: TestClient, make_user: Any, headers: Any
) -> None:
    """Found: a token stayed valid after its user's password was reset."""
    user = make_user(Role.SUPERVISOR)
    token = _login(client, user.username, PASSWORD).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=auth).status_code == 200
    reset = client.patch(
        f"/api/users/{user.id}", json={"password": "a new long password"}, headers=headers["admin"]
    )
    assert reset.status_code == 200
    revoked = client.get("/api/me", headers=auth)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["message"]
    fresh = _login(client, user.username, "a new long password").json()["access_token"]
    fresh_auth = {"Authorization": f"Bearer {fresh}"}
    renamed = client.patch(
        f"/api/users/{user.id}", json={"full_name": "新名字"}, headers=headers["admin"]
    )
    assert renamed.status_code == 200
    assert client.get("/api/me", headers=fresh_auth).status_code == 200  # a name is no reason
    demoted = client.patch(
        f"/api/users/{user.id}", json={"role": "agent"}, headers=headers["admin"]
    )
    assert demoted.status_code == 200
    assert client.get("/api/me", headers=fresh_auth).status_code == 401
