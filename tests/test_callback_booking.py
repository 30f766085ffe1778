"""A caller books a callback in the IVR at a time an agent is free: the times offered come
from the agents' calendars, and the one picked holds the agent's slot."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from callbacks.models import OutboundTask
from orders import Role
from tests.conftest import OPEN_HOURS, at, bearer

WEEK = {str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(1, 6)}


def test_the_ivr_offers_free_times_from_the_calendars_and_books_the_one_picked(
    sim: Any,
    client: TestClient,
    db: Session,
    make_customer: Any,
    make_user: Any,
    headers: dict[str, dict[str, str]],
) -> None:
    customer = make_customer(name="李娜", title="女士", phones=("139 0013 9000",))
    agent = make_user(Role.AGENT)
    client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 1},
        headers=headers["supervisor"],
    )

    call = sim.call("+8613900139000")
    menu = call.press("3")
    offered = " ".join(menu.said())
    booked = call.press("2")
    db.expire_all()
    [task] = db.exec(select(OutboundTask).where(OutboundTask.customer_id == customer.id)).all()
    day = client.get(
        "/api/tasks", params={"date": OPEN_HOURS.date().isoformat()}, headers=bearer(agent)
    ).json()

    # 10:00 in Shanghai; one call an hour from 09:00: 10:00 is too soon to offer, and
    # no hour is offered twice.
    assert offered.split() == [
        "我们可以在以下时间给您回电：",
        "今天11:00请按1，",
        "今天13:00请按2，",
        "今天14:00请按3，",
    ]
    assert "已为您预约今天13:00回电。" in booked.said()
    assert (task.purpose, task.status, task.assignee_id) == (
        "booked_callback",
        "scheduled",
        agent.id,
    )
    assert task.due_at == at(2026, 11, 23, 5, 0)
    assert [t["id"] for t in day] == [task.id]
