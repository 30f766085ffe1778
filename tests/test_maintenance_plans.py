"""Maintenance plans: the worker creates each round's order ahead of its due date, once,
dispatched to the station covering the customer; the visit completes only with its
maintenance record, and the next round is counted from the visit (or, when the customer
declined the round, from its due date)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from orders import SYSTEM, Role
from orders.enums import ApplianceCategory, Channel, OrderStatus, OrderType
from orders.jobs import open_maintenance_rounds
from orders.models import WorkOrder
from orders.schemas import EngineerCreate, RegionIn, StationCreate, TransitionIn
from orders.services import stations, work_orders
from tests.conftest import bearer, fixed_clock

CREATED = datetime(2025, 9, 4, 2, 0, tzinfo=UTC)
DUE = date(2025, 10, 1)


@pytest.fixture
def beijing(db: Session) -> Any:
    """A station covering Chaoyang (the test customers' district), with an engineer who
    does maintenance on air conditioners."""
    station = stations.create_station(
        db,
        data=StationCreate(
            code="BJ-CY",
            name="朝阳服务站",
            regions=[RegionIn(province="北京市", city="北京市", district="朝阳区")],
        ),
        actor=SYSTEM,
        clock=fixed_clock(CREATED),
    )
    stations.create_engineer(
        db,
        data=EngineerCreate(
            station_id=station.id,
            name="刘师傅",
            categories=[ApplianceCategory.AIR_CONDITIONER],
            service_types=["repair", "maintenance"],
            certificate_no="C-001",
            certificate_expires=date(2030, 1, 1),
        ),
        actor=SYSTEM,
        clock=fixed_clock(CREATED),
    )
    return station


def _rounds(db: Session, moment: datetime) -> int:
    @contextlib.contextmanager
    def sessions() -> Iterator[Session]:
        yield db

    ctx: dict[str, Callable[..., Any]] = {"sessions": sessions, "clock": lambda: moment}
    return asyncio.run(open_maintenance_rounds(ctx))["created"]


def _maintenance_orders(db: Session, appliance_id: int) -> list[WorkOrder]:
    db.expire_all()
    return list(
        db.exec(
            select(WorkOrder).where(
                WorkOrder.appliance_id == appliance_id,
                WorkOrder.order_type == OrderType.MAINTENANCE,
            )
        ).all()
    )


def _at_beijing_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)


def test_a_round_is_opened_once_ahead_of_its_due_date_and_the_visit_starts_the_next(
    client: TestClient,
    db: Session,
    beijing: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    customer = make_customer()
    aircon = make_appliance(
        customer.id, category=ApplianceCategory.AIR_CONDITIONER, purchase_date=date(2025, 1, 1)
    )
    desk = bearer(make_user(Role.SUPERVISOR))
    staff = bearer(make_user(Role.STATION, station_id=beijing.id))
    plan = client.post(
        f"/api/appliances/{aircon.id}/maintenance-plans",
        json={"task": "空调清洗", "interval_months": 12, "next_due": DUE.isoformat()},
        headers=desk,
    )
    assert plan.status_code == 201, plan.text

    before_lead = _rounds(db, _at_beijing_noon(DUE - timedelta(days=15)))
    opened = _rounds(db, _at_beijing_noon(DUE - timedelta(days=14)))
    again = _rounds(db, _at_beijing_noon(DUE - timedelta(days=13)))
    orders = _maintenance_orders(db, aircon.id)

    assert (before_lead, opened, again) == (0, 1, 0)
    assert len(orders) == 1
    order = orders[0]
    assert order.channel is Channel.MAINTENANCE_PLAN
    assert order.station_id == beijing.id
    assert order.status is OrderStatus.ASSIGNED
    assert "空调清洗" in order.fault_description and "2025-10-01" in order.fault_description

    visit_day = date(2025, 9, 25)
    for to in (OrderStatus.ACCEPTED, OrderStatus.CONTACTED, OrderStatus.IN_SERVICE):
        work_orders.transition_order(
            db,
            order_id=order.id or 0,
            data=TransitionIn(to=to),
            actor=SYSTEM,
            clock=fixed_clock(_at_beijing_noon(visit_day)),
        )
    unrecorded = client.post(
        f"/api/orders/{order.id}/transitions", json={"to": "completed"}, headers=staff
    )
    record = client.post(
        f"/api/orders/{order.id}/maintenance-record",
        json={
            "work_done": "清洗过滤网与蒸发器，检查冷媒压力",
            "findings": "冷媒压力正常",
            "customer_confirmed_by": "王建国",
        },
        headers=staff,
    )
    work_orders.transition_order(
        db,
        order_id=order.id or 0,
        data=TransitionIn(to=OrderStatus.COMPLETED),
        actor=SYSTEM,
        clock=fixed_clock(_at_beijing_noon(visit_day)),
    )
    after = client.get(f"/api/appliances/{aircon.id}/maintenance-plans", headers=desk).json()
    history = client.get(f"/api/appliances/{aircon.id}/maintenance-records", headers=desk).json()

    assert unrecorded.status_code == 409
    assert record.status_code == 201, record.text
    assert after[0]["next_due"] == "2026-09-25"
    assert after[0]["open_order_id"] is None
    assert [(r["work_done"], r["plan_id"]) for r in history] == [
        ("清洗过滤网与蒸发器，检查冷媒压力", plan.json()["id"])
    ]
    # The next round opens 14 days before its new due date, not before.
    assert _rounds(db, _at_beijing_noon(date(2026, 9, 10))) == 0
    assert _rounds(db, _at_beijing_noon(date(2026, 9, 11))) == 1


def test_a_declined_round_is_skipped_and_a_paused_plan_opens_none(
    client: TestClient,
    db: Session,
    beijing: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    customer = make_customer()
    aircon = make_appliance(
        customer.id, category=ApplianceCategory.AIR_CONDITIONER, purchase_date=date(2025, 1, 1)
    )
    desk = bearer(make_user(Role.SUPERVISOR))
    plan = client.post(
        f"/api/appliances/{aircon.id}/maintenance-plans",
        json={
            "task": "空调清洗",
            "interval_months": 6,
            "next_due": DUE.isoformat(),
            "lead_days": 7,
        },
        headers=desk,
    ).json()
    _rounds(db, _at_beijing_noon(DUE - timedelta(days=7)))
    (order,) = _maintenance_orders(db, aircon.id)

    work_orders.transition_order(
        db,
        order_id=order.id or 0,
        data=TransitionIn(to=OrderStatus.CANCELLED, note="用户本次不需要"),
        actor=SYSTEM,
        clock=fixed_clock(_at_beijing_noon(DUE)),
    )
    skipped = client.get(f"/api/appliances/{aircon.id}/maintenance-plans", headers=desk).json()
    paused = client.patch(
        f"/api/maintenance-plans/{plan['id']}", json={"is_active": False}, headers=desk
    )

    assert skipped[0]["next_due"] == "2026-04-01"
    assert paused.json()["is_active"] is False
    assert _rounds(db, _at_beijing_noon(date(2026, 3, 31))) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "", "interval_months": 12, "next_due": "2025-10-01"}, "task"),
        ({"task": "清洗", "interval_months": 0, "next_due": "2025-10-01"}, "interval_months"),
        ({"task": "清洗", "interval_months": 12, "next_due": "2025-02-30"}, "next_due"),
        (
            {"task": "清洗", "interval_months": 12, "next_due": "2025-10-01", "lead_days": 999},
            "lead_days",
        ),
    ],
)
def test_a_bad_plan_is_refused_with_the_field_named(
    client: TestClient,
    db: Session,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    body: dict[str, Any],
    field: str,
) -> None:
    customer = make_customer()
    appliance = make_appliance(customer.id, purchase_date=date(2025, 1, 1))
    desk = bearer(make_user(Role.SUPERVISOR))

    answer = client.post(
        f"/api/appliances/{appliance.id}/maintenance-plans", json=body, headers=desk
    )
    missing = client.post(
        "/api/appliances/2147483000/maintenance-plans",
        json={"task": "清洗", "interval_months": 12, "next_due": "2025-10-01"},
        headers=desk,
    )

    assert answer.status_code == 422
    assert field in answer.text
    assert missing.status_code == 404
    assert (
        client.get(f"/api/appliances/{appliance.id}/maintenance-plans", headers=desk).json() == []
    )
