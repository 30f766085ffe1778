"""The station's board: its own open jobs only, an engineer's own jobs only, the moves
the station may make on each, and each engineer's open load for the assign list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from orders import SYSTEM, Actor, Role, StationNotFound, station_board
from orders.enums import OrderStatus
from orders.models import Engineer, Station, WorkOrder
from orders.schemas import AppointmentIn, TransitionIn
from orders.services import appointments, work_orders
from tests.conftest import OPEN_HOURS, bearer, fixed_clock


@pytest.fixture
def stations(db: Session) -> tuple[Station, Station]:
    ours = Station(code="CY01", name="朝阳服务站", created_at=OPEN_HOURS)
    theirs = Station(code="HD01", name="海淀服务站", created_at=OPEN_HOURS)
    db.add_all([ours, theirs])
    db.commit()
    return ours, theirs


def _order(
    db: Session,
    clock: Any,
    make: Any,
    customer: Any,
    appliance: Any,
    station: Station,
    *steps: OrderStatus,
) -> Any:
    order = make(
        customer.id,
        appliance.id,
        order_type="repair",
        service_mode="on_site",
        channel="phone",
        fault_description="不脱水",
    )
    for step in (OrderStatus.ASSIGNED, *steps):
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=clock,
        )
    return order


def test_a_station_sees_its_open_jobs_with_the_moves_it_may_make(
    db: Session,
    clock: Any,
    stations: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> None:
    ours, theirs = stations
    customer = make_customer(name="王建国", title="先生")
    washer = make_appliance(customer.id, brand="海尔", model="XQG100")
    waiting = _order(db, clock, make_order, customer, washer, ours)
    in_service = _order(
        db,
        clock,
        make_order,
        customer,
        washer,
        ours,
        OrderStatus.ACCEPTED,
        OrderStatus.CONTACTED,
        OrderStatus.IN_SERVICE,
    )
    _order(db, clock, make_order, customer, washer, theirs)
    _order(db, clock, make_order, customer, washer, ours, OrderStatus.CANCELLED)

    board = station_board(
        db, viewer=Actor(id=None, name="cy", role=Role.STATION, station_id=ours.id), now=OPEN_HOURS
    )

    assert board.station_name == "朝阳服务站"
    assert {job.number: job.next_steps for job in board.jobs} == {
        waiting.number: [OrderStatus.ACCEPTED],
        in_service.number: [
            OrderStatus.WAITING_PARTS,
            OrderStatus.HARD_TO_REPAIR,
            OrderStatus.COMPLETED,
        ],
    }
    job = board.jobs[0]
    assert (job.customer_name, job.phones, job.address, job.appliance) == (
        "王建国先生",
        ["+8613800138000"],
        "北京市北京市朝阳区建国路88号",
        "海尔 XQG100",
    )


def test_an_engineer_sees_only_their_own_jobs_and_the_station_sees_their_load(
    db: Session,
    clock: Any,
    stations: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
    make_user: Any,
) -> None:
    ours, _ = stations
    login = make_user(Role.ENGINEER, station_id=ours.id)
    li = Engineer(station_id=ours.id, user_id=login.id, name="李师傅", created_at=OPEN_HOURS)
    zhao = Engineer(station_id=ours.id, name="赵师傅", created_at=OPEN_HOURS)
    db.add_all([li, zhao])
    db.commit()
    customer = make_customer()
    washer = make_appliance(customer.id)
    mine = _order(db, clock, make_order, customer, washer, ours)
    other = _order(db, clock, make_order, customer, washer, ours)
    for order, engineer in ((mine, li), (other, zhao)):
        work_order = db.get(WorkOrder, order.id)
        assert work_order is not None
        work_order.engineer_id = engineer.id
        db.add(work_order)
    db.commit()

    engineer_view = station_board(
        db,
        viewer=Actor(id=login.id, name=login.username, role=Role.ENGINEER, station_id=ours.id),
        now=OPEN_HOURS,
    )
    station_view = station_board(
        db, viewer=Actor(id=None, name="cy", role=Role.STATION, station_id=ours.id), now=OPEN_HOURS
    )

    assert [job.number for job in engineer_view.jobs] == [mine.number]
    assert engineer_view.jobs[0].engineer_name == "李师傅"
    assert {(e.name, e.open_jobs) for e in station_view.engineers} == {
        ("李师傅", 1),
        ("赵师傅", 1),
    }


def test_an_engineers_jobs_today_come_first_in_the_order_of_their_visits(
    db: Session,
    clock: Any,
    stations: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
    make_user: Any,
) -> None:
    ours, _ = stations
    login = make_user(Role.ENGINEER, station_id=ours.id)
    li = Engineer(station_id=ours.id, user_id=login.id, name="李师傅", created_at=OPEN_HOURS)
    db.add(li)
    db.commit()
    customer = make_customer()
    washer = make_appliance(customer.id)
    steps = (OrderStatus.ACCEPTED, OrderStatus.CONTACTED)
    oldest = _order(db, clock, make_order, customer, washer, ours, *steps)
    afternoon = _order(db, clock, make_order, customer, washer, ours, *steps)
    morning = _order(db, clock, make_order, customer, washer, ours, *steps)
    tomorrow = _order(db, clock, make_order, customer, washer, ours, *steps)
    # OPEN_HOURS is 10:00 in Shanghai: 14:00, 11:00 and tomorrow 09:00 local.
    for order, hours in ((afternoon, 4), (morning, 1), (tomorrow, 23)):
        appointments.schedule(
            db,
            order_id=order.id,
            data=AppointmentIn(
                window_start=OPEN_HOURS + timedelta(hours=hours),
                window_end=OPEN_HOURS + timedelta(hours=hours + 2),
            ),
            actor=SYSTEM,
            clock=fixed_clock(OPEN_HOURS),
        )
    for order in (oldest, afternoon, morning, tomorrow):
        row = db.get(WorkOrder, order.id)
        assert row is not None
        row.engineer_id = li.id
        db.add(row)
    db.commit()

    jobs = station_board(
        db,
        viewer=Actor(id=login.id, name=login.username, role=Role.ENGINEER, station_id=ours.id),
        now=OPEN_HOURS,
    ).jobs

    assert [(job.number, job.visit_today) for job in jobs] == [
        (morning.number, True),
        (afternoon.number, True),
        (oldest.number, False),
        (tomorrow.number, False),
    ]
    assert jobs[0].visit_start == OPEN_HOURS + timedelta(hours=1)
    assert jobs[3].visit_start == OPEN_HOURS + timedelta(hours=23)
    assert jobs[2].visit_start is None


def test_a_user_without_a_station_has_no_board(db: Session) -> None:
    with pytest.raises(StationNotFound):
        station_board(
            db,
            viewer=Actor(id=None, name="x", role=Role.STATION, station_id=None),
            now=OPEN_HOURS,
        )


def test_the_station_view_is_for_station_staff_only(
    client: TestClient,
    make_user: Any,
    stations: Any,
) -> None:
    ours, _ = stations
    staff = client.get(
        "/api/console/station", headers=bearer(make_user(Role.STATION, station_id=ours.id))
    )
    agent = client.get("/api/console/station", headers=bearer(make_user(Role.AGENT)))

    assert staff.status_code == 200, staff.text
    assert staff.json()["station_name"] == "朝阳服务站"
    assert agent.status_code == 403
