"""Contacts get a topic and a content in two picks; complaints carry a crisis level, an
owner, a due time by level and a status flow; overdue ones are escalated once; an order
waiting for parts too long raises a potential crisis once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from core.bus import EventBus, bind_events
from orders import SYSTEM, Role
from orders.enums import ComplaintStatus, OrderStatus
from orders.models import Complaint
from orders.schemas import OrderCreate, TransitionIn
from orders.services import complaints, work_orders
from tests.conftest import bearer, fixed_clock

NOW = datetime(2025, 9, 4, 2, 0, tzinfo=UTC)


def test_two_picks_record_a_contact_and_a_complaint_topic_opens_a_complaint(
    client: TestClient, make_user: Any, make_customer: Any
) -> None:
    customer = make_customer()
    agent = bearer(make_user(Role.AGENT))
    topics = client.get("/api/contact-topics", headers=agent).json()

    praise = client.post(
        f"/api/customers/{customer.id}/contacts",
        json={"topic": "praise", "content": topics["praise"][0]},
        headers=agent,
    )
    complaint = client.post(
        f"/api/customers/{customer.id}/contacts",
        json={"topic": "complaint", "content": "上门超时", "crisis_level": 3},
        headers=agent,
    )
    wrong = client.post(
        f"/api/customers/{customer.id}/contacts",
        json={"topic": "praise", "content": "上门超时"},
        headers=agent,
    )
    listed = client.get("/api/complaints", headers=agent).json()

    assert set(topics) == {"repair_request", "complaint", "praise", "inquiry"}
    assert praise.status_code == 201 and praise.json()["complaint_id"] is None
    assert complaint.status_code == 201, complaint.text
    assert [(c["id"], c["topic"], c["crisis_level"]) for c in listed] == [
        (complaint.json()["complaint_id"], "上门超时", 3)
    ]
    assert wrong.status_code == 422
    assert "content" in wrong.text


def test_a_complaint_moves_only_along_its_flow(
    client: TestClient, make_user: Any, make_customer: Any, db: Session
) -> None:
    customer = make_customer()
    complaint = complaints.log_complaint(
        db,
        customer_id=customer.id,
        topic="服务态度",
        crisis_level=1,
        actor=SYSTEM,
        clock=fixed_clock(NOW),
    )
    owner = make_user(Role.SUPERVISOR)
    auth = bearer(owner)

    skipped = client.patch(f"/api/complaints/{complaint.id}", json={"to": "closed"}, headers=auth)
    taken = client.patch(
        f"/api/complaints/{complaint.id}",
        json={"to": "in_progress", "owner_id": owner.id},
        headers=auth,
    )
    resolved = client.patch(
        f"/api/complaints/{complaint.id}", json={"to": "resolved"}, headers=auth
    )
    closed = client.patch(f"/api/complaints/{complaint.id}", json={"to": "closed"}, headers=auth)

    assert skipped.status_code == 409
    assert skipped.json()["details"]["allowed"] == ["in_progress", "resolved"]
    assert taken.json()["owner_id"] == owner.id
    assert resolved.json()["status"] == "resolved"
    assert closed.json()["status"] == "closed"
    assert complaint.due_at == NOW + timedelta(hours=72)


def test_overdue_complaints_are_escalated_once(
    db: Session, make_customer: Any, bus: redis.Redis
) -> None:
    bind_events(db, EventBus(bus))
    customer = make_customer()
    severe = complaints.log_complaint(
        db,
        customer_id=customer.id,
        topic="维修质量",
        crisis_level=3,
        actor=SYSTEM,
        clock=fixed_clock(NOW),
    )
    complaints.log_complaint(
        db,
        customer_id=customer.id,
        topic="服务态度",
        crisis_level=1,
        actor=SYSTEM,
        clock=fixed_clock(NOW),
    )

    first = complaints.sweep_complaints(db, now=NOW + timedelta(hours=25), actor=SYSTEM)
    again = complaints.sweep_complaints(db, now=NOW + timedelta(hours=26), actor=SYSTEM)

    assert (first[0], again[0]) == (1, 0)  # only the severe one is past its 24 h
    escalated = [
        f for _i, f in bus.xrange("callcenter:events") if f["name"] == "complaint.escalated"
    ]
    assert len(escalated) == 1
    assert str(severe.id) in escalated[0]["data"]


def test_an_order_waiting_for_parts_too_long_raises_a_potential_crisis_once(
    db: Session, station: Any, make_customer: Any, make_appliance: Any
) -> None:
    customer = make_customer()
    order = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=make_appliance(customer.id).id),
        actor=SYSTEM,
        clock=fixed_clock(NOW),
    )
    for step in (
        OrderStatus.ASSIGNED,
        OrderStatus.ACCEPTED,
        OrderStatus.CONTACTED,
        OrderStatus.WAITING_PARTS,
    ):
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=fixed_clock(NOW),
        )

    early = complaints.sweep_complaints(db, now=NOW + timedelta(days=6), actor=SYSTEM)
    late = complaints.sweep_complaints(db, now=NOW + timedelta(days=8), actor=SYSTEM)
    again = complaints.sweep_complaints(db, now=NOW + timedelta(days=9), actor=SYSTEM)

    assert (early[1], late[1], again[1]) == (0, 1, 0)
    raised = db.exec(select(Complaint).where(Complaint.order_id == order.id)).one()
    assert (raised.crisis_level, raised.raised_by_rule, raised.status) == (
        2,
        "waiting_parts_too_long",
        ComplaintStatus.OPEN,
    )
