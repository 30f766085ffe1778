"""The orders side of the supervisor's wall: SLA warnings and breaches, open complaints,
and the names the wall shows for agents and callers."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, func, select

from orders.enums import ComplaintStatus, Urgency
from orders.models import Complaint, Customer, User, WorkOrder
from orders.schemas import SlaFigures, SlaOrder
from orders.sla import SlaPolicy, sla_clock
from orders.states import OPEN_STATES


def sla_figures(session: Session, *, now: datetime, policy: SlaPolicy, listed: int) -> SlaFigures:
    """Open orders in warning and in breach, with the ``listed`` worst clocks."""
    warning = breached = 0
    worst: list[WorkOrder] = []
    for urgency in Urgency:
        due_before = now - policy.target(urgency)
        warn_before = now - policy.warning_after(urgency)
        base = (col(WorkOrder.status).in_(sorted(OPEN_STATES)), WorkOrder.urgency == urgency)
        late = (*base, WorkOrder.created_at < due_before)
        close = (*base, WorkOrder.created_at >= due_before, WorkOrder.created_at < warn_before)
        breached += session.exec(select(func.count()).select_from(WorkOrder).where(*late)).one()
        warning += session.exec(select(func.count()).select_from(WorkOrder).where(*close)).one()
        for where in (late, close):
            worst += session.exec(
                select(WorkOrder).where(*where).order_by(col(WorkOrder.created_at)).limit(listed)
            ).all()
    orders = [
        SlaOrder(
            number=order.number or "",
            status=order.status.value,
            urgency=order.urgency,
            created_at=order.created_at,
            sla=sla_clock(
                created_at=order.created_at, urgency=order.urgency, now=now, policy=policy
            ),
        )
        for order in worst
    ]
    orders.sort(key=lambda item: item.sla.due_at)
    return SlaFigures(warning=warning, breached=breached, orders=orders[:listed])


def complaints_by_level(session: Session) -> dict[int, int]:
    """Open complaints per crisis level (0 calm ... 3 crisis)."""
    rows = session.exec(
        select(Complaint.crisis_level, func.count())
        .where(Complaint.status == ComplaintStatus.OPEN)
        .group_by(col(Complaint.crisis_level))
    ).all()
    found = dict(rows)
    return {level: int(found.get(level, 0)) for level in range(4)}


def user_names(session: Session, user_ids: Collection[int]) -> dict[int, str]:
    """Each user's full name, or the username where none is on file."""
    if not user_ids:
        return {}
    name = func.coalesce(func.nullif(User.full_name, ""), User.username)
    rows = session.exec(select(User.id, name).where(col(User.id).in_(user_ids))).all()
    return {user_id: str(full) for user_id, full in rows if user_id is not None}


def customer_names(session: Session, customer_ids: Collection[int]) -> dict[int, str]:
    if not customer_ids:
        return {}
    rows = session.exec(
        select(Customer.id, Customer.name).where(col(Customer.id).in_(customer_ids))
    ).all()
    return {customer_id: name for customer_id, name in rows if customer_id is not None}
