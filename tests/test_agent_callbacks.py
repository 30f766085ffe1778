"""An agent calls a callback task's customer from the console: the call is logged with the
customer's record as its pop, rung through Twilio (the agent's phone, then the customer's)
or dialled from the agent's softphone, and the task waits for the agent's outcome."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from orders import Role
from telephony.models import Call
from tests.conftest import TestClock, bearer
from tests.outbound_data import task_of


def test_an_agent_calls_a_task_s_customer_and_sees_the_pop(
    client: TestClient,
    db: Session,
    clock: TestClock,
    make_user: Any,
    headers: dict[str, dict[str, str]],
) -> None:
    agent = make_user(Role.AGENT)
    task = task_of(client, db, clock, agent, headers["supervisor"])
    mine = bearer(agent)

    stranger = client.post(f"/api/tasks/{task.id}/call", headers=bearer(make_user(Role.AGENT)))
    placed = client.post(f"/api/tasks/{task.id}/call", headers=mine)
    twice = client.post(f"/api/tasks/{task.id}/call", headers=mine)
    pop = client.get(f"/api/console/calls/{placed.json()['call_id']}/pop", headers=mine)
    done = client.post(
        f"/api/tasks/{task.id}/outcome",
        json={"outcome": "score_given", "score": 5},
        headers=mine,
    )

    assert stranger.status_code == 403
    assert placed.status_code == 201, placed.text
    assert placed.json()["dialled_by"] == "softphone"
    assert placed.json()["phone"] == task.phone
    assert twice.status_code == 409
    assert twice.json()["error_id"] == "call_not_allowed"
    assert pop.status_code == 200, pop.text
    [card] = pop.json()["customers"]
    assert card["id"] == task.customer_id
    call = db.get(Call, placed.json()["call_id"])
    assert call is not None
    assert (call.direction, call.agent_id, call.task_id) == ("outbound", agent.id, task.id)
    assert done.json()["task"]["status"] == "done"


def test_no_call_outside_the_customer_s_hours_or_to_a_listed_number(
    client: TestClient,
    db: Session,
    clock: TestClock,
    make_user: Any,
    headers: dict[str, dict[str, str]],
) -> None:
    agent = make_user(Role.AGENT)
    task = task_of(client, db, clock, agent, headers["supervisor"])
    mine = bearer(agent)
    client.put(
        f"/api/customers/{task.customer_id}/contact-preferences",
        json={"call_from": "18:00", "call_to": "20:00"},
        headers=mine,
    )
    db.refresh(task)
    task.status = "scheduled"
    db.add(task)
    db.commit()

    late = client.post(f"/api/tasks/{task.id}/call", headers=mine)
    client.put(f"/api/customers/{task.customer_id}/contact-preferences", json={}, headers=mine)
    client.post("/api/dnc", json={"phone": task.phone}, headers=mine)
    listed = client.post(f"/api/tasks/{task.id}/call", headers=mine)

    assert late.status_code == 409
    assert "18:00-20:00 Asia/Shanghai" in late.json()["message"]
    assert listed.status_code == 409
    assert db.exec(select(Call).where(Call.task_id == task.id)).all() == []
