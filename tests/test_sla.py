"""SLA clocks to the second: business calendars (nights, weekends, China's holidays and
make-up working days, a station's own closures), pauses while waiting for parts, warnings
and breaches marked once each even by two sweeps at once, and the 5-day escalation.

Every moment here is a fixed date written out (the holiday data is for these years), so
none of these tests depends on the day it runs.
"""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.bus import EventBus, bind_events
from core.db import ServiceSession, make_engine, writer
from orders import SYSTEM, Role
from orders.calendar import BusinessCalendar
from orders.enums import Milestone, MilestoneState, OrderStatus, OrderType
from orders.models import Escalation, SlaClockRow, SlaPolicyRule, Station, StationClosure, WorkOrder
from orders.schemas import AppointmentIn, OrderCreate, TransitionIn
from orders.services import appointments, work_orders
from orders.sla import order_milestones, sweep
from tests.conftest import bearer, fixed_clock

CST = ZoneInfo("Asia/Shanghai")
HOURS = {str(d): [["08:30", "12:00"], ["13:30", "18:00"]] for d in range(1, 6)}


def cst(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=CST).astimezone(UTC)


def calendar(*closures: date) -> BusinessCalendar:
    return BusinessCalendar.of(time_zone="Asia/Shanghai", working_hours=HOURS, closures=closures)


# The calendar


@pytest.mark.parametrize(
    ("start", "hours", "due", "why"),
    [
        (cst(2025, 9, 4, 17, 0), 2, cst(2025, 9, 5, 9, 30), "across a night"),
        (cst(2025, 9, 4, 11, 0), 2, cst(2025, 9, 4, 14, 30), "across the lunch break"),
        (cst(2025, 9, 5, 17, 30), 2, cst(2025, 9, 8, 10, 0), "across a weekend"),
        (cst(2025, 9, 30, 17, 0), 2, cst(2025, 10, 9, 9, 30), "across National Day (10-01..08)"),
        (cst(2025, 9, 26, 17, 0), 2, cst(2025, 9, 28, 9, 30), "into a make-up Sunday (调休)"),
        (cst(2025, 10, 10, 17, 0), 2, cst(2025, 10, 11, 9, 30), "into a make-up Saturday"),
        (cst(2025, 9, 6, 10, 0), 1, cst(2025, 9, 8, 9, 30), "from a Saturday"),
        (cst(2031, 3, 7, 17, 0), 2, cst(2031, 3, 10, 9, 30), "a year without holiday data"),
    ],
)
def test_working_time_is_added_to_the_second(
    start: datetime, hours: float, due: datetime, why: str
) -> None:
    assert calendar().add(start, hours * 3600) == due, why
    assert calendar().between(start, due) == hours * 3600, why


def test_a_station_s_own_closure_is_skipped() -> None:
    start = cst(2025, 9, 4, 17, 0)

    assert calendar(date(2025, 9, 5)).add(start, 2 * 3600) == cst(2025, 9, 8, 9, 30)


# Milestones on orders


@pytest.fixture
def shop(db: Session) -> Station:
    station = Station(
        code="SH01", name="徐汇服务站", working_hours=HOURS, created_at=cst(2025, 1, 1)
    )
    db.add(station)
    db.commit()
    return station


@pytest.fixture
def new_order(db: Session, make_customer: Any, make_appliance: Any) -> Any:
    customer = make_customer()
    # Bought before the tests' moments of 2025: under warranty, no quote to approve.
    appliance = make_appliance(customer.id, purchase_date=date(2025, 1, 1))

    def make(at: datetime, *, urban: bool | None = True) -> WorkOrder:
        data = OrderCreate(customer_id=customer.id, appliance_id=appliance.id)
        created = work_orders.create_order(db, data=data, actor=SYSTEM, clock=fixed_clock(at))
        row = db.get(WorkOrder, created.id)
        assert row is not None
        row.urban = urban
        db.add(row)
        db.commit()
        return row

    return make


def _move(db: Session, order: WorkOrder, to: OrderStatus, at: datetime, station: Station) -> None:
    work_orders.transition_order(
        db,
        order_id=order.id or 0,
        data=TransitionIn(to=to, station_id=station.id),
        actor=SYSTEM,
        clock=fixed_clock(at),
    )


def _book_visit(db: Session, order: WorkOrder, at: datetime) -> None:
    appointments.schedule(
        db,
        order_id=order.id or 0,
        data=AppointmentIn(
            window_start=at + timedelta(hours=1), window_end=at + timedelta(hours=3)
        ),
        actor=SYSTEM,
        clock=fixed_clock(at),
    )


def _milestones(db: Session, order: WorkOrder, now: datetime) -> dict[Milestone, Any]:
    return {m.milestone: m for m in order_milestones(db, order_id=order.id or 0, now=now)}


def test_a_business_hours_policy_counts_only_the_station_s_working_time(
    db: Session, shop: Station, new_order: Any
) -> None:
    db.add(
        SlaPolicyRule(
            order_type=OrderType.REPAIR,
            milestones=[{"kind": "acknowledge", "hours": 2, "basis": "business"}],
            created_at=cst(2025, 1, 1),
        )
    )
    db.commit()
    order = new_order(cst(2025, 9, 30, 16, 0))

    _move(db, order, OrderStatus.ASSIGNED, cst(2025, 9, 30, 17, 0), shop)

    acknowledge = _milestones(db, order, cst(2025, 10, 3))[Milestone.ACKNOWLEDGE]
    assert acknowledge.due_at == cst(2025, 10, 9, 9, 30)  # one hour left before the holiday
    assert acknowledge.warn_at == cst(2025, 10, 9, 9, 0)  # at 75 % of the two hours
    assert acknowledge.state is MilestoneState.PENDING


def test_the_default_milestones_start_and_are_met_as_the_order_moves(
    db: Session, shop: Station, new_order: Any
) -> None:
    reported = cst(2025, 9, 4, 9, 0)
    order = new_order(reported)
    _move(db, order, OrderStatus.ASSIGNED, reported + timedelta(minutes=10), shop)
    _move(db, order, OrderStatus.ACCEPTED, reported + timedelta(minutes=100), shop)

    clocks = _milestones(db, order, reported + timedelta(minutes=200))

    assert clocks[Milestone.ACKNOWLEDGE].met_at == reported + timedelta(minutes=100)
    assert clocks[Milestone.ACKNOWLEDGE].state is MilestoneState.MET
    assert clocks[Milestone.CONTACT].due_at == reported + timedelta(minutes=220)
    assert clocks[Milestone.CONTACT].state is MilestoneState.WARNING  # 100 of 120 minutes gone
    assert clocks[Milestone.ON_SITE].due_at == reported + timedelta(minutes=10, hours=24)
    assert clocks[Milestone.REPAIR].due_at == reported + timedelta(days=5)


def test_waiting_for_parts_pauses_the_on_site_clock_but_never_the_5_day_one(
    db: Session, shop: Station, new_order: Any
) -> None:
    reported = cst(2025, 9, 4, 9, 0)
    order = new_order(reported)
    for to, hours in (
        (OrderStatus.ASSIGNED, 0),
        (OrderStatus.ACCEPTED, 1),
        (OrderStatus.CONTACTED, 2),
        (OrderStatus.WAITING_PARTS, 3),  # diagnosed on the phone: a part is needed first
    ):
        _move(db, order, to, reported + timedelta(hours=hours), shop)

    during = _milestones(db, order, reported + timedelta(hours=30))
    # The parts arrive: the customer is called again (the clock runs again) and visited.
    _move(db, order, OrderStatus.CONTACTED, reported + timedelta(hours=52), shop)
    _book_visit(db, order, reported + timedelta(hours=52))
    _move(db, order, OrderStatus.IN_SERVICE, reported + timedelta(hours=53), shop)
    after = _milestones(db, order, reported + timedelta(hours=54))

    assert during[Milestone.ON_SITE].paused_since == reported + timedelta(hours=3)
    assert during[Milestone.ON_SITE].paused_seconds == 27 * 3600
    assert during[Milestone.ON_SITE].state is MilestoneState.PENDING  # past its old due, paused
    assert during[Milestone.REPAIR].paused_since is None
    assert during[Milestone.REPAIR].due_at == reported + timedelta(days=5)
    # 21 h were left when the parts were ordered; the visit came 1 h into the resumed clock.
    assert after[Milestone.ON_SITE].paused_seconds == 49 * 3600
    assert after[Milestone.ON_SITE].due_at == reported + timedelta(hours=73)
    assert after[Milestone.ON_SITE].state is MilestoneState.MET
    assert after[Milestone.REPAIR].due_at == reported + timedelta(days=5)


def test_a_cancelled_order_stops_its_clocks(db: Session, shop: Station, new_order: Any) -> None:
    reported = cst(2025, 9, 4, 9, 0)
    order = new_order(reported)
    _move(db, order, OrderStatus.ASSIGNED, reported, shop)
    _move(db, order, OrderStatus.CANCELLED, reported + timedelta(hours=1), shop)

    clocks = _milestones(db, order, reported + timedelta(days=9))

    assert {m.state for m in clocks.values()} == {MilestoneState.STOPPED}


def test_the_sweep_marks_each_warning_and_breach_once_and_escalates_the_5_day_breach(
    db: Session, shop: Station, new_order: Any, bus: redis.Redis
) -> None:
    bind_events(db, EventBus(bus))
    reported = cst(2025, 9, 4, 9, 0)
    order = new_order(reported)
    _move(db, order, OrderStatus.ASSIGNED, reported, shop)

    first = sweep(db, now=reported + timedelta(minutes=95))  # acknowledge: warning
    again = sweep(db, now=reported + timedelta(minutes=96))
    late = sweep(db, now=reported + timedelta(days=5, minutes=1))  # everything due

    assert (first.warned, first.breached, again.warned, again.breached) == (1, 0, 0, 0)
    assert (late.breached, late.escalated) == (3, 1)  # acknowledge, on site, repair
    names = [fields["name"] for _id, fields in bus.xrange("callcenter:events")]
    assert names.count("sla.warning") == 1
    assert names.count("sla.breached") == 3
    assert names.count("sla.escalated") == 1
    escalation = db.exec(select(Escalation).where(Escalation.order_id == order.id)).one()
    assert escalation.soothing_call_due_at == reported + timedelta(days=6, minutes=1)


# Two sweeps at once, in two processes, on a database they share

ORDERS = 300
"""Enough rows, in batches of 7, that the two sweeps' batches interleave on PostgreSQL
(without the sweep's guard, this test announced 400-500 milestones twice there). SQLite
takes one writer at a time, so there the two sweeps simply follow each other."""


def _sweep_in_process(
    url: str, redis_url: str, stream: str, now: datetime, start: Any, results: Any
) -> None:
    engine = make_engine(url)
    try:
        # As the worker's sessions are: writers, which on SQLite take the lock as they begin.
        with ServiceSession(writer(engine), expire_on_commit=False) as session:
            bind_events(session, EventBus(redis.Redis.from_url(redis_url), stream=stream))
            start.wait()
            result = sweep(session, now=now, batch=7)
        results.put(result.warned + result.breached)
    except Exception as exc:
        results.put(repr(exc))
    finally:
        engine.dispose()


def test_two_sweeps_at_once_in_two_processes_announce_each_milestone_once(
    fresh_database: str, redis_url: str
) -> None:
    engine: Engine = make_engine(fresh_database)
    reported = cst(2025, 9, 4, 9, 0)
    with Session(engine) as session:
        station = Station(code="SW1", name="s", created_at=reported)
        session.add(station)
        session.commit()
        for index in range(ORDERS):
            order = WorkOrder(
                number=f"WO-SWEEP-{index}",
                customer_id=_customer(session, reported),
                order_type=OrderType.REPAIR,
                service_mode="on_site",
                channel="phone",
                warranty_status="in_warranty",
                station_id=station.id,
                created_at=reported,
                updated_at=reported,
            )
            session.add(order)
            session.flush()
            for kind, due_hours in ((Milestone.ACKNOWLEDGE, 2), (Milestone.REPAIR, 120)):
                due = reported + timedelta(hours=due_hours)
                warn = reported + timedelta(hours=due_hours * 0.75)
                session.add(
                    SlaClockRow(
                        order_id=order.id or 0,
                        kind=kind,
                        basis="wall_clock",
                        started_at=reported,
                        due_at=due,
                        warn_at=warn,
                        next_check_at=warn,
                    )
                )
        session.commit()
    engine.dispose()
    stream = f"test-sweep-{uuid.uuid4().hex}"
    now = reported + timedelta(hours=100)  # acknowledge breached, repair in warning
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    sweepers = [
        context.Process(
            target=_sweep_in_process,
            args=(fresh_database, redis_url, stream, now, start, results),
        )
        for _ in range(2)
    ]
    for sweeper in sweepers:
        sweeper.start()
    counts = [results.get(timeout=120) for _ in sweepers]
    for sweeper in sweepers:
        sweeper.join(timeout=30)

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    names = [fields["name"] for _id, fields in client.xrange(stream)]
    client.delete(stream)
    assert sum(counts) == 2 * ORDERS
    assert names.count("sla.breached") == ORDERS
    assert names.count("sla.warning") == ORDERS


def _customer(session: Session, at: datetime) -> int:
    from orders.models import Customer

    customer = Customer(name="客户", created_at=at, updated_at=at)
    session.add(customer)
    session.flush()
    return customer.id or 0


# The routes


def test_the_sla_route_shows_the_milestones_to_those_who_see_the_order(
    client: TestClient, db: Session, shop: Station, new_order: Any, make_user: Any
) -> None:
    order = new_order(cst(2025, 9, 4, 9, 0))
    _move(db, order, OrderStatus.ASSIGNED, cst(2025, 9, 4, 9, 0), shop)
    other = Station(code="XX", name="x", created_at=cst(2025, 1, 1))
    db.add(other)
    db.commit()

    ours = client.get(
        f"/api/orders/{order.id}/sla",
        headers=bearer(make_user(Role.STATION, station_id=shop.id)),
    )
    theirs = client.get(
        f"/api/orders/{order.id}/sla",
        headers=bearer(make_user(Role.STATION, station_id=other.id)),
    )

    assert ours.status_code == 200, ours.text
    assert [m["milestone"] for m in ours.json()] == ["repair", "acknowledge", "on_site"]
    assert set(ours.json()[0]) == {
        "milestone",
        "basis",
        "started_at",
        "due_at",
        "warn_at",
        "met_at",
        "paused_since",
        "paused_seconds",
        "state",
    }
    assert theirs.status_code == 404


def test_a_station_files_the_reason_for_a_late_repair(
    client: TestClient, db: Session, shop: Station, new_order: Any, make_user: Any
) -> None:
    reported = cst(2025, 9, 4, 9, 0)
    order = new_order(reported)
    _move(db, order, OrderStatus.ASSIGNED, reported, shop)
    sweep(db, now=reported + timedelta(days=6))
    station_user = bearer(make_user(Role.STATION, station_id=shop.id))

    filed = client.post(
        f"/api/orders/{order.id}/escalation/reason",
        json={"reason": "压缩机缺货，厂家预计三天到货"},
        headers=station_user,
    )
    loaner = client.post(
        f"/api/orders/{order.id}/escalation/loaner",
        json={"accepted": True, "note": "备用冰箱已送达"},
        headers=station_user,
    )
    listed = client.get("/api/escalations", headers=bearer(make_user(Role.SUPERVISOR)))
    empty = client.post(
        f"/api/orders/{order.id}/escalation/reason", json={"reason": " "}, headers=station_user
    )

    assert filed.status_code == 200, filed.text
    assert loaner.json()["loaner_accepted"] is True
    assert [(e["order_id"], e["number"], e["reason"]) for e in listed.json()] == [
        (order.id, order.number, "压缩机缺货，厂家预计三天到货")
    ]
    assert empty.status_code == 422


def test_the_hotline_soothes_the_customer_and_the_repair_closes_the_escalation(
    client: TestClient, db: Session, shop: Station, new_order: Any, make_user: Any
) -> None:
    reported = cst(2025, 9, 4, 9, 0)
    order = new_order(reported)
    _move(db, order, OrderStatus.ASSIGNED, reported, shop)
    sweep(db, now=reported + timedelta(days=6))
    agent = bearer(make_user(Role.AGENT))
    station_user = bearer(make_user(Role.STATION, station_id=shop.id))

    by_station = client.post(
        f"/api/orders/{order.id}/escalation/soothing-call",
        json={"note": "自己打的"},
        headers=station_user,
    )
    soothed = client.post(
        f"/api/orders/{order.id}/escalation/soothing-call",
        json={"note": "已致歉并说明配件到货时间，用户表示理解"},
        headers=agent,
    )
    for step, hours in (
        (OrderStatus.ACCEPTED, 1),
        (OrderStatus.CONTACTED, 2),
        (OrderStatus.IN_SERVICE, 3),
        (OrderStatus.COMPLETED, 4),
    ):
        _move(db, order, step, reported + timedelta(days=6, hours=hours), shop)
    still_open = client.get("/api/escalations", headers=agent).json()
    every = client.get("/api/escalations?open=false", headers=agent).json()

    assert by_station.status_code == 403
    assert soothed.status_code == 200, soothed.text
    assert soothed.json()["soothing_call_done_at"] is not None
    assert soothed.json()["soothing_call_note"] == "已致歉并说明配件到货时间，用户表示理解"
    assert still_open == []
    assert [e["closed_at"] for e in every] == [
        (reported + timedelta(days=6, hours=4)).isoformat().replace("+00:00", "Z")
    ]


def test_closures_are_read_from_the_station(db: Session, shop: Station, new_order: Any) -> None:
    db.add(
        SlaPolicyRule(
            milestones=[{"kind": "acknowledge", "hours": 2, "basis": "business"}],
            created_at=cst(2025, 1, 1),
        )
    )
    db.add(StationClosure(station_id=shop.id or 0, day=date(2025, 9, 5), reason="盘点"))
    db.commit()
    order = new_order(cst(2025, 9, 4, 16, 0))

    _move(db, order, OrderStatus.ASSIGNED, cst(2025, 9, 4, 17, 0), shop)

    due = _milestones(db, order, cst(2025, 9, 4, 17, 0))[Milestone.ACKNOWLEDGE].due_at
    assert due == cst(2025, 9, 8, 9, 30)
