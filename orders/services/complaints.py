"""Complaints, as far as the screen pop needs them: logging one and counting open ones."""

from __future__ import annotations

from sqlmodel import Session

from core.types import Clock
from orders.enums import AuditAction
from orders.models import Complaint
from orders.schemas import Actor
from orders.services import audit
from orders.services.customers import get_customer_row


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
) -> Complaint:
    get_customer_row(session, customer_id)
    complaint = Complaint(
        customer_id=customer_id,
        order_id=order_id,
        topic=topic,
        description=description,
        crisis_level=crisis_level,
        created_at=clock(),
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
    session.commit()
    return complaint
