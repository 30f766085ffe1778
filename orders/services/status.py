"""An order's status as a caller may hear it in the IVR."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, select

from orders.enums import OrderStatus
from orders.models import WorkOrder
from orders.states import AWAITED_STATES


def order_status_for_caller(
    session: Session, *, customer_id: int | None, number: str | None, callers: Collection[int]
) -> tuple[str, OrderStatus] | None:
    """The order's number and status: the one keyed in, or the caller's newest open one.

    Callers key in the digits of "WO2026112200000123", and hear only their own orders:
    those of the customer recognised, or of a customer with this phone (``callers``).
    """
    query = select(WorkOrder.number, WorkOrder.status)
    if number is not None:
        query = query.where(WorkOrder.number == f"WO{number}")
        if customer_id is not None:
            query = query.where(WorkOrder.customer_id == customer_id)
        else:
            query = query.where(col(WorkOrder.customer_id).in_(callers))
    elif customer_id is not None:
        query = query.where(
            WorkOrder.customer_id == customer_id, col(WorkOrder.status).in_(AWAITED_STATES)
        ).order_by(col(WorkOrder.created_at).desc())
    else:
        return None
    row = session.exec(query.limit(1)).first()
    return None if row is None or row[0] is None else (row[0], OrderStatus(row[1]))
