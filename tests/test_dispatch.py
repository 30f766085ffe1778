"""Dispatch on a small region tree: district, city and province matches, the skill filter,
the open-load tie-break, expired certificates, the unassigned list; engineers' jobs,
reassignment by hand and station-reported orders."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from orders import SYSTEM, Role
from orders.enums import ApplianceCategory, OrderStatus
from orders.models import OrderAssignment, WorkOrder
from orders.schemas import (
    AddressIn,
    ApplianceCreate,
    CustomerCreate,
    EngineerCreate,
    OrderCreate,
    PhoneIn,
    RegionIn,
    StationCreate,
)
from orders.services import appliances, customers, stations, work_orders
from tests.conftest import bearer, fixed_clock

NOW = datetime(2025, 9, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shenzhen
CLOCK = fixed_clock(NOW)
VALID = date(2026, 12, 31)
EXPIRED = date(2025, 9, 3)
WASHER = ApplianceCategory.WASHING_MACHINE
FRIDGE = ApplianceCategory.REFRIGERATOR


@pytest.fixture
def tree(db: Session) -> dict[str, Any]:
    """Nanshan (a district station), Shenzhen (the whole city), Guangdong (the province)."""

    def station(code: str, *regions: RegionIn) -> Any:
        return stations.create_station(
            db,
            data=StationCreate(code=code, name=code, regions=list(regions)),
            actor=SYSTEM,
            clock=CLOCK,
        )

    def engineer(at: Any, name: str, *categories: ApplianceCategory, expires: date = VALID) -> Any:
        return stations.create_engineer(
            db,
            data=EngineerCreate(
                station_id=at.id,
                name=name,
                categories=list(categories),
                service_types=["repair", "installation"],
                certificate_no=f"C-{name}",
                certificate_expires=expires,
            ),
            actor=SYSTEM,
            clock=CLOCK,
        )

    nanshan = station("NS", RegionIn(province="广东省", city="深圳市", district="南山区"))
    shenzhen = station("SZ", RegionIn(province="广东省", city="深圳市", urban=False))
    guangdong = station("GD", RegionIn(province="广东省", urban=False))
    return {
        "NS": nanshan,
        "SZ": shenzhen,
        "GD": guangdong,
        "ns-li": engineer(nanshan, "李", WASHER),
        "sz-wang": engineer(shenzhen, "王", WASHER, FRIDGE),
        "gd-zhao": engineer(guangdong, "赵", WASHER, FRIDGE),
        "station": station,
        "engineer": engineer,
    }


def _order(
    db: Session,
    city: str,
    district: str,
    category: ApplianceCategory = WASHER,
    province: str = "广东省",
) -> WorkOrder:
    customer = customers.create_customer(
        db,
        data=CustomerCreate(
            name="客户",
            phones=[PhoneIn(number="13800138000")],
            addresses=[
                AddressIn(
                    province=province,
                    city=city,
                    district=district,
                    street="科技园路1号",
                    is_primary=True,
                )
            ],
        ),
        actor=SYSTEM,
        clock=CLOCK,
    )
    appliance = appliances.create_appliance(
        db,
        data=ApplianceCreate(customer_id=customer.id, category=category, brand="海尔"),
        actor=SYSTEM,
        clock=CLOCK,
    )
    created = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=appliance.id),
        actor=SYSTEM,
        clock=CLOCK,
    )
    row = db.get(WorkOrder, created.id)
    assert row is not None
    return row


def _reasons(db: Session, order: WorkOrder) -> list[str]:
    rows = db.exec(select(OrderAssignment).where(OrderAssignment.order_id == order.id)).all()
    return [row.reason for row in rows]


def test_an_order_goes_to_the_station_of_its_district(db: Session, tree: Any) -> None:
    order = _order(db, "深圳市", "南山区")

    assert (order.station_id, order.status, order.urban) == (
        tree["NS"].id,
        OrderStatus.ASSIGNED,
        True,
    )
    assert _reasons(db, order) == ["district 南山区"]


def test_without_a_district_station_the_city_s_station_takes_it(db: Session, tree: Any) -> None:
    order = _order(db, "深圳市", "福田区")

    assert (order.station_id, order.urban) == (tree["SZ"].id, False)
    assert _reasons(db, order) == ["city 深圳市"]


def test_without_a_city_station_the_province_s_station_takes_it(db: Session, tree: Any) -> None:
    order = _order(db, "广州市", "天河区")

    assert order.station_id == tree["GD"].id
    assert _reasons(db, order) == ["province 广东省"]


def test_a_station_without_the_skill_is_passed_over(db: Session, tree: Any) -> None:
    order = _order(db, "深圳市", "南山区", FRIDGE)  # Nanshan repairs washing machines only

    assert order.station_id == tree["SZ"].id


def test_an_engineer_with_an_expired_certificate_is_not_assignable(db: Session, tree: Any) -> None:
    stations.update_engineer(
        db,
        engineer_id=tree["ns-li"].id,
        data=stations.EngineerUpdate(certificate_expires=EXPIRED),
        actor=SYSTEM,
        clock=CLOCK,
    )

    order = _order(db, "深圳市", "南山区")

    assert order.station_id == tree["SZ"].id


def test_of_two_district_stations_the_one_with_less_open_work_wins(db: Session, tree: Any) -> None:
    second = tree["station"]("NS2", RegionIn(province="广东省", city="深圳市", district="南山区"))
    tree["engineer"](second, "周", WASHER)

    first = _order(db, "深圳市", "南山区")  # both empty: the lower id, Nanshan
    then = _order(db, "深圳市", "南山区")  # Nanshan has one open order now

    assert (first.station_id, then.station_id) == (tree["NS"].id, second.id)


def test_an_order_no_station_covers_waits_on_the_unassigned_list(
    db: Session, tree: Any, client: TestClient, make_user: Any
) -> None:
    order = _order(db, "长沙市", "岳麓区", province="湖南省")

    listed = client.get(
        "/api/orders", params={"unassigned": "true"}, headers=bearer(make_user(Role.SUPERVISOR))
    )

    assert (order.status, order.station_id) == (OrderStatus.NEW, None)
    assert _reasons(db, order) == ["no station covers 湖南省 长沙市 岳麓区"]
    assert [o["number"] for o in listed.json()["items"]] == [order.number]


def test_the_station_assigns_by_skill_and_load_and_refuses_an_uncertified_engineer(
    db: Session, tree: Any, client: TestClient, make_user: Any
) -> None:
    expired = tree["engineer"](tree["NS"], "钱", WASHER, expires=EXPIRED)
    order = _order(db, "深圳市", "南山区")
    staff = bearer(make_user(Role.STATION, station_id=tree["NS"].id))

    refused = client.post(
        f"/api/orders/{order.id}/assign-engineer", json={"engineer_id": expired.id}, headers=staff
    )
    other_station = client.post(
        f"/api/orders/{order.id}/assign-engineer",
        json={"engineer_id": tree["sz-wang"].id},
        headers=staff,
    )
    picked = client.post(f"/api/orders/{order.id}/assign-engineer", json={}, headers=staff)

    assert refused.status_code == 409
    assert other_station.status_code == 409
    assert picked.status_code == 200, picked.text
    assert picked.json()["engineer_id"] == tree["ns-li"].id


def test_a_supervisor_reassigns_by_hand_and_every_assignment_is_kept(
    db: Session, tree: Any, client: TestClient, make_user: Any
) -> None:
    order = _order(db, "深圳市", "南山区")
    supervisor = bearer(make_user(Role.SUPERVISOR))

    moved = client.post(
        f"/api/orders/{order.id}/reassign",
        json={"station_id": tree["SZ"].id, "reason": "南山站人手不足"},
        headers=supervisor,
    )
    history = client.get(f"/api/orders/{order.id}/assignments", headers=supervisor)
    no_reason = client.post(
        f"/api/orders/{order.id}/reassign",
        json={"station_id": tree["GD"].id, "reason": ""},
        headers=supervisor,
    )

    assert moved.status_code == 200, moved.text
    assert [(a["station_id"], a["automatic"], a["reason"]) for a in history.json()] == [
        (tree["NS"].id, True, "district 南山区"),
        (tree["SZ"].id, False, "南山站人手不足"),
    ]
    assert no_reason.status_code == 422


def test_an_engineer_sees_only_their_own_jobs(
    db: Session, tree: Any, client: TestClient, make_user: Any
) -> None:
    login = make_user(Role.ENGINEER, station_id=tree["NS"].id)
    mine = tree["engineer"](tree["NS"], "孙", WASHER)
    row = stations.get_engineer_row(db, mine.id)
    row.user_id = login.id
    db.add(row)
    db.commit()
    assigned = _order(db, "深圳市", "南山区")
    other = _order(db, "深圳市", "南山区")
    staff = bearer(make_user(Role.STATION, station_id=tree["NS"].id))
    client.post(
        f"/api/orders/{assigned.id}/assign-engineer", json={"engineer_id": mine.id}, headers=staff
    )
    engineer = bearer(login)

    listed = client.get("/api/orders", headers=engineer)
    hidden = client.get(f"/api/orders/{other.id}", headers=engineer)
    accepted = client.post(
        f"/api/orders/{assigned.id}/transitions", json={"to": "accepted"}, headers=engineer
    )

    assert [o["id"] for o in listed.json()["items"]] == [assigned.id]
    assert hidden.status_code == 404
    assert accepted.status_code == 200, accepted.text


def test_an_order_a_station_takes_itself_is_reported_and_flagged(
    db: Session,
    tree: Any,
    client: TestClient,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    customer = make_customer()
    appliance = make_appliance(customer.id)

    taken = client.post(
        "/api/orders",
        json={"customer_id": customer.id, "appliance_id": appliance.id},
        headers=bearer(make_user(Role.STATION, station_id=tree["GD"].id)),
    )
    reported = client.get(
        "/api/orders", params={"station_reported": "true"}, headers=bearer(make_user(Role.AGENT))
    )

    assert taken.status_code == 201, taken.text
    assert (taken.json()["station_id"], taken.json()["station_reported"]) == (tree["GD"].id, True)
    assert [o["id"] for o in reported.json()["items"]] == [taken.json()["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"working_hours": {"1": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "working_hours"),
        ({"working_hours": {"8": [["09:00", "12:00"]]}}, "working_hours"),
        ({"regions": [{"province": "广东省", "district": "南山区"}]}, "regions"),
    ],
)
def test_a_bad_station_is_refused_with_the_field(
    client: TestClient, make_user: Any, body: dict[str, Any], field: str
) -> None:
    answer = client.post(
        "/api/stations",
        json={"code": "BAD", "name": "坏站", **body},
        headers=bearer(make_user(Role.SUPERVISOR)),
    )

    assert answer.status_code == 422
    assert field in answer.text


def test_a_station_is_created_and_read_back_with_its_map_and_calendar(
    client: TestClient, make_user: Any
) -> None:
    body = {
        "code": "FT",
        "name": "福田站",
        "time_zone": "Asia/Shanghai",
        "working_hours": {"6": [["09:00", "17:00"]]},
        "regions": [{"province": "广东省", "city": "深圳市", "district": "福田区"}],
        "closures": ["2025-09-10"],
    }
    supervisor = bearer(make_user(Role.SUPERVISOR))

    created = client.post("/api/stations", json=body, headers=supervisor)
    read = client.get(f"/api/stations/{created.json()['id']}", headers=supervisor)

    assert created.status_code == 201, created.text
    assert read.json()["regions"] == [
        {"province": "广东省", "city": "深圳市", "district": "福田区", "urban": True}
    ]
    assert read.json()["working_hours"] == {"6": [["09:00", "17:00"]]}
    assert read.json()["closures"] == ["2025-09-10"]


def test_an_engineer_is_updated_and_a_null_leaves_a_required_field_as_it_was(
    client: TestClient, make_user: Any, tree: Any
) -> None:
    supervisor = bearer(make_user(Role.SUPERVISOR))
    li = tree["ns-li"]

    nulls = client.patch(
        f"/api/engineers/{li.id}",
        json={"is_active": None, "name": None, "level": None, "categories": None},
        headers=supervisor,
    )
    changed = client.patch(
        f"/api/engineers/{li.id}",
        json={"level": 3, "certificate_expires": None},
        headers=supervisor,
    )

    assert nulls.status_code == 200, nulls.text
    assert (nulls.json()["is_active"], nulls.json()["name"], nulls.json()["level"]) == (
        True,
        "李",
        1,
    )
    assert nulls.json()["categories"] == [WASHER.value]
    assert changed.status_code == 200, changed.text
    assert (changed.json()["level"], changed.json()["certificate_expires"]) == (3, None)
