"""Complaints and the topics of contacts.

Every contact gets a topic and a content picked from the catalogue (two picks from the
pop); a complaint topic opens a complaint. Complaints carry a crisis level (spec §6.1), an
owner, a due time by level, and move open → in progress → resolved → closed. The sweep
escalates overdue ones to the supervisors once, and raises a potential crisis for an order
that has waited for parts too long.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.bus import publish_on_commit
from core.types import Clock
from orders.enums import (
    AuditAction,
    ComplaintStatus,
    ContactTopic,
    CrisisLevel,
    OrderStatus,
)
from orders.events import ComplaintEscalated, ComplaintOpened
from orders.exceptions import ComplaintNotFound, InvalidComplaintMove, InvalidContact
from orders.models import Complaint, ContactRecord, OrderTransition, User, WorkOrder
from orders.schemas import Actor, ComplaintMove, ComplaintPublic, ContactIn, ContactPublic
from orders.services import audit
from orders.services.customers import get_customer_row

CONTENTS: dict[ContactTopic, tuple[str, ...]] = {
    ContactTopic.REPAIR_REQUEST: (
        "不制冷",
        "不加热",
        "漏水",
        "噪音大",
        "不开机",
        "显示故障码",
        "其他故障",
    ),
    ContactTopic.COMPLAINT: (
        "服务态度",
        "上门超时",
        "维修质量",
        "乱收费",
        "配件等待过久",
        "重复维修",
        "其他投诉",
    ),
    ContactTopic.PRAISE: ("服务态度好", "维修及时", "技术好"),
    ContactTopic.INQUIRY: ("保修政策", "收费标准", "维修进度", "网点地址", "产品使用", "其他咨询"),
}
"""The content list per topic: what an agent picks after the topic."""

DUE_WITHIN: dict[CrisisLevel, timedelta] = {
    CrisisLevel.SEVERE: timedelta(hours=24),
    CrisisLevel.POTENTIAL: timedelta(hours=48),
    CrisisLevel.ORDINARY: timedelta(hours=72),
    CrisisLevel.NONE: timedelta(days=5),
}
"""How soon a complaint must be resolved, by its crisis level (the spec sets no figure)."""

UNRESOLVED = frozenset({ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS})
_MOVES: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.OPEN: frozenset({ComplaintStatus.IN_PROGRESS, ComplaintStatus.RESOLVED}),
    ComplaintStatus.IN_PROGRESS: frozenset({ComplaintStatus.RESOLVED}),
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.CLOSED, ComplaintStatus.IN_PROGRESS}),
    ComplaintStatus.CLOSED: frozenset(),
}
PARTS_WAIT_LIMIT = timedelta(days=7)
"""An order waiting for parts this long raises a potential crisis (潜在危机)."""
PARTS_RULE = "waiting_parts_too_long"


def log_complaint(
    session: Session,
    *,
    customer_id: int,
    topic: str,
    description: str = "",
    crisis_level: int = 0,
    order_id: int | None = None,
    actor: Actor,
    clock: Clock,
    raised_by_rule: str = "",
) -> Complaint:
    get_customer_row(session, customer_id)
    now = clock()
    complaint = Complaint(
        customer_id=customer_id,
        order_id=order_id,
        topic=topic,
        description=description,
        crisis_level=crisis_level,
        due_at=now + DUE_WITHIN[CrisisLevel(crisis_level)],
        raised_by_rule=raised_by_rule,
        created_at=now,
    )
    session.add(complaint)
    session.flush()
    assert complaint.id is not None
    audit.record(
        session,
        actor=actor,
        entity="complaint",
        entity_id=complaint.id,
        action=AuditAction.CREATE,
        after=audit.snapshot(complaint),
        clock=clock,
    )
    publish_on_commit(
        session,
        ComplaintOpened(
            complaint_id=complaint.id,
            customer_id=customer_id,
            order_id=order_id,
            crisis_level=crisis_level,
            station_id=_station_of(session, order_id),
            at=now,
        ),
    )
    session.commit()
    return complaint


def record_contact(
    session: Session, *, customer_id: int, data: ContactIn, actor: Actor, clock: Clock
) -> ContactPublic:
    """The topic and content of a contact; a complaint topic opens a complaint too."""
    get_customer_row(session, customer_id)
    if data.content not in CONTENTS[data.topic]:
        raise InvalidContact(
            f"{data.content!r} is not a content of topic {data.topic.value}",
            details={"field": "content", "allowed": list(CONTENTS[data.topic])},
        )
    complaint_id = None
    if data.topic is ContactTopic.COMPLAINT:
        complaint_id = log_complaint(
            session,
            customer_id=customer_id,
            topic=data.content,
            description=data.note,
            crisis_level=data.crisis_level,
            order_id=data.order_id,
            actor=actor,
            clock=clock,
        ).id
    record = ContactRecord(
        customer_id=customer_id,
        topic=data.topic,
        content=data.content,
        note=data.note,
        call_id=data.call_id,
        order_id=data.order_id,
        complaint_id=complaint_id,
        created_by=actor.name,
        created_at=clock(),
    )
    session.add(record)
    session.commit()
    return ContactPublic.model_validate(record, from_attributes=True)


def list_complaints(
    session: Session, *, status: ComplaintStatus | None, overdue: bool, now: datetime
) -> list[ComplaintPublic]:
    query = select(Complaint).order_by(col(Complaint.due_at), col(Complaint.id))
    if status is not None:
        query = query.where(Complaint.status == status)
    if overdue:
        query = query.where(
            col(Complaint.status).in_(sorted(UNRESOLVED)), col(Complaint.due_at) <= now
        )
    return [ComplaintPublic.model_validate(c, from_attributes=True) for c in session.exec(query)]


def move_complaint(
    session: Session, *, complaint_id: int, data: ComplaintMove, actor: Actor, clock: Clock
) -> ComplaintPublic:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise ComplaintNotFound(
            f"complaint {complaint_id} does not exist", details={"complaint_id": complaint_id}
        )
    before = audit.snapshot(complaint)
    if data.to is not None and data.to is not complaint.status:
        allowed = _MOVES[complaint.status]
        if data.to not in allowed:
            raise InvalidComplaintMove(
                f"a complaint cannot go from {complaint.status.value} to {data.to.value}",
                details={"allowed": sorted(s.value for s in allowed)},
            )
        complaint.status = data.to
    if data.owner_id is not None:
        if session.get(User, data.owner_id) is None:
            raise InvalidComplaintMove(
                f"user {data.owner_id} does not exist", details={"field": "owner_id"}
            )
        complaint.owner_id = data.owner_id
    if data.crisis_level is not None:
        _at_level(complaint, CrisisLevel(data.crisis_level))
    _audit_change(session, complaint, before, actor=actor, clock=clock)
    session.commit()
    return ComplaintPublic.model_validate(complaint, from_attributes=True)


def raise_crisis_level(
    session: Session,
    *,
    customer_id: int,
    level: CrisisLevel,
    rule: str,
    actor: Actor,
    clock: Clock,
) -> list[int]:
    """Raise each unresolved complaint of the customer to at least ``level`` (never lower
    one), its due time following the level, audited with the rule that raised it. The ids
    raised. Does not commit: the caller's finding and the raise are saved together."""
    raised: list[int] = []
    for complaint in session.exec(
        select(Complaint).where(
            Complaint.customer_id == customer_id,
            col(Complaint.status).in_(sorted(UNRESOLVED)),
            col(Complaint.crisis_level) < int(level),
        )
    ):
        assert complaint.id is not None
        before = audit.snapshot(complaint)
        _at_level(complaint, level)
        _audit_change(session, complaint, before, actor=actor, clock=clock, rule=rule)
        raised.append(complaint.id)
    return raised


def _at_level(complaint: Complaint, level: CrisisLevel) -> None:
    """A complaint's crisis level sets when it is due, counted from when it was made."""
    complaint.crisis_level = int(level)
    complaint.due_at = complaint.created_at + DUE_WITHIN[level]


def _audit_change(
    session: Session,
    complaint: Complaint,
    before: dict[str, Any],
    *,
    actor: Actor,
    clock: Clock,
    rule: str | None = None,
) -> None:
    """Flush the complaint's change and audit it, with the rule that made it if any."""
    assert complaint.id is not None
    session.add(complaint)
    session.flush()
    after = audit.snapshot(complaint)
    audit.record(
        session,
        actor=actor,
        entity="complaint",
        entity_id=complaint.id,
        action=AuditAction.UPDATE,
        before=before,
        after=after if rule is None else {**after, "rule": rule},
        clock=clock,
    )


def sweep_complaints(session: Session, *, now: datetime, actor: Actor) -> tuple[int, int]:
    """Escalate overdue complaints once each; raise a potential crisis for each order that
    has waited for parts past the limit, once per order. (escalated, raised)"""
    table: Any = Complaint.__table__  # type: ignore[attr-defined]
    escalated = session.execute(
        update(table)
        .where(
            table.c.status.in_([s.value for s in UNRESOLVED]),
            table.c.due_at <= now,
            table.c.escalated_at.is_(None),
        )
        .values(escalated_at=now)
        .returning(table.c.id, table.c.customer_id, table.c.order_id, table.c.crisis_level)
    ).all()
    for complaint_id, customer_id, order_id, level in escalated:
        publish_on_commit(
            session,
            ComplaintEscalated(
                complaint_id=complaint_id,
                customer_id=customer_id,
                order_id=order_id,
                crisis_level=level,
                station_id=_station_of(session, order_id),
                at=now,
            ),
        )
    session.commit()
    raised = 0
    for order in _waiting_too_long(session, now):
        assert order.id is not None
        log_complaint(
            session,
            customer_id=order.customer_id,
            topic="配件等待过久",
            description=f"waiting for parts since before {(now - PARTS_WAIT_LIMIT).date()}",
            crisis_level=CrisisLevel.POTENTIAL,
            order_id=order.id,
            actor=actor,
            clock=lambda: now,
            raised_by_rule=PARTS_RULE,
        )
        raised += 1
    return len(escalated), raised


def _waiting_too_long(session: Session, now: datetime) -> list[WorkOrder]:
    entered = (
        select(OrderTransition.order_id)
        .where(
            OrderTransition.to_status == OrderStatus.WAITING_PARTS,
            col(OrderTransition.at) <= now - PARTS_WAIT_LIMIT,
        )
        .scalar_subquery()
    )
    flagged = (
        select(Complaint.order_id)
        .where(Complaint.raised_by_rule == PARTS_RULE, col(Complaint.order_id).is_not(None))
        .scalar_subquery()
    )
    candidates = session.exec(
        select(WorkOrder).where(
            WorkOrder.status == OrderStatus.WAITING_PARTS,
            col(WorkOrder.id).in_(entered),
            col(WorkOrder.id).not_in(flagged),
        )
    ).all()
    # The latest wait is what counts: an order that waited once before, then again lately,
    # is not overdue yet.
    overdue = []
    for order in candidates:
        last = session.exec(
            select(OrderTransition.at)
            .where(
                OrderTransition.order_id == order.id,
                OrderTransition.to_status == OrderStatus.WAITING_PARTS,
            )
            .order_by(col(OrderTransition.at).desc())
        ).first()
        if last is not None and _aware(last) <= now - PARTS_WAIT_LIMIT:
            overdue.append(order)
    return overdue


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _station_of(session: Session, order_id: int | None) -> int | None:
    if order_id is None:
        return None
    order = session.get(WorkOrder, order_id)
    return order.station_id if order else None
