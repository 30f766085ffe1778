"""Appointments: the window agreed with the customer, a reschedule keeps who asked and
why, a missed visit counts against the station, the visit keeps the appointment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from orders import SYSTEM, Role
from orders.enums import OrderStatus
from orders.schemas import OrderCreate, TransitionIn
from orders.services import appointments, work_orders
from tests.conftest import bearer, fixed_clock

NOW = datetime(2025, 9, 4, 2, 0, tzinfo=UTC)


def _accepted(db: Session, station: Any, make_customer: Any, make_appliance: Any) -> Any:
    customer = make_customer()
    order = work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id,
            appliance_id=make_appliance(customer.id, purchase_date=date(2025, 1, 1)).id,
        ),
        actor=SYSTEM,
        clock=fixed_clock(NOW),
    )
    for step in (OrderStatus.ASSIGNED, OrderStatus.ACCEPTED):
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=fixed_clock(NOW),
        )
    return order


def _window(hours: int) -> dict[str, str]:
    start = NOW + timedelta(hours=hours)
    return {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
    }


def test_a_reschedule_keeps_who_asked_and_why_and_the_visit_keeps_the_new_one(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _accepted(db, station, make_customer, make_appliance)
    staff = bearer(make_user(Role.STATION, station_id=station.id))

    first = client.post(f"/api/orders/{order.id}/appointments", json=_window(20), headers=staff)
    unexplained = client.post(
        f"/api/orders/{order.id}/appointments", json=_window(44), headers=staff
    )
    moved = client.post(
        f"/api/orders/{order.id}/appointments",
        json=_window(44) | {"requested_by": "customer", "reason": "客户出差，改到周六"},
        headers=staff,
    )
    for step in (OrderStatus.CONTACTED, OrderStatus.IN_SERVICE):
        work_orders.transition_order(
            db, order_id=order.id, data=TransitionIn(to=step), actor=SYSTEM, clock=fixed_clock(NOW)
        )
    history = client.get(f"/api/orders/{order.id}/appointments", headers=staff).json()

    assert first.status_code == 201, first.text
    assert unexplained.status_code == 422
    assert moved.status_code == 201
    assert [(a["status"], a["requested_by"], a["reason"]) for a in history] == [
        ("rescheduled", "customer", "客户出差，改到周六"),
        ("kept", None, ""),
    ]


def test_a_missed_visit_is_counted_against_the_station(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _accepted(db, station, make_customer, make_appliance)
    staff = bearer(make_user(Role.STATION, station_id=station.id))
    client.post(f"/api/orders/{order.id}/appointments", json=_window(20), headers=staff)

    missed = client.post(
        f"/api/orders/{order.id}/appointments/missed",
        json={"reason": "工程师车辆故障未能按时上门"},
        headers=staff,
    )
    nothing_left = client.post(
        f"/api/orders/{order.id}/appointments/missed", json={"reason": "again"}, headers=staff
    )

    assert missed.json()["status"] == "missed"
    assert nothing_left.status_code == 404
    assert appointments.missed_by_station(db) == {station.id: 1}


def test_a_window_must_end_after_it_starts(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _accepted(db, station, make_customer, make_appliance)
    window = _window(20)
    answer = client.post(
        f"/api/orders/{order.id}/appointments",
        json={"window_start": window["window_end"], "window_end": window["window_start"]},
        headers=bearer(make_user(Role.SUPERVISOR)),
    )

    assert answer.status_code == 422
