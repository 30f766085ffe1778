"""Customers' notices beyond the status changes (通知提示): the day-before reminder of an
agreed visit (moved with it, dropped when the visit is off), the longer repair period of
a late repair, and a part the customer ordered waiting at the station. What the customer
would read is the text queued; the SMS pipe itself is tested with the survey texts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from callbacks import claim_due_dials, notice_text
from callbacks.enums import CampaignMode
from callbacks.models import OutboundTask
from orders import SYSTEM, Role
from orders.enums import OrderStatus
from orders.schemas import OrderCreate, TransitionIn
from orders.services import work_orders
from orders.sla import sweep
from tests.conftest import TestClock, bearer, fixed_clock

NOW = datetime(2025, 9, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Thursday


def _order(
    db: Session, clock: TestClock, station: Any, make_customer: Any, make_appliance: Any
) -> Any:
    clock.set(NOW)  # the routes' moment: the reminders count from it
    customer = make_customer(name="周杰", phones=("13600136000",))
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


def _notices(db: Session, order_id: int, purpose: str) -> list[OutboundTask]:
    db.expire_all()
    return list(
        db.exec(
            select(OutboundTask)
            .where(OutboundTask.order_id == order_id, OutboundTask.purpose == purpose)
            .order_by(col(OutboundTask.id))
        ).all()
    )


def _visit(start: datetime, **extra: str) -> dict[str, str]:
    return {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
        **extra,
    }


def test_a_visit_is_recalled_the_day_before_and_a_moved_one_replaces_its_reminder(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    clock: TestClock,
) -> None:
    order = _order(db, clock, station, make_customer, make_appliance)
    staff = bearer(make_user(Role.STATION, station_id=station.id))
    saturday = datetime(2025, 9, 6, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    monday = datetime(2025, 9, 8, 6, 0, tzinfo=UTC)  # 14:00

    booked = client.post(
        f"/api/orders/{order.id}/appointments", json=_visit(saturday), headers=staff
    )
    [first] = _notices(db, order.id, "appointment_reminder")
    moved = client.post(
        f"/api/orders/{order.id}/appointments",
        json=_visit(monday, requested_by="customer", reason="客户周六不在家"),
        headers=staff,
    )
    old, new = _notices(db, order.id, "appointment_reminder")
    due, deadline = (new.status, new.due_at), new.deadline_at
    reminded = claim_due_dials(db, now=new.due_at or NOW, mode=CampaignMode.SMS_NOTICE)

    assert booked.status_code == moved.status_code == 201, moved.text
    assert first.due_at == saturday - timedelta(hours=24)  # Friday 09:00, in calling hours
    assert (old.id, old.status, old.outcome) == (first.id, "cancelled", "visit_changed")
    assert due == ("scheduled", monday - timedelta(hours=24))
    assert deadline == monday - timedelta(hours=1)
    assert [d.task_id for d in reminded] == [new.id]
    text = notice_text(db, new.id, "zh")
    assert "9月8日 14:00-16:00" in text and order.number in text
    assert "on 08 Sep between 14:00 and 16:00" in notice_text(db, new.id, "en")


def test_a_visit_booked_for_within_the_hour_gets_no_reminder_and_a_missed_one_loses_it(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    clock: TestClock,
) -> None:
    order = _order(db, clock, station, make_customer, make_appliance)
    staff = bearer(make_user(Role.STATION, station_id=station.id))
    soon = client.post(
        f"/api/orders/{order.id}/appointments",
        json=_visit(NOW + timedelta(minutes=40)),
        headers=staff,
    )
    assert soon.status_code == 201, soon.text
    assert _notices(db, order.id, "appointment_reminder") == []

    later = client.post(
        f"/api/orders/{order.id}/appointments",
        json=_visit(NOW + timedelta(hours=5), requested_by="station", reason="工程师改时间"),
        headers=staff,
    )
    [reminder] = _notices(db, order.id, "appointment_reminder")
    assert later.status_code == 201
    assert reminder.due_at is not None and reminder.due_at <= NOW + timedelta(minutes=1)

    missed = client.post(
        f"/api/orders/{order.id}/appointments/missed",
        json={"reason": "工程师车辆故障未能按时上门", "fault_of": "station"},
        headers=staff,
    )
    assert missed.status_code == 200, missed.text
    assert [r.status for r in _notices(db, order.id, "appointment_reminder")] == ["cancelled"]


def test_a_late_repair_s_longer_period_is_told_once_when_its_reason_is_filed(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    clock: TestClock,
) -> None:
    order = _order(db, clock, station, make_customer, make_appliance)
    sweep(db, now=NOW + timedelta(days=6))
    station_user = bearer(make_user(Role.STATION, station_id=station.id))

    for reason in ("压缩机缺货，厂家预计三天到货", "厂家延迟发货，预计再等两天"):
        filed = client.post(
            f"/api/orders/{order.id}/escalation/reason",
            json={"reason": reason},
            headers=station_user,
        )
        assert filed.status_code == 200, filed.text
    [notice] = _notices(db, order.id, "notice_repair_extended")

    assert notice.status == "scheduled" and notice.phone == "+8613600136000"
    assert "维修周期需要延长" in notice_text(db, notice.id or 0, "zh")
