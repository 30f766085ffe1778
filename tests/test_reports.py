"""Reports: response and resolution times, open orders by age, complaints by topic; as
JSON and as workbooks that open in openpyxl with the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from orders import SYSTEM
from orders.enums import ApplianceCategory, OrderStatus, ReportGrouping, ReportPeriod, Role
from orders.models import Engineer, Station, WorkOrder
from orders.schemas import OrderCreate, TransitionIn
from orders.services import complaints, reports, work_orders
from tests.conftest import bearer, fixed_clock

REPORTED = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
"""01:00 on 2 June in China: the day a report counts it under."""
JUNE = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))


@pytest.fixture
def stations(db: Session) -> tuple[Station, Station]:
    north = Station(code="N1", name="北站", created_at=REPORTED)
    south = Station(code="S1", name="南站", created_at=REPORTED)
    db.add_all([north, south])
    db.commit()
    return north, south


@pytest.fixture
def report_order(db: Session, make_customer: Any, make_appliance: Any) -> Any:
    customer = make_customer()

    def make(
        station: Station | None,
        steps: list[tuple[OrderStatus, float]],
        *,
        category: ApplianceCategory = ApplianceCategory.WASHING_MACHINE,
        reported: datetime = REPORTED,
    ) -> WorkOrder:
        appliance = make_appliance(customer.id, category=category)
        data = OrderCreate(
            customer_id=customer.id,
            appliance_id=appliance.id,
            order_type="repair",
            service_mode="on_site",
            channel="phone",
        )
        order = work_orders.create_order(db, data=data, actor=SYSTEM, clock=fixed_clock(reported))
        for step, hours in steps:
            work_orders.transition_order(
                db,
                order_id=order.id,
                data=TransitionIn(to=step, station_id=station.id if station else None),
                actor=SYSTEM,
                clock=fixed_clock(reported + timedelta(hours=hours)),
            )
        row = db.get(WorkOrder, order.id)
        assert row is not None
        return row

    return make


DONE = [
    (OrderStatus.ASSIGNED, 0.5),
    (OrderStatus.ACCEPTED, 1.5),
    (OrderStatus.CONTACTED, 2),
    (OrderStatus.IN_SERVICE, 20),
    (OrderStatus.COMPLETED, 26),
]


def test_times_are_the_mean_hours_from_report_to_acknowledgement_and_completion(
    db: Session, stations: Any, report_order: Any
) -> None:
    north, south = stations
    report_order(north, DONE)
    report_order(north, [(OrderStatus.ASSIGNED, 1), (OrderStatus.ACCEPTED, 3.5)])
    report_order(south, [(OrderStatus.ASSIGNED, 1)])
    report_order(None, [])
    report_order(north, DONE, reported=JUNE[1])  # reported after the range

    rows = reports.response_and_resolution(
        db, start=JUNE[0], end=JUNE[1], group_by=ReportGrouping.STATION
    )

    assert [r.model_dump() for r in rows] == [
        {
            "group": "(unassigned)",
            "period": "all",
            "orders": 1,
            "responded": 0,
            "mean_response_hours": None,
            "resolved": 0,
            "mean_resolution_hours": None,
        },
        {
            "group": "N1 北站",
            "period": "all",
            "orders": 2,
            "responded": 2,
            "mean_response_hours": 2.5,
            "resolved": 1,
            "mean_resolution_hours": 26.0,
        },
        {
            "group": "S1 南站",
            "period": "all",
            "orders": 1,
            "responded": 0,
            "mean_response_hours": None,
            "resolved": 0,
            "mean_resolution_hours": None,
        },
    ]


def test_times_by_category_engineer_and_china_s_calendar_day(
    db: Session, stations: Any, report_order: Any
) -> None:
    north, _ = stations
    fridge = report_order(north, DONE, category=ApplianceCategory.REFRIGERATOR)
    report_order(north, DONE[:2])
    engineer = Engineer(station_id=north.id, name="李师傅", created_at=REPORTED)
    db.add(engineer)
    db.flush()
    fridge.engineer_id = engineer.id
    db.add(fridge)
    db.commit()

    by_category = reports.response_and_resolution(
        db, start=JUNE[0], end=JUNE[1], group_by=ReportGrouping.CATEGORY, period=ReportPeriod.DAY
    )
    by_engineer = reports.response_and_resolution(
        db, start=JUNE[0], end=JUNE[1], group_by=ReportGrouping.ENGINEER
    )

    assert [(r.group, r.period, r.orders, r.resolved) for r in by_category] == [
        ("refrigerator", "2026-06-02", 1, 1),
        ("washing_machine", "2026-06-02", 1, 0),
    ]
    assert [(r.group, r.orders) for r in by_engineer] == [("(no engineer)", 1), ("李师傅", 1)]


def test_open_orders_are_counted_by_age_per_station(
    db: Session, stations: Any, report_order: Any
) -> None:
    north, south = stations
    report_order(north, [(OrderStatus.ASSIGNED, 0)])  # 12 h old
    report_order(north, [(OrderStatus.ASSIGNED, 0)], reported=REPORTED - timedelta(days=3))
    report_order(south, [(OrderStatus.ASSIGNED, 0)], reported=REPORTED - timedelta(days=12))
    report_order(north, DONE, reported=REPORTED - timedelta(days=12))  # completed: not open

    rows = reports.open_orders_by_age(db, now=REPORTED + timedelta(hours=12))

    assert [(r.group, r.buckets, r.total) for r in rows] == [
        ("N1 北站", {"0-1d": 1, "1-2d": 0, "2-5d": 1, "5-10d": 0, ">10d": 0}, 2),
        ("S1 南站", {"0-1d": 0, "1-2d": 0, "2-5d": 0, "5-10d": 0, ">10d": 1}, 1),
    ]


def test_complaints_are_counted_by_topic_and_level(db: Session, make_customer: Any) -> None:
    customer = make_customer()
    for topic, level in (("attitude", 1), ("attitude", 1), ("delay", 2)):
        complaints.log_complaint(
            db,
            customer_id=customer.id,
            topic=topic,
            crisis_level=level,
            actor=SYSTEM,
            clock=fixed_clock(REPORTED),
        )

    rows = reports.complaints_by_topic(db, start=JUNE[0], end=JUNE[1])

    assert [(r.topic, r.crisis_level, r.total, r.open) for r in rows] == [
        ("attitude", "1", 2, 2),
        ("delay", "2", 1, 1),
    ]


def test_the_workbook_holds_the_json_s_rows(
    client: TestClient, make_user: Any, stations: Any, report_order: Any
) -> None:
    north, _ = stations
    report_order(north, DONE)
    auth = bearer(make_user(Role.SUPERVISOR))
    query = {"from": JUNE[0].isoformat(), "to": JUNE[1].isoformat()}

    as_json = client.get("/api/reports/times", params=query, headers=auth)
    as_book = client.get("/api/reports/times", params=query | {"format": "xlsx"}, headers=auth)

    assert as_json.status_code == 200, as_json.text
    assert as_book.status_code == 200, as_book.text
    assert as_book.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(as_book.content))
    station_sheet = book["times by station"]
    rows = [list(r) for r in station_sheet.iter_rows(values_only=True)]
    section = as_json.json()["sections"][0]
    assert rows[0] == section["columns"]
    assert rows[1:] == section["rows"] == [["N1 北站", "all", 1, 1, 1.5, 1, 26.0]]
    assert [s.title for s in book.worksheets] == [
        "times by station",
        "times by engineer",
        "times by category",
        "about",
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-06-30T00:00:00+08:00", "2026-06-01T00:00:00+08:00"),
        ("2026-06-01T00:00:00", "2026-06-30T00:00:00"),
        ("2025-01-01T00:00:00+08:00", "2026-06-30T00:00:00+08:00"),
        ("June", "July"),
    ],
)
def test_a_bad_range_is_refused_with_a_reason(
    client: TestClient, make_user: Any, start: str, end: str
) -> None:
    answer = client.get(
        "/api/reports/times",
        params={"from": start, "to": end},
        headers=bearer(make_user(Role.SUPERVISOR)),
    )

    assert answer.status_code == 422
    assert answer.json()["message"]


def test_reports_are_for_supervisors(client: TestClient, make_user: Any) -> None:
    answer = client.get("/api/reports/open-orders", headers=bearer(make_user(Role.AGENT)))

    assert answer.status_code == 403


def test_sla_attainment_counts_each_milestone_due_in_the_range(
    db: Session, stations: Any, report_order: Any, client: TestClient, make_user: Any
) -> None:
    north, _ = stations
    report_order(north, DONE)  # every milestone met in time
    report_order(north, [(OrderStatus.ASSIGNED, 1), (OrderStatus.ACCEPTED, 3.5)])  # late

    rows = {r.milestone.value: r for r in reports.sla_attainment(db, start=JUNE[0], end=JUNE[1])}
    book = client.get(
        "/api/reports/sla",
        params={"from": JUNE[0].isoformat(), "to": JUNE[1].isoformat(), "format": "xlsx"},
        headers=bearer(make_user(Role.SUPERVISOR)),
    )

    assert (rows["acknowledge"].due, rows["acknowledge"].met_on_time) == (2, 1)
    assert (rows["acknowledge"].met_late, rows["acknowledge"].attainment) == (1, 0.5)
    assert (rows["contact"].met_on_time, rows["contact"].missed_open) == (1, 1)
    assert (rows["repair"].due, rows["repair"].met_on_time, rows["repair"].missed_open) == (2, 1, 1)
    sheet = load_workbook(BytesIO(book.content))["sla attainment"]
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1] == [
        "acknowledge",
        2,
        1,
        1,
        0,
        0.5,
    ]
