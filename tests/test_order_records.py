"""The rest of an order's life: a machine taken back to the station (拉修) against a
handover slip and returned against the customer's signature; parts arriving for an
on-site repair send the order back to the customer for a new visit; a station's request
to cancel an order fixed by phone, reviewed by the hotline (审核后删单); installation and
maintenance visits that complete only with their record (装机单, 保护保养记录)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from orders import SYSTEM, Role
from orders.enums import OrderStatus, OrderType
from orders.models import WorkOrder
from orders.schemas import OrderCreate, TransitionIn
from orders.services import work_orders
from tests.conftest import bearer, fixed_clock

NOW = datetime(2025, 9, 4, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def _order_at(
    db: Session,
    station: Any,
    make_customer: Any,
    make_appliance: Any,
    *steps: OrderStatus,
    order_type: OrderType = OrderType.REPAIR,
) -> Any:
    customer = make_customer()
    order = work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id,
            appliance_id=make_appliance(customer.id, purchase_date=date(2025, 1, 1)).id,
            order_type=order_type,
        ),
        actor=SYSTEM,
        clock=fixed_clock(NOW),
    )
    for step in steps:
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=fixed_clock(NOW),
        )
    return order


ON_SITE = (
    OrderStatus.ASSIGNED,
    OrderStatus.ACCEPTED,
    OrderStatus.CONTACTED,
    OrderStatus.IN_SERVICE,
)


def _move(client: TestClient, order: Any, to: str, headers: dict[str, str]) -> Any:
    return client.post(f"/api/orders/{order.id}/transitions", json={"to": to}, headers=headers)


def _status(db: Session, order: Any) -> OrderStatus:
    row = db.get(WorkOrder, order.id)
    assert row is not None
    db.refresh(row)
    return row.status


SLIP = {
    "customer_consented": True,
    "handed_over_by": "王建国",
    "condition": "外壳左侧划痕，滚筒不转",
    "accessories": "进水管一根",
    "expected_back": "2025-09-10",
}


def test_a_machine_taken_back_to_the_station_is_returned_against_the_customers_signature(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _order_at(db, station, make_customer, make_appliance, *ON_SITE)
    staff = bearer(make_user(Role.STATION, station_id=station.id))

    refused = client.post(
        f"/api/orders/{order.id}/handover",
        json=SLIP | {"customer_consented": False},
        headers=staff,
    )
    taken = client.post(f"/api/orders/{order.id}/handover", json=SLIP, headers=staff)
    twice = client.post(f"/api/orders/{order.id}/handover", json=SLIP, headers=staff)
    # At the station the parts go straight into the machine: no visit to book.
    steps = [
        _move(client, order, to, staff).status_code
        for to in ("waiting_parts", "in_service", "completed", "ready_for_pickup")
    ]
    unsigned = _move(client, order, "picked_up", staff)
    returned = client.post(
        f"/api/orders/{order.id}/handover/return",
        json={"received_by": "王建国", "customer_feedback": "修好了，很满意"},
        headers=staff,
    )
    again = client.post(
        f"/api/orders/{order.id}/handover/return", json={"received_by": "王建国"}, headers=staff
    )
    slips = client.get(f"/api/orders/{order.id}/handover", headers=staff).json()

    assert refused.status_code == 409
    assert refused.json()["details"] == {"field": "customer_consented"}
    assert taken.status_code == 201, taken.text
    assert twice.status_code == 409  # the order is a carry-in one now
    assert steps == [200, 200, 200, 200]
    assert unsigned.status_code == 409
    assert unsigned.json()["error_id"] == "invalid_handover"
    assert returned.status_code == 200, returned.text
    assert again.status_code == 409
    assert _status(db, order) is OrderStatus.PICKED_UP
    assert len(slips) == 1
    assert slips[0]["condition"] == "外壳左侧划痕，滚筒不转"
    assert slips[0]["expected_back"] == "2025-09-10"
    assert slips[0]["received_by"] == "王建国"
    assert slips[0]["customer_feedback"] == "修好了，很满意"
    assert slips[0]["returned_at"] is not None


def test_a_machine_is_not_taken_back_before_the_engineer_has_seen_it(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _order_at(db, station, make_customer, make_appliance, *ON_SITE[:2])
    staff = bearer(make_user(Role.STATION, station_id=station.id))

    answer = client.post(f"/api/orders/{order.id}/handover", json=SLIP, headers=staff)

    assert answer.status_code == 409
    assert client.get(f"/api/orders/{order.id}/handover", headers=staff).json() == []


def test_parts_for_an_on_site_repair_send_the_order_back_to_the_customer_for_a_new_visit(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _order_at(
        db, station, make_customer, make_appliance, *ON_SITE, OrderStatus.WAITING_PARTS
    )
    staff = bearer(make_user(Role.STATION, station_id=station.id))

    straight_back = _move(client, order, "in_service", staff)
    recontacted = _move(client, order, "contacted", staff)
    no_visit_booked = _move(client, order, "in_service", staff)
    start = NOW + timedelta(days=2)
    booked = client.post(
        f"/api/orders/{order.id}/appointments",
        json={
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat(),
        },
        headers=staff,
    )
    visit = _move(client, order, "in_service", staff)
    appointments = client.get(f"/api/orders/{order.id}/appointments", headers=staff).json()

    assert straight_back.status_code == 409
    assert "in_service" not in straight_back.json()["details"]["allowed"]
    assert recontacted.status_code == 200
    assert no_visit_booked.status_code == 409
    assert no_visit_booked.json()["details"]["needs"] == "appointment"
    assert booked.status_code == 201, booked.text
    assert visit.status_code == 200, visit.text
    assert [a["status"] for a in appointments] == ["kept"]


def test_a_station_asks_to_cancel_an_order_fixed_by_phone_and_the_hotline_decides(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _order_at(db, station, make_customer, make_appliance, *ON_SITE[:3])
    kept = _order_at(db, station, make_customer, make_appliance, *ON_SITE[:3])
    staff = bearer(make_user(Role.STATION, station_id=station.id))
    other_station = bearer(make_user(Role.STATION, station_id=None))
    agent = bearer(make_user(Role.AGENT))

    by_itself = _move(client, order, "cancelled", staff)
    asked = client.post(
        f"/api/orders/{order.id}/cancellation-requests",
        json={"reason": "fixed_by_phone", "note": "指导用户重置电源后恢复正常"},
        headers=staff,
    )
    asked_twice = client.post(
        f"/api/orders/{order.id}/cancellation-requests",
        json={"note": "再次申请"},
        headers=staff,
    )
    asked_kept = client.post(
        f"/api/orders/{kept.id}/cancellation-requests",
        json={"note": "用户说好了"},
        headers=staff,
    )
    desk = client.get("/api/cancellation-requests", headers=agent).json()
    foreign = client.get("/api/cancellation-requests", headers=other_station).json()
    station_reviews = client.post(
        f"/api/cancellation-requests/{asked.json()['id']}/review",
        json={"approve": True, "customer_confirmed": True, "note": "自己批"},
        headers=staff,
    )
    unconfirmed = client.post(
        f"/api/cancellation-requests/{asked.json()['id']}/review",
        json={"approve": True, "note": "未回访"},
        headers=agent,
    )
    status_before_review = _status(db, order)
    approved = client.post(
        f"/api/cancellation-requests/{asked.json()['id']}/review",
        json={"approve": True, "customer_confirmed": True, "note": "回访用户确认已恢复"},
        headers=agent,
    )
    rejected = client.post(
        f"/api/cancellation-requests/{asked_kept.json()['id']}/review",
        json={"approve": False, "note": "用户表示仍有异响，需上门"},
        headers=agent,
    )
    reviewed_again = client.post(
        f"/api/cancellation-requests/{asked.json()['id']}/review",
        json={"approve": False, "note": "改主意"},
        headers=agent,
    )
    detail = client.get(f"/api/orders/{order.id}", headers=agent).json()
    clocks = client.get(f"/api/orders/{order.id}/sla", headers=agent).json()

    assert by_itself.status_code == 403
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending"
    assert asked_twice.status_code == 409
    assert [r["order_number"] for r in desk] == [order.number, kept.number]
    assert foreign == []
    assert station_reviews.status_code == 403
    assert unconfirmed.status_code == 409
    assert status_before_review is OrderStatus.CONTACTED
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert detail["status"] == "cancelled"
    assert "fixed_by_phone" in detail["history"][-1]["note"]
    assert {m["state"] for m in clocks if m["met_at"] is None} == {"stopped"}
    assert rejected.json()["status"] == "rejected"
    assert _status(db, kept) is OrderStatus.CONTACTED
    assert reviewed_again.status_code == 409
    assert client.get("/api/cancellation-requests", headers=agent).json() == []


def test_an_installation_completes_only_with_its_installation_record(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _order_at(
        db, station, make_customer, make_appliance, *ON_SITE[:3], order_type=OrderType.INSTALLATION
    )
    staff = bearer(make_user(Role.STATION, station_id=station.id))
    record = {
        "unboxing_ok": True,
        "unboxing_notes": "外包装完好，配件齐全",
        "commissioned": True,
        "training_given": True,
        "customer_confirmed_by": "王建国",
    }

    too_early = client.post(
        f"/api/orders/{order.id}/installation-record", json=record, headers=staff
    )
    _move(client, order, "in_service", staff)
    unrecorded = _move(client, order, "completed", staff)
    filed = client.post(f"/api/orders/{order.id}/installation-record", json=record, headers=staff)
    wrong_kind = client.post(
        f"/api/orders/{order.id}/maintenance-record",
        json={"work_done": "清洗", "customer_confirmed_by": "王建国"},
        headers=staff,
    )
    completed = _move(client, order, "completed", staff)
    read = client.get(f"/api/orders/{order.id}/installation-record", headers=staff)

    assert too_early.status_code == 409
    assert unrecorded.status_code == 409
    assert unrecorded.json()["error_id"] == "service_record_missing"
    assert filed.status_code == 201, filed.text
    assert wrong_kind.status_code == 409
    assert completed.status_code == 200, completed.text
    assert read.json()["unboxing_notes"] == "外包装完好，配件齐全"
    assert read.json()["customer_confirmed_by"] == "王建国"
    assert read.json()["recorded_at"] is not None


def test_a_repair_completes_without_any_record(
    client: TestClient,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    order = _order_at(db, station, make_customer, make_appliance, *ON_SITE)
    staff = bearer(make_user(Role.STATION, station_id=station.id))

    assert _move(client, order, "completed", staff).status_code == 200
    assert (
        client.get(f"/api/orders/{order.id}/installation-record", headers=staff).status_code == 204
    )
