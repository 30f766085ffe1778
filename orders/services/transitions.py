"""The one place an order's status changes, and who may make which change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from core.bus import publish_on_commit
from core.types import Clock
from orders import sla
from orders.enums import AppointmentStatus, AuditAction, OrderStatus
from orders.events import OrderStatusChanged
from orders.models import Appointment, OrderTransition, WorkOrder
from orders.schemas import Actor
from orders.services import audit
from orders.states import check_transition

# Station staff move their own orders through the work; dispatching, cancelling,
# closing and reopening stay with the hotline.
STATION_TARGETS = frozenset(
    {
        OrderStatus.ACCEPTED,
        OrderStatus.CONTACTED,
        OrderStatus.IN_SERVICE,
        OrderStatus.WAITING_PARTS,
        OrderStatus.HARD_TO_REPAIR,
        OrderStatus.COMPLETED,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.PICKED_UP,
    }
)


def apply_transition(
    session: Session,
    *,
    order: WorkOrder,
    to: OrderStatus,
    actor: Actor,
    note: str = "",
    clock: Clock,
) -> None:
    """Move an order to ``to`` if the state machine allows it, with its history and audit.

    The one place an order's status changes: whatever reacts to a status change (SLA
    clocks, notices) hooks in here, whoever asked for the move. Does not commit.
    """
    assert order.id is not None
    check_transition(order.status, to, order.service_mode)
    before = audit.snapshot(order)
    previous = order.status
    now = clock()
    order.status = to
    order.updated_at = now
    session.add(order)
    session.add(
        OrderTransition(
            order_id=order.id,
            from_status=previous,
            to_status=to,
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
            note=note,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="work_order",
        entity_id=order.id,
        action=AuditAction.TRANSITION,
        before=before,
        after=audit.snapshot(order),
        clock=clock,
    )
    sla.on_status_change(session, order=order, previous=previous, now=now)
    if to is OrderStatus.IN_SERVICE:
        _keep_visit(session, order)
    publish_on_commit(
        session,
        OrderStatusChanged(
            order_id=order.id,
            number=order.number or "",
            station_id=order.station_id,
            engineer_id=order.engineer_id,
            from_status=previous,
            to_status=to,
            actor=actor.name,
            at=now,
        ),
    )


def _keep_visit(session: Session, order: WorkOrder) -> None:
    """The engineer is on site: the standing appointment was kept."""
    table: Any = Appointment.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.order_id == order.id, table.c.status == AppointmentStatus.SCHEDULED)
        .values(status=AppointmentStatus.KEPT)
    )
