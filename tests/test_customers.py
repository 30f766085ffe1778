"""Customers through the API, and the caller-ID lookup that drives the screen pop."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import Session, func, select

from orders.enums import ApplianceCategory, OrderStatus
from orders.models import Customer
from orders.schemas import SYSTEM, AddressIn, OrderFilters, OrderSummary, TransitionIn
from orders.services import appliances, complaints, customers, lookup, work_orders
from tests.conftest import TestClock

NEW_CUSTOMER = {
    "name": "李秀英",
    "phones": [{"number": "+86 139 1234 5678", "label": "mobile"}, {"number": "010-6552 1234"}],
    "addresses": [
        {"province": "北京市", "city": "北京市", "district": "海淀区", "street": "中关村大街1号"}
    ],
    "notes": "只在下午接电话",
}


def test_create_and_read_customer(client: TestClient, headers: dict[str, Any]) -> None:
    created = client.post("/api/customers", json=NEW_CUSTOMER, headers=headers["agent"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert [p["e164"] for p in body["phones"]] == ["+8613912345678", "+861065521234"]
    assert body["addresses"][0]["is_primary"] is True
    fetched = client.get(f"/api/customers/{body['id']}", headers=headers["agent"])
    assert fetched.json()["name"] == "李秀英"


@pytest.mark.parametrize("query", ["13912345678", "+86 139 1234 5678", "0086-139-1234-5678"])
def test_search_by_phone_in_any_format(
    client: TestClient, headers: dict[str, Any], query: str
) -> None:
    client.post("/api/customers", json=NEW_CUSTOMER, headers=headers["agent"])
    found = client.get("/api/customers", params={"phone": query}, headers=headers["agent"])
    assert found.status_code == 200
    assert [c["name"] for c in found.json()["items"]] == ["李秀英"]


def test_search_by_name_is_paginated(
    client: TestClient, headers: dict[str, Any], make_customer: Any
) -> None:
    for index in range(5):
        make_customer(name=f"张伟{index}", phones=(f"1380013800{index}",))
    page = client.get(
        "/api/customers", params={"name": "张伟", "limit": 2, "offset": 2}, headers=headers["agent"]
    ).json()
    assert page["total"] == 5
    assert [c["name"] for c in page["items"]] == ["张伟2", "张伟3"]


def test_update_replaces_phones(
    client: TestClient, headers: dict[str, Any], make_customer: Any
) -> None:
    customer = make_customer()
    response = client.patch(
        f"/api/customers/{customer.id}",
        json={"phones": [{"number": "13700137000"}], "notes": "VIP"},
        headers=headers["agent"],
    )
    assert response.status_code == 200, response.text
    assert [p["e164"] for p in response.json()["phones"]] == ["+8613700137000"]
    assert response.json()["name"] == customer.name


def test_invalid_phone_is_refused_and_nothing_written(
    client: TestClient, headers: dict[str, Any], db: Session
) -> None:
    before = db.exec(select(func.count()).select_from(Customer)).one()
    body = {**NEW_CUSTOMER, "phones": [{"number": "13800138000"}, {"number": "12345"}]}
    response = client.post("/api/customers", json=body, headers=headers["agent"])
    assert response.status_code == 422
    assert response.json()["error_id"] == "invalid_phone_number"
    assert "12345" in response.json()["message"]
    assert db.exec(select(func.count()).select_from(Customer)).one() == before


@pytest.mark.parametrize(
    "caller_id", ["13800138000", "+8613800138000", "0086-138-0013-8000", "+86 138 0013 8000"]
)
def test_lookup_finds_returning_customer_from_each_format(
    db: Session,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
    caller_id: str,
    clock: TestClock,
) -> None:
    customer = make_customer(name="王建国", phones=("138 0013 8000",))
    appliance = make_appliance(customer.id)
    order = make_order(customer.id, appliance.id, fault_description="不脱水")
    result = lookup.lookup_caller(db, phone=caller_id, clock=clock)
    assert result.phone == "+8613800138000"
    [card] = result.customers
    assert card.name == "王建国"
    assert [a.id for a in card.appliances] == [appliance.id]
    assert card.appliances[0].warranty_status == "in_warranty"
    assert [o.number for o in card.open_orders] == [order.number]
    assert card.open_complaints == 0
    assert card.last_satisfaction_score is None


def test_lookup_of_shared_number_returns_every_customer(
    db: Session, make_customer: Any, clock: TestClock
) -> None:
    make_customer(name="陈静", phones=("010-6552 1234",))
    make_customer(name="陈浩", phones=("01065521234", "13600136000"))
    result = lookup.lookup_caller(db, phone="+861065521234", clock=clock)
    assert sorted(c.name for c in result.customers) == ["陈浩", "陈静"]


def test_lookup_unknown_and_withheld_numbers_find_nobody(
    db: Session, make_customer: Any, clock: TestClock
) -> None:
    make_customer()
    assert lookup.lookup_caller(db, phone="13900000000", clock=clock).customers == []
    assert lookup.lookup_caller(db, phone="anonymous", clock=clock).customers == []


def test_lookup_lists_open_orders_last_ten_and_complaints(
    db: Session, make_customer: Any, make_appliance: Any, make_order: Any, clock: TestClock
) -> None:
    customer = make_customer()
    appliance = make_appliance(customer.id)
    orders = [make_order(customer.id, appliance.id) for _ in range(12)]
    work_orders.transition_order(
        db,
        order_id=orders[0].id,
        data=TransitionIn(to=OrderStatus.CANCELLED),
        actor=SYSTEM,
        clock=clock,
    )
    complaints.log_complaint(
        db, customer_id=customer.id, topic="服务态度", actor=SYSTEM, clock=clock
    )
    [card] = lookup.lookup_caller(db, phone="13800138000", clock=clock).customers
    assert len(card.open_orders) == 11
    assert orders[0].id not in {o.id for o in card.open_orders}
    assert [o.id for o in card.recent_orders] == [o.id for o in reversed(orders[2:])]
    assert card.open_complaints == 1


def test_lookup_over_http(client: TestClient, headers: dict[str, Any], make_customer: Any) -> None:
    make_customer(name="赵敏")
    response = client.get("/api/lookup", params={"phone": "13800138000"}, headers=headers["agent"])
    assert response.status_code == 200
    assert response.json()["customers"][0]["name"] == "赵敏"


def test_lookup_card_shows_what_the_other_routes_show(
    db: Session, make_customer: Any, make_appliance: Any, make_order: Any, clock: TestClock
) -> None:
    """The screen pop builds its lists in SQL; each must equal the row-by-row services.

    On PostgreSQL the session's time zone is set away from UTC, so that timestamps written
    into the statement's JSON carry an offset that the lookup must turn back into UTC.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.connection().exec_driver_sql("SET LOCAL TIME ZONE 'Asia/Shanghai'")
    # Someone else's history, newer than the caller's, which must not leak into the card.
    neighbour = make_customer(name="周杰", phones=("13700137000",))
    for _ in range(3):
        make_order(neighbour.id, make_appliance(neighbour.id).id)
    address = {
        "province": "上海市",
        "city": "上海市",
        "district": "浦东新区",
        "street": "世纪大道100号",
    }
    customer = make_customer(
        name="孙丽",
        phones=("021-6888 1234", "13900139000"),
        addresses=[AddressIn(**address), AddressIn(**address | {"street": "张杨路500号"})],
        title="女士",
        notes="下午接电话",
    )
    today = clock().date()
    in_warranty = make_appliance(customer.id, purchase_date=today - timedelta(days=30))
    extended = make_appliance(
        customer.id,
        category=ApplianceCategory.AIR_CONDITIONER,
        purchase_date=date(2019, 5, 1),
        extended_warranty_until=today + timedelta(days=365),
    )
    no_invoice = make_appliance(
        customer.id, has_invoice=False, purchase_date=None, manufacture_date=date(2018, 1, 1)
    )
    for appliance in (in_warranty, extended, no_invoice, in_warranty):
        make_order(customer.id, appliance.id, fault_description=f"故障 {appliance.serial}")
    make_order(neighbour.id, make_appliance(neighbour.id).id)
    orders = work_orders.list_orders(
        db, filters=OrderFilters(customer_id=customer.id), viewer=SYSTEM
    )[0]
    work_orders.transition_order(
        db,
        order_id=orders[1].id,
        data=TransitionIn(to=OrderStatus.CANCELLED),
        actor=SYSTEM,
        clock=clock,
    )

    [card] = lookup.lookup_caller(db, phone="13900139000", clock=clock).customers
    db.expire_all()
    shown = customers.get_customer(db, customer_id=customer.id)
    listed, _ = work_orders.list_orders(
        db, filters=OrderFilters(customer_id=customer.id), viewer=SYSTEM
    )
    summaries = [OrderSummary.model_validate(order.model_dump()) for order in listed]
    assert (card.id, card.name, card.title, card.notes) == (
        customer.id,
        "孙丽",
        "女士",
        "下午接电话",
    )
    assert _json(card.phones) == _json(shown.phones)
    assert _json(card.addresses) == _json(shown.addresses)
    assert _json(card.appliances) == _json(
        appliances.list_appliances(db, customer_id=customer.id, clock=clock)
    )
    assert [a.warranty_status for a in card.appliances] == [
        "in_warranty",
        "extended",
        "out_of_warranty",
    ]
    assert _json(card.recent_orders) == _json(summaries)
    assert _json(card.open_orders) == _json([o for o in summaries if o.status != "cancelled"])
    assert all(o.created_at.utcoffset() == timedelta(0) for o in card.recent_orders)


def _json(models: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [model.model_dump(mode="json") for model in models]
