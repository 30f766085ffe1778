"""The station's own 48-hour follow-up of its repair (operating spec §3.4.7): queued when
the order is completed, inside the customer's calling hours, listed on the station's
board, made by the station's staff, and counted made or missed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from callbacks.models import OutboundTask
from callbacks.services.follow_ups import follow_up_figures
from callbacks.services.tasks import close_expired
from orders import SYSTEM, Role
from orders.enums import OrderStatus, ServiceMode
from orders.models import Station
from orders.schemas import OrderCreate, TransitionIn
from orders.services import work_orders
from tests.conftest import TestClock, bearer, fixed_clock

MONDAY = datetime(2025, 9, 8, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
STEPS = (OrderStatus.ACCEPTED, OrderStatus.CONTACTED, OrderStatus.IN_SERVICE)


def _completed(
    db: Session, station: Station, make_customer: Any, make_appliance: Any, at: datetime
) -> Any:
    customer = make_customer(name="周杰", phones=("13600136000",))
    order = work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id,
            appliance_id=make_appliance(customer.id, purchase_date=date(2025, 1, 1)).id,
            service_mode=ServiceMode.CARRY_IN,
        ),
        actor=SYSTEM,
        clock=fixed_clock(at),
    )
    work_orders.transition_order(
        db,
        order_id=order.id,
        data=TransitionIn(to=OrderStatus.ASSIGNED, station_id=station.id),
        actor=SYSTEM,
        clock=fixed_clock(at),
    )
    for step in (*STEPS, OrderStatus.COMPLETED):
        work_orders.transition_order(
            db, order_id=order.id, data=TransitionIn(to=step), actor=SYSTEM, clock=fixed_clock(at)
        )
    return order


def _follow_ups(db: Session, order_id: int) -> list[OutboundTask]:
    db.expire_all()
    return list(
        db.exec(
            select(OutboundTask)
            .where(OutboundTask.order_id == order_id, OutboundTask.purpose == "station_follow_up")
            .order_by(col(OutboundTask.id))
        ).all()
    )


def test_a_completed_order_gives_its_station_a_follow_up_within_48_hours(
    db: Session, station: Station, make_customer: Any, make_appliance: Any
) -> None:
    order = _completed(db, station, make_customer, make_appliance, MONDAY)
    late = _completed(
        db, station, make_customer, make_appliance, datetime(2025, 9, 8, 14, 30, tzinfo=UTC)
    )  # 22:30 in Shanghai

    [follow_up] = _follow_ups(db, order.id)
    [next_morning] = _follow_ups(db, late.id)

    assert (follow_up.assignee_kind, follow_up.station_id) == ("station", station.id)
    assert (follow_up.status, follow_up.due_at) == ("scheduled", MONDAY)
    assert follow_up.deadline_at == MONDAY + timedelta(hours=48)
    assert follow_up.phone == "+8613600136000"
    assert next_morning.due_at == datetime(2025, 9, 9, 1, 0, tzinfo=UTC)  # 09:00


def test_a_follow_up_made_counts_made_and_one_left_past_48_hours_counts_missed(
    client: TestClient,
    db: Session,
    station: Station,
    make_customer: Any,
    make_appliance: Any,
    make_user: Any,
    clock: TestClock,
) -> None:
    made_order = _completed(db, station, make_customer, make_appliance, MONDAY)
    missed_order = _completed(db, station, make_customer, make_appliance, MONDAY)
    staff = bearer(make_user(Role.STATION, station_id=station.id))
    [made] = _follow_ups(db, made_order.id)
    clock.set(MONDAY + timedelta(hours=3))

    board = client.get(f"/api/stations/{station.id}/follow-ups", headers=staff)
    reached = client.post(
        f"/api/follow-ups/{made.id}/outcome",
        json={"outcome": "reached", "comment": "冰箱制冷正常，客户满意"},
        headers=staff,
    )
    close_expired(db, now=MONDAY + timedelta(hours=48, minutes=1))
    figures = follow_up_figures(
        db, station_id=station.id or 0, start=MONDAY, end=MONDAY + timedelta(days=7)
    )
    [missed] = _follow_ups(db, missed_order.id)

    assert board.status_code == 200, board.text
    assert [t["order_id"] for t in board.json()] == [made_order.id, missed_order.id]
    assert reached.status_code == 200, reached.text
    assert (missed.status, missed.outcome) == ("failed", "window_closed")
    assert (figures.made, figures.missed, figures.open, figures.made_share) == (1, 1, 0, 0.5)


def test_only_the_order_s_station_sees_and_makes_its_follow_up(
    client: TestClient,
    db: Session,
    station: Station,
    make_customer: Any,
    make_appliance: Any,
    make_user: Any,
) -> None:
    order = _completed(db, station, make_customer, make_appliance, MONDAY)
    other = Station(code="OTHER9", name="海淀服务站", created_at=MONDAY)
    db.add(other)
    db.commit()
    theirs = bearer(make_user(Role.STATION, station_id=other.id))
    [follow_up] = _follow_ups(db, order.id)

    board = client.get(f"/api/stations/{station.id}/follow-ups", headers=theirs)
    made = client.post(
        f"/api/follow-ups/{follow_up.id}/outcome", json={"outcome": "reached"}, headers=theirs
    )

    assert board.status_code == 403
    assert made.status_code == 403
    assert _follow_ups(db, order.id)[0].status == "scheduled"


def test_an_order_completed_again_after_rectification_is_followed_up_again(
    db: Session, station: Station, make_customer: Any, make_appliance: Any
) -> None:
    order = _completed(db, station, make_customer, make_appliance, MONDAY)
    later = MONDAY + timedelta(hours=5)
    for step in (OrderStatus.REOPENED, OrderStatus.IN_SERVICE, OrderStatus.COMPLETED):
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, note="客户反映仍不制冷"),
            actor=SYSTEM,
            clock=fixed_clock(later),
        )

    first, second = _follow_ups(db, order.id)

    assert (first.status, first.outcome) == ("cancelled", "completed_again")
    assert (second.status, second.due_at) == ("scheduled", later)


def test_a_follow_up_nobody_answered_is_tried_again_by_the_station_not_an_agent(
    client: TestClient,
    db: Session,
    station: Station,
    make_customer: Any,
    make_appliance: Any,
    make_user: Any,
    clock: TestClock,
) -> None:
    order = _completed(db, station, make_customer, make_appliance, MONDAY)
    agent = make_user(Role.AGENT)
    boss = bearer(make_user(Role.SUPERVISOR))
    week = {str(day): [["00:00", "23:59"]] for day in range(1, 8)}
    # An agent with room at any hour: the retry must not land in that calendar.
    calendar = client.put(
        f"/api/agents/{agent.id}/calendar", json={"weekly_hours": week}, headers=boss
    )
    assert calendar.status_code == 200, calendar.text
    [follow_up] = _follow_ups(db, order.id)
    clock.set(MONDAY + timedelta(hours=1))

    missed = client.post(
        f"/api/follow-ups/{follow_up.id}/outcome",
        json={"outcome": "no_answer"},
        headers=bearer(make_user(Role.STATION, station_id=station.id)),
    )
    [again] = _follow_ups(db, order.id)

    assert missed.status_code == 200, missed.text
    assert (again.status, again.attempts, again.assignee_kind) == ("scheduled", 1, "station")
    assert (again.assignee_id, again.station_id) == (None, station.id)
    assert again.due_at is not None and again.due_at >= MONDAY + timedelta(hours=1, minutes=15)
