"""Work-order routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from core.deps import ClockDep, SessionDep
from orders.enums import OrderStatus
from orders.http.common import IdempotencyKey, IdFilter, Limit, Offset, PathId
from orders.http.deps import AnyUser, Intake
from orders.schemas import (
    OrderCreate,
    OrderDetail,
    OrderFilters,
    OrderPublic,
    Page,
    TransitionIn,
)
from orders.services import work_orders

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", status_code=201)
def create_order(
    data: OrderCreate,
    session: SessionDep,
    actor: Intake,
    clock: ClockDep,
    request_key: IdempotencyKey = None,
) -> OrderPublic:
    """The hotline's order is dispatched at once; a station's own is reported (报备). A
    request sent again with the same ``Idempotency-Key`` gets the same order back."""
    return work_orders.create_order(
        session, data=data, actor=actor, clock=clock, request_key=request_key
    )


@router.get("")
def list_orders(
    session: SessionDep,
    actor: AnyUser,
    status: OrderStatus | None = None,
    customer_id: IdFilter = None,
    station_id: IdFilter = None,
    unassigned: bool = False,
    station_reported: bool | None = None,
    created_from: Annotated[datetime | None, Query(description="Inclusive, ISO 8601")] = None,
    created_to: Annotated[datetime | None, Query(description="Exclusive, ISO 8601")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[OrderPublic]:
    filters = OrderFilters(
        status=status,
        customer_id=customer_id,
        station_id=station_id,
        unassigned=unassigned,
        station_reported=station_reported,
        created_from=created_from,
        created_to=created_to,
    )
    items, total = work_orders.list_orders(
        session, filters=filters, viewer=actor, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{order_id}")
def get_order(order_id: PathId, session: SessionDep, actor: AnyUser) -> OrderDetail:
    return work_orders.get_order(session, order_id=order_id, viewer=actor)


@router.post("/{order_id}/transitions")
def transition_order(
    order_id: PathId, data: TransitionIn, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> OrderDetail:
    """Move the order to another state; an illegal move is refused with the legal targets."""
    return work_orders.transition_order(
        session, order_id=order_id, data=data, actor=actor, clock=clock
    )
