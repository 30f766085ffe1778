"""拉修: an on-site repair taken back to the station with a handover slip (维修机交接单),
and the machine's return to the customer, who signs for it (spec §3.4.5)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.types import Clock
from orders.enums import AuditAction, OrderStatus, ServiceMode
from orders.exceptions import InvalidHandover
from orders.models import HandoverSlip
from orders.schemas import Actor, HandoverSlipPublic, MachineReturnIn, TakeBackIn
from orders.services import audit
from orders.services.transitions import apply_transition
from orders.services.work_orders import visible_order

TAKE_BACK_FROM = frozenset(
    {OrderStatus.IN_SERVICE, OrderStatus.WAITING_PARTS, OrderStatus.HARD_TO_REPAIR}
)
"""The engineer has seen the machine: only then can it be judged to need the workshop."""


def slips(session: Session, *, order_id: int, viewer: Actor) -> list[HandoverSlipPublic]:
    visible_order(session, order_id, viewer)
    rows = session.exec(
        select(HandoverSlip).where(HandoverSlip.order_id == order_id).order_by(col(HandoverSlip.id))
    ).all()
    return [HandoverSlipPublic.model_validate(r, from_attributes=True) for r in rows]


def take_back(
    session: Session, *, order_id: int, data: TakeBackIn, actor: Actor, clock: Clock
) -> HandoverSlipPublic:
    """The machine leaves the customer's home: from here on it is repaired at the station
    and, once repaired, waits there to be returned (the order becomes a carry-in one)."""
    order = visible_order(session, order_id, actor)
    if not data.customer_consented:
        # Without consent the spec asks for a new visit instead (不同意带回则约定下次上门).
        raise InvalidHandover(
            "a machine is taken to the station only with the customer's consent; "
            "otherwise book the next visit",
            details={"field": "customer_consented"},
        )
    if order.service_mode is not ServiceMode.ON_SITE or order.status not in TAKE_BACK_FROM:
        raise InvalidHandover(
            f"a {order.service_mode.value} order in {order.status.value} cannot be taken "
            "back to the station",
            details={"status": order.status, "service_mode": order.service_mode},
        )
    before = audit.snapshot(order)
    order.service_mode = ServiceMode.CARRY_IN
    session.add(order)
    slip = HandoverSlip(
        order_id=order_id,
        condition=data.condition,
        accessories=data.accessories,
        handed_over_by=data.handed_over_by,
        expected_back=data.expected_back,
        taken_by=actor.name,
        taken_at=clock(),
    )
    session.add(slip)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="work_order",
        entity_id=order_id,
        action=AuditAction.UPDATE,
        before=before,
        after=audit.snapshot(order),
        clock=clock,
    )
    audit.record(
        session,
        actor=actor,
        entity="handover_slip",
        entity_id=slip.id or 0,
        action=AuditAction.CREATE,
        after=audit.snapshot(slip),
        clock=clock,
    )
    session.commit()
    return HandoverSlipPublic.model_validate(slip, from_attributes=True)


def give_back(
    session: Session, *, order_id: int, data: MachineReturnIn, actor: Actor, clock: Clock
) -> HandoverSlipPublic:
    """The repaired machine is back with the customer, who signs the slip: the order
    moves from ready-for-pickup to picked-up in the same step."""
    order = visible_order(session, order_id, actor)
    slip = open_slip(session, order_id)
    if slip is None:
        raise InvalidHandover(
            f"order {order_id} has no machine at the station", details={"order_id": order_id}
        )
    if order.status is not OrderStatus.READY_FOR_PICKUP:
        raise InvalidHandover(
            "the machine goes back once it is repaired (ready for pickup), "
            f"not in {order.status.value}",
            details={"status": order.status},
        )
    now = clock()
    slip.returned_at = now
    slip.received_by = data.received_by
    slip.customer_feedback = data.customer_feedback
    slip.returned_by = actor.name
    session.add(slip)
    apply_transition(
        session,
        order=order,
        to=OrderStatus.PICKED_UP,
        actor=actor,
        note=f"returned to {data.received_by}",
        clock=clock,
    )
    audit.record(
        session,
        actor=actor,
        entity="handover_slip",
        entity_id=slip.id or 0,
        action=AuditAction.UPDATE,
        after=audit.snapshot(slip),
        clock=clock,
    )
    session.commit()
    return HandoverSlipPublic.model_validate(slip, from_attributes=True)


def open_slip(session: Session, order_id: int) -> HandoverSlip | None:
    """The slip of a machine that is at the station now."""
    return session.exec(
        select(HandoverSlip).where(
            HandoverSlip.order_id == order_id, col(HandoverSlip.returned_at).is_(None)
        )
    ).first()
