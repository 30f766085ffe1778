"""A station's work board: its open jobs with what the station needs to act on each.

The station view and an engineer's "my jobs" read this; it is one query per table, not one
per order, so a station with hundreds of open jobs loads in one round of reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from orders.enums import AppointmentStatus, OrderStatus, ReviewStatus, Role
from orders.exceptions import StationNotFound
from orders.models import (
    Address,
    Appliance,
    Appointment,
    CancellationRequest,
    Customer,
    CustomerPhone,
    Engineer,
    HandoverSlip,
    InstallationRecord,
    MaintenanceRecord,
    Station,
    WorkOrder,
)
from orders.schemas import Actor, BoardEngineer, JobCard, StationBoard
from orders.services.transitions import STATION_TARGETS
from orders.states import AWAITED_STATES, OPEN_STATES, allowed_targets

BOARD_STATES = AWAITED_STATES
"""What a station still has to act on: open work, and machines waiting to be collected."""


def station_board(session: Session, *, viewer: Actor, now: datetime) -> StationBoard:
    """The viewer's station's open jobs (an engineer: only their own): today's visits
    first in the order of their windows (the day's round), then the rest oldest first."""
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
    today = now.astimezone(ZoneInfo(station.time_zone)).date()
    return StationBoard(
        station_id=station.id or 0,
        station_name=station.name,
        time_zone=station.time_zone,
        jobs=_todays_round_first(_cards(session, orders, names), station, today),
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
    visits = {
        a.order_id: a
        for a in session.exec(
            select(Appointment).where(
                col(Appointment.order_id).in_([o.id for o in orders]),
                Appointment.status == AppointmentStatus.SCHEDULED,
            )
        ).all()
    }
    ids = [o.id for o in orders]
    at_station = set(
        session.exec(
            select(HandoverSlip.order_id).where(
                col(HandoverSlip.order_id).in_(ids), col(HandoverSlip.returned_at).is_(None)
            )
        ).all()
    )
    pending = set(
        session.exec(
            select(CancellationRequest.order_id).where(
                col(CancellationRequest.order_id).in_(ids),
                CancellationRequest.status == ReviewStatus.PENDING,
            )
        ).all()
    )
    recorded = set(
        session.exec(
            select(InstallationRecord.order_id).where(col(InstallationRecord.order_id).in_(ids))
        ).all()
    ) | set(
        session.exec(
            select(MaintenanceRecord.order_id).where(col(MaintenanceRecord.order_id).in_(ids))
        ).all()
    )
    cards = []
    for order in orders:
        visit = visits.get(order.id or 0)
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
                    # A machine taken back goes home against its slip, not by a step.
                    and not (s is OrderStatus.PICKED_UP and order.id in at_station)
                ],
                visit_start=visit.window_start if visit else None,
                visit_end=visit.window_end if visit else None,
                at_station=order.id in at_station,
                cancellation_pending=order.id in pending,
                has_record=order.id in recorded,
            )
        )
    return cards


def _todays_round_first(cards: list[JobCard], station: Station, today: date) -> list[JobCard]:
    zone = ZoneInfo(station.time_zone)
    for card in cards:
        card.visit_today = (
            card.visit_start is not None and card.visit_start.astimezone(zone).date() == today
        )
    visits = sorted(
        (c for c in cards if c.visit_today), key=lambda c: c.visit_start or c.created_at
    )
    return visits + [c for c in cards if not c.visit_today]


def _address_line(address: Address | None) -> str:
    if address is None:
        return ""
    return f"{address.province}{address.city}{address.district}{address.street}"
