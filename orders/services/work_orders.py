"""Work orders: intake, the state machine applied, listing and history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from core.bus import publish_on_commit
from core.errors import PermissionDenied
from core.types import Clock
from orders import sla
from orders.enums import AuditAction, OrderStatus, OrderType, Role
from orders.events import OrderCreated
from orders.exceptions import InvalidOrderData, OrderNotFound, StationNotFound
from orders.models import Address, Engineer, OrderTransition, Station, WorkOrder
from orders.schemas import (
    Actor,
    OrderCreate,
    OrderCustomer,
    OrderDetail,
    OrderFilters,
    OrderPublic,
    TransitionIn,
    TransitionPublic,
)
from orders.services import audit, dispatch
from orders.services.appliances import get_appliance_row, repair_warranty_of, warranty_of
from orders.services.customers import get_customer_row
from orders.services.customers import to_public as customer_public
from orders.services.transitions import STATION_TARGETS, apply_transition
from orders.states import allowed_targets, check_transition


def to_public(order: WorkOrder) -> OrderPublic:
    return OrderPublic(
        **order.model_dump(),
        allowed_transitions=allowed_targets(order.status, order.service_mode),
    )


def create_order(
    session: Session,
    *,
    data: OrderCreate,
    actor: Actor,
    clock: Clock,
    request_key: str | None = None,
) -> OrderPublic:
    """A new order; with ``request_key`` (the request's Idempotency-Key) a request the
    same user sends again gets the order the first one made, not a second order."""
    if request_key is not None and (made := _made_by(session, actor, request_key)) is not None:
        return to_public(made)
    try:
        order = intake(session, data=data, actor=actor, clock=clock, request_key=request_key)
        session.commit()
    except IntegrityError:
        # Two requests with one key at once: the other one's order was committed first.
        session.rollback()
        made = _made_by(session, actor, request_key) if request_key is not None else None
        if made is None:
            raise
        return to_public(made)
    return to_public(order)


def _made_by(session: Session, actor: Actor, request_key: str) -> WorkOrder | None:
    return session.exec(
        select(WorkOrder).where(
            WorkOrder.created_by == actor.id, WorkOrder.request_key == request_key
        )
    ).first()


def intake(
    session: Session,
    *,
    data: OrderCreate,
    actor: Actor,
    clock: Clock,
    request_key: str | None = None,
) -> WorkOrder:
    """Log the order, start its clocks and dispatch it. Does not commit."""
    get_customer_row(session, data.customer_id)
    appliance = get_appliance_row(session, data.appliance_id)
    if appliance.customer_id != data.customer_id:
        raise InvalidOrderData(
            f"appliance {appliance.id} does not belong to customer {data.customer_id}",
            details={"field": "appliance_id"},
        )
    if data.address_id is not None:
        address = session.get(Address, data.address_id)
        if address is None or address.customer_id != data.customer_id:
            raise InvalidOrderData(
                f"address {data.address_id} is not an address of customer {data.customer_id}",
                details={"field": "address_id"},
            )
    now = clock()
    order = WorkOrder(
        **data.model_dump(),
        warranty_status=warranty_of(appliance, now.date()),
        repair_warranty_of=(
            repair_warranty_of(session, appliance_id=appliance.id or 0, now=now)
            if data.order_type is OrderType.REPAIR
            else None
        ),
        status=OrderStatus.NEW,
        created_by=actor.id,
        request_key=request_key,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    assert order.id is not None
    order.number = f"WO{now:%Y%m%d}{order.id:07d}"
    session.add(
        OrderTransition(
            order_id=order.id,
            from_status=None,
            to_status=OrderStatus.NEW,
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
            note="created",
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="work_order",
        entity_id=order.id,
        action=AuditAction.CREATE,
        after=audit.snapshot(order),
        clock=clock,
    )
    sla.on_status_change(session, order=order, previous=None, now=now)
    if actor.role is Role.STATION:
        dispatch.take_reported_order(session, order=order, actor=actor, clock=clock)
    else:
        dispatch.dispatch_new_order(session, order=order, actor=actor, clock=clock)
    publish_on_commit(
        session,
        OrderCreated(
            order_id=order.id,
            number=order.number,
            customer_id=order.customer_id,
            station_id=order.station_id,
            station_reported=order.station_reported,
            at=now,
        ),
    )
    return order


def visible_order(session: Session, order_id: int, viewer: Actor) -> WorkOrder:
    order = session.get(WorkOrder, order_id)
    # A station sees only its own orders, an engineer only their own jobs; others' are
    # reported as absent, not forbidden, so order ids of other stations are not disclosed.
    if order is None or not _sees(session, viewer, order):
        raise OrderNotFound(f"order {order_id} does not exist", details={"order_id": order_id})
    return order


def _sees(session: Session, viewer: Actor, order: WorkOrder) -> bool:
    if viewer.role is Role.STATION:
        return order.station_id == viewer.station_id
    if viewer.role is Role.ENGINEER:
        return order.engineer_id is not None and order.engineer_id == engineer_of(session, viewer)
    return True


def engineer_of(session: Session, viewer: Actor) -> int | None:
    """The engineer record of an engineer's login."""
    return session.exec(select(Engineer.id).where(Engineer.user_id == viewer.id)).first()


def get_order(session: Session, *, order_id: int, viewer: Actor) -> OrderDetail:
    order = visible_order(session, order_id, viewer)
    history = session.exec(
        select(OrderTransition)
        .where(OrderTransition.order_id == order_id)
        .order_by(col(OrderTransition.id))
    ).all()
    return OrderDetail(
        **to_public(order).model_dump(),
        customer=_order_customer(session, order),
        history=[TransitionPublic.model_validate(t, from_attributes=True) for t in history],
    )


def _order_customer(session: Session, order: WorkOrder) -> OrderCustomer:
    customer = get_customer_row(session, order.customer_id)
    public = customer_public(session, customer)
    chosen = [a for a in public.addresses if a.id == order.address_id]
    primary = [a for a in public.addresses if a.is_primary]
    address = next(iter(chosen or primary), None)
    return OrderCustomer(
        id=public.id, name=public.name, phones=public.phones, service_address=address
    )


def list_orders(
    session: Session,
    *,
    filters: OrderFilters,
    viewer: Actor,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OrderPublic], int]:
    query = select(WorkOrder)
    if viewer.role is Role.STATION:
        query = query.where(WorkOrder.station_id == viewer.station_id)
    if viewer.role is Role.ENGINEER:
        query = query.where(WorkOrder.engineer_id == engineer_of(session, viewer))
    if filters.unassigned:
        query = query.where(
            WorkOrder.status == OrderStatus.NEW, col(WorkOrder.station_id).is_(None)
        )
    if filters.station_reported is not None:
        query = query.where(WorkOrder.station_reported == filters.station_reported)
    if filters.status is not None:
        query = query.where(WorkOrder.status == filters.status)
    if filters.customer_id is not None:
        query = query.where(WorkOrder.customer_id == filters.customer_id)
    if filters.station_id is not None:
        query = query.where(WorkOrder.station_id == filters.station_id)
    if filters.created_from is not None:
        query = query.where(col(WorkOrder.created_at) >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(col(WorkOrder.created_at) < filters.created_to)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(WorkOrder.created_at).desc(), col(WorkOrder.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [to_public(row) for row in rows], total


def transition_order(
    session: Session,
    *,
    order_id: int,
    data: TransitionIn,
    actor: Actor,
    clock: Clock,
) -> OrderDetail:
    order = visible_order(session, order_id, actor)
    if actor.role in (Role.STATION, Role.ENGINEER) and data.to not in STATION_TARGETS:
        raise PermissionDenied(
            f"station staff cannot move an order to {data.to.value}",
            details={"to": data.to.value},
        )
    # Refuse an illegal move before the assignment below touches the row.
    check_transition(order.status, data.to, order.service_mode)
    if data.to is OrderStatus.ASSIGNED:
        order.station_id = _station_for_assignment(session, data.station_id)
    apply_transition(session, order=order, to=data.to, actor=actor, note=data.note, clock=clock)
    session.commit()
    return get_order(session, order_id=order_id, viewer=actor)


def _station_for_assignment(session: Session, station_id: int | None) -> int:
    if station_id is None:
        raise InvalidOrderData(
            "assigning an order needs the station_id of the station that takes it",
            details={"field": "station_id"},
        )
    if session.get(Station, station_id) is None:
        raise StationNotFound(
            f"station {station_id} does not exist", details={"station_id": station_id}
        )
    return station_id


def completed_at(session: Session, order_id: int) -> datetime | None:
    """When the order was last completed (its completion slip's moment), if it was."""
    return session.exec(
        select(func.max(OrderTransition.at)).where(
            OrderTransition.order_id == order_id,
            OrderTransition.to_status == OrderStatus.COMPLETED,
        )
    ).one()


def add_fault_words(
    session: Session, *, order_id: int, text: str, actor: Actor, clock: Clock
) -> None:
    """The fault in the caller's own words (a transcript of what they said in the IVR)
    joins the order's fault description, below what was there; audited. Does not commit:
    it is saved with the transcript it comes from."""
    order = session.get(WorkOrder, order_id)
    if order is None or not text.strip():
        return
    before = {"fault_description": order.fault_description}
    order.fault_description = "\n".join(filter(None, [order.fault_description, text]))
    session.add(order)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="work_order",
        entity_id=order_id,
        action=AuditAction.UPDATE,
        before=before,
        after={"fault_description": order.fault_description},
        clock=clock,
    )
