"""The one place an order's status changes, and who may make which change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.bus import publish_on_commit
from core.types import Clock
from orders import maintenance, sla
from orders.enums import AppointmentStatus, AuditAction, OrderStatus, OrderType, ServiceMode
from orders.events import OrderStatusChanged
from orders.exceptions import InvalidHandover, InvalidTransition, ServiceRecordMissing
from orders.models import (
    Appointment,
    HandoverSlip,
    InstallationRecord,
    MaintenanceRecord,
    OrderTransition,
    WorkOrder,
)
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
    _check_preconditions(session, order, to)
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
    maintenance.end_round(session, order=order, now=now)
    for listener in _LISTENERS:
        listener(session, order, previous, now)
    publish_on_commit(
        session,
        OrderStatusChanged(
            order_id=order.id,
            number=order.number or "",
            customer_id=order.customer_id,
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


_RECORD_OF: dict[OrderType, tuple[type[Any], str]] = {
    OrderType.INSTALLATION: (InstallationRecord, "installation-record"),
    OrderType.MAINTENANCE: (MaintenanceRecord, "maintenance-record"),
}
"""Installation and maintenance visits complete only with their record (装机单,
保护保养记录), filed at the path named here under the order."""


Precondition = Callable[[Session, WorkOrder, OrderStatus], None]
"""A rule of another package on a status change: raises to refuse it."""
_PRECONDITIONS: list[Precondition] = []


StatusListener = Callable[[Session, WorkOrder, OrderStatus, datetime], None]
"""A rule of another package that follows a status change (the order, the status it
left, the moment), in the same transaction: a customer's notice, say."""
_LISTENERS: list[StatusListener] = []


def add_status_listener(listener: StatusListener) -> None:
    """Installed by the composition root, as preconditions are."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def add_precondition(rule: Precondition) -> None:
    """Installed by the composition root: rules of packages above orders (a paid job
    starts only once its quote is approved) that orders cannot import."""
    if rule not in _PRECONDITIONS:
        _PRECONDITIONS.append(rule)


def _check_preconditions(session: Session, order: WorkOrder, to: OrderStatus) -> None:
    """What the state table alone cannot know: the paperwork and the customer's visit."""
    for rule in _PRECONDITIONS:
        rule(session, order, to)
    if to is OrderStatus.COMPLETED and order.order_type in _RECORD_OF:
        table, path = _RECORD_OF[order.order_type]
        if session.exec(select(table.id).where(table.order_id == order.id)).first() is None:
            raise ServiceRecordMissing(
                f"an {order.order_type.value} order completes only with its record: "
                f"POST /api/orders/{order.id}/{path} first",
                details={"order_type": order.order_type, "record": path},
            )
    if to is OrderStatus.PICKED_UP and _machine_at_station(session, order):
        raise InvalidHandover(
            "a machine taken back to the station is returned against its handover slip: "
            f"POST /api/orders/{order.id}/handover/return",
            details={"order_id": order.id},
        )
    if (
        to is OrderStatus.IN_SERVICE
        and order.status is OrderStatus.CONTACTED
        and order.service_mode is ServiceMode.ON_SITE
        and _back_from_parts(session, order)
        and not _has_standing_visit(session, order)
    ):
        raise InvalidTransition(
            "the parts arrived: agree the new visit with the customer before going on site",
            details={"from": order.status, "to": to, "needs": "appointment"},
        )


def _machine_at_station(session: Session, order: WorkOrder) -> bool:
    return (
        session.exec(
            select(HandoverSlip.id).where(
                HandoverSlip.order_id == order.id, col(HandoverSlip.returned_at).is_(None)
            )
        ).first()
        is not None
    )


def _back_from_parts(session: Session, order: WorkOrder) -> bool:
    """The order was contacted again because its parts arrived (waiting_parts → contacted)."""
    latest = session.exec(
        select(OrderTransition.from_status)
        .where(OrderTransition.order_id == order.id)
        .order_by(col(OrderTransition.id).desc())
    ).first()
    return latest is OrderStatus.WAITING_PARTS


def _has_standing_visit(session: Session, order: WorkOrder) -> bool:
    return (
        session.exec(
            select(Appointment.id).where(
                Appointment.order_id == order.id,
                Appointment.status == AppointmentStatus.SCHEDULED,
            )
        ).first()
        is not None
    )
