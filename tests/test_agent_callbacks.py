"""An agent calls a callback task's customer from the console: the call is logged with the
customer's record as its pop, rung through Twilio (the agent's phone, then the customer's)
or dialled from the agent's softphone, and the task waits for the agent's outcome."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from callbacks.jobs import plan_campaigns
from callbacks.models import OutboundTask
from callcenter.app import worker_context
from orders import Role
from telephony.models import Call
from tests.conftest import TestClock, at, bearer
from tests.outbound_data import WEEK, task_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


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


def test_a_promised_callback_is_the_agent_s_own_until_long_overdue_then_anyone_s(
    app: Any,
    client: TestClient,
    db: Session,
    clock: TestClock,
    make_user: Any,
    headers: dict[str, dict[str, str]],
    make_customer: Any,
) -> None:
    promiser, colleague = make_user(Role.AGENT), make_user(Role.AGENT)
    for agent in (promiser, colleague):
        client.put(
            f"/api/agents/{agent.id}/calendar",
            json={"weekly_hours": WEEK, "capacity_per_hour": 6},
            headers=headers["supervisor"],
        )
    customer = make_customer(name="赵敏", phones=("13700137000",))

    promised = client.post(
        "/api/tasks",
        json={
            "phone": "137 0013 7000",
            "customer_id": customer.id,
            "at": at(2026, 11, 23, 7, 0).astimezone(SHANGHAI).isoformat(),
            "note": "客户下午三点后在家",
        },
        headers=bearer(promiser),
    )
    naive = client.post(
        "/api/tasks",
        json={
            "phone": "13700137000",
            "at": at(2026, 11, 23, 7, 0).replace(tzinfo=None).isoformat(),
        },
        headers=bearer(promiser),
    )
    clock.set(at(2026, 11, 23, 7, 20))  # 15:20: not yet handed over
    asyncio.run(plan_campaigns(worker_context(app)))
    kept = db.get(OutboundTask, promised.json()["id"])
    assert kept is not None
    kept_by = kept.assignee_id
    clock.set(at(2026, 11, 23, 7, 31))  # 15:31: 31 minutes overdue
    handed = asyncio.run(plan_campaigns(worker_context(app)))
    db.refresh(kept)

    assert promised.status_code == 201, promised.text
    assert promised.json()["purpose"] == "promised_callback"
    assert promised.json()["assignee_id"] == promiser.id
    assert datetime.fromisoformat(promised.json()["due_at"]) == at(2026, 11, 23, 7, 0)
    assert naive.status_code == 422
    assert kept_by == promiser.id
    assert handed["handed_over"] == 1
    # Anyone's now: placed again at the first free time, whoever's calendar holds it.
    assert (kept.assignee_kind, kept.status) == ("team", "scheduled")
    assert kept.assignee_id in (promiser.id, colleague.id)
    assert kept.due_at is not None and kept.due_at >= at(2026, 11, 23, 7, 31)
