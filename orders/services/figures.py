"""The orders side of the supervisor's wall: open complaints, and the names the wall shows
for agents and callers (its SLA figures come from ``orders.sla``)."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, func, select

from orders.enums import ComplaintStatus
from orders.models import Complaint, Customer, User


def complaints_by_level(session: Session) -> dict[int, int]:
    """Open complaints per crisis level (0 calm ... 3 crisis)."""
    rows = session.exec(
        select(Complaint.crisis_level, func.count())
        .where(col(Complaint.status).in_([ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS]))
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
