"""The customer's verdict from a satisfaction callback, and what a low one sets off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col

from core.types import Clock
from orders.enums import CallbackState, CrisisLevel, OrderStatus
from orders.exceptions import OrderNotFound
from orders.models import Customer, WorkOrder
from orders.schemas import Actor
from orders.services.complaints import log_complaint
from orders.services.transitions import apply_transition
from orders.states import allowed_targets

LOW_SCORE = 2
"""A score this low or lower is an unsatisfied customer (不满意回访): a complaint, and the
order goes back to its station to be put right (operating spec §5.1.2)."""
UNSATISFIED_TOPIC = "unsatisfied_callback"
CHUNK = 5_000


@dataclass(frozen=True)
class Verdict:
    order_id: int
    score: int
    complaint_id: int | None
    reopened: bool


def crisis_for(score: int) -> CrisisLevel:
    """A 1 is a service that failed the customer (a potential crisis); a 2 one that fell
    short of the rules (an ordinary one, mended inside the station)."""
    return CrisisLevel.POTENTIAL if score <= 1 else CrisisLevel.ORDINARY


def record_satisfaction(
    session: Session,
    *,
    order_id: int,
    score: int,
    comment: str,
    actor: Actor,
    clock: Clock,
) -> Verdict:
    order = session.get(WorkOrder, order_id)
    if order is None:
        raise OrderNotFound(f"order {order_id} not found", details={"order_id": order_id})
    now = clock()
    order.satisfaction_score = score
    order.satisfaction_comment = comment
    order.surveyed_at = now
    customer = session.get(Customer, order.customer_id)
    assert customer is not None
    customer.last_satisfaction_score = score
    session.add_all([order, customer])
    if score > LOW_SCORE:
        session.commit()
        return Verdict(order_id, score, None, False)
    reopened = OrderStatus.REOPENED in allowed_targets(order.status, order.service_mode)
    if reopened:
        apply_transition(
            session,
            order=order,
            to=OrderStatus.REOPENED,
            actor=actor,
            note=f"satisfaction callback scored {score}: back to the station to put right",
            clock=clock,
        )
    complaint = log_complaint(
        session,
        customer_id=order.customer_id,
        order_id=order_id,
        topic=UNSATISFIED_TOPIC,
        description=comment,
        crisis_level=crisis_for(score),
        actor=actor,
        clock=clock,
        raised_by_rule=UNSATISFIED_TOPIC,
    )
    return Verdict(order_id, score, complaint.id, reopened)


def mark_callbacks_due(session: Session, order_ids: Sequence[int]) -> None:
    """The orders were sampled for a callback: not settled until it ends. Does not commit."""
    for start in range(0, len(order_ids), CHUNK):
        session.execute(
            update(WorkOrder)
            .where(col(WorkOrder.id).in_(order_ids[start : start + CHUNK]))
            .values(callback_state=CallbackState.DUE)
        )


def mark_callbacks_done(session: Session, order_ids: Sequence[int]) -> None:
    """The orders' callbacks ended, whatever came of them: the orders may be settled. Does
    not commit."""
    for start in range(0, len(order_ids), CHUNK):
        session.execute(
            update(WorkOrder)
            .where(col(WorkOrder.id).in_(order_ids[start : start + CHUNK]))
            .values(callback_state=CallbackState.DONE)
        )
