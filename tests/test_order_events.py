"""Order changes reach the bus once they are saved, and only then: the consoles and the
wall learn of an order's creation and of each status change from these events."""

from __future__ import annotations

import json
from typing import Any

import redis
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.bus import Event, EventBus, bind_events, publish_on_commit
from core.keys import EVENTS_STREAM
from orders.models import Station


def _order_events(bus: redis.Redis) -> list[tuple[str, dict[str, Any]]]:
    entries = bus.xrange(EVENTS_STREAM)
    return [
        (fields["name"], json.loads(fields["data"]))
        for _id, fields in entries
        if fields["name"].startswith("order.")
    ]


def test_creating_and_moving_an_order_publishes_what_happened(
    client: TestClient,
    bus: redis.Redis,
    headers: dict[str, dict[str, str]],
    make_customer: Any,
    make_appliance: Any,
    station: Any,
) -> None:
    customer = make_customer()
    appliance = make_appliance(customer.id)
    agent = headers["agent"]

    created = client.post(
        "/api/orders",
        json={
            "customer_id": customer.id,
            "appliance_id": appliance.id,
            "order_type": "repair",
            "service_mode": "on_site",
            "channel": "phone",
            "fault_description": "不脱水",
        },
        headers=agent,
    )
    assert created.status_code == 201, created.text
    order = created.json()
    moved = client.post(
        f"/api/orders/{order['id']}/transitions",
        json={"to": "assigned", "station_id": station.id},
        headers=headers["supervisor"],
    )
    assert moved.status_code == 200, moved.text

    events = _order_events(bus)
    assert [name for name, _ in events] == ["order.created", "order.status_changed"]
    assert events[0][1]["number"] == order["number"]
    assert events[1][1] | {"at": None, "actor": None} == {
        "order_id": order["id"],
        "number": order["number"],
        "customer_id": order["customer_id"],
        "station_id": station.id,
        "engineer_id": None,
        "from_status": "new",
        "to_status": "assigned",
        "actor": None,
        "at": None,
    }


def test_a_refused_change_publishes_nothing(
    client: TestClient,
    bus: redis.Redis,
    headers: dict[str, dict[str, str]],
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> None:
    customer = make_customer()
    order = make_order(
        customer.id,
        make_appliance(customer.id).id,
        order_type="repair",
        service_mode="on_site",
        channel="phone",
    )
    bus.delete(EVENTS_STREAM)

    refused = client.post(
        f"/api/orders/{order.id}/transitions",
        json={"to": "completed"},
        headers=headers["supervisor"],
    )
    assigned_nowhere = client.post(
        f"/api/orders/{order.id}/transitions",
        json={"to": "assigned", "station_id": 999_999},
        headers=headers["supervisor"],
    )

    assert refused.status_code == 409
    assert assigned_nowhere.status_code == 404
    assert _order_events(bus) == []


class _Noted(Event):
    name = "order.noted"
    text: str


def test_events_of_a_rolled_back_transaction_are_dropped(
    db: Session, bus: redis.Redis, clock: Any
) -> None:
    bind_events(db, EventBus(bus))

    db.add(Station(code="LOST", name="lost", created_at=clock()))
    publish_on_commit(db, _Noted(text="lost"))
    db.flush()
    db.rollback()
    db.add(Station(code="KEPT", name="kept", created_at=clock()))
    publish_on_commit(db, _Noted(text="kept"))
    db.commit()

    assert _order_events(bus) == [("order.noted", {"text": "kept"})]
    assert [
        s.code for s in db.exec(select(Station).where(col(Station.code).in_(["LOST", "KEPT"])))
    ] == ["KEPT"]
