"""A station's work board: its open jobs with what the station needs to act on each.

The station view and an engineer's "my jobs" read this; it is one query per table, not one
per order, so a station with hundreds of open jobs loads in one round of reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from orders.enums import Role
from orders.exceptions import StationNotFound
from orders.models import (
    Address,
    Appliance,
    Customer,
    CustomerPhone,
    Engineer,
    Station,
    WorkOrder,
)
from orders.schemas import Actor, BoardEngineer, JobCard, StationBoard
from orders.services.transitions import STATION_TARGETS
from orders.states import AWAITED_STATES, OPEN_STATES, allowed_targets

BOARD_STATES = AWAITED_STATES
"""What a station still has to act on: open work, and machines waiting to be collected."""


def station_board(session: Session, *, viewer: Actor) -> StationBoard:
    """The viewer's station's open jobs (an engineer: only their own), oldest first."""
    if viewer.station_id is None or (station := session.get(Station, viewer.station_id)) is None:
        raise StationNotFound("this user is not bound to a station", details={"user": viewer.name})
    query = select(WorkOrder).where(
        WorkOrder.station_id == station.id, col(WorkOrder.status).in_(sorted(BOARD_STATES))
    )
    if viewer.role is Role.ENGINEER:
        mine = session.exec(select(Engineer.id).where(Engineer.user_id == viewer.id)).first()
        query = query.where(WorkOrder.engineer_id == mine)
    orders = session.exec(query.order_by(col(WorkOrder.created_at), col(WorkOrder.id))).all()
    engineers = session.exec(
        select(Engineer)
        .where(Engineer.station_id == station.id, col(Engineer.is_active))
        .order_by(col(Engineer.name))
    ).all()
    load = dict(
        session.exec(
            select(WorkOrder.engineer_id, func.count())
            .where(
                WorkOrder.station_id == station.id,
                col(WorkOrder.status).in_(sorted(OPEN_STATES)),
                col(WorkOrder.engineer_id).is_not(None),
            )
            .group_by(col(WorkOrder.engineer_id))
        ).all()
    )
    names = {e.id: e.name for e in engineers}
    return StationBoard(
        station_id=station.id or 0,
        station_name=station.name,
        jobs=_cards(session, orders, names),
        engineers=[
            BoardEngineer(id=e.id or 0, name=e.name, open_jobs=int(load.get(e.id, 0)))
            for e in engineers
        ],
    )


def _cards(
    session: Session, orders: Sequence[WorkOrder], engineer_names: dict[int | None, str]
) -> list[JobCard]:
    customer_ids = {o.customer_id for o in orders}
    customers = {
        c.id: c
        for c in session.exec(select(Customer).where(col(Customer.id).in_(customer_ids))).all()
    }
    phones: dict[int, list[str]] = defaultdict(list)
    for phone in session.exec(
        select(CustomerPhone)
        .where(col(CustomerPhone.customer_id).in_(customer_ids))
        .order_by(col(CustomerPhone.id))
    ).all():
        phones[phone.customer_id].append(phone.e164)
    addresses = session.exec(
        select(Address).where(col(Address.customer_id).in_(customer_ids))
    ).all()
    by_id = {a.id: a for a in addresses}
    primary = {a.customer_id: a for a in addresses if a.is_primary}
    appliance_ids = {o.appliance_id for o in orders if o.appliance_id is not None}
    appliances = {
        a.id: a
        for a in session.exec(select(Appliance).where(col(Appliance.id).in_(appliance_ids))).all()
    }
    cards = []
    for order in orders:
        customer = customers[order.customer_id]
        address = by_id.get(order.address_id) or primary.get(order.customer_id)
        appliance = appliances.get(order.appliance_id)
        cards.append(
            JobCard(
                id=order.id or 0,
                number=order.number or "",
                status=order.status,
                order_type=order.order_type,
                service_mode=order.service_mode,
                urgency=order.urgency,
                station_reported=order.station_reported,
                created_at=order.created_at,
                customer_name=f"{customer.name}{customer.title}",
                phones=phones.get(order.customer_id, []),
                address=_address_line(address),
                appliance=(f"{appliance.brand} {appliance.model}".strip() if appliance else ""),
                category=appliance.category if appliance else None,
                fault_description=order.fault_description,
                engineer_id=order.engineer_id,
                engineer_name=engineer_names.get(order.engineer_id, ""),
                next_steps=[
                    s
                    for s in allowed_targets(order.status, order.service_mode)
                    if s in STATION_TARGETS
                ],
            )
        )
    return cards


def _address_line(address: Address | None) -> str:
    if address is None:
        return ""
    return f"{address.province}{address.city}{address.district}{address.street}"
