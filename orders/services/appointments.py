"""Visit appointments: the window agreed with the customer, reschedules with the reason
and who asked (改约), and missed visits held against the station (失约)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, func, select

from core.types import Clock
from orders.enums import AppointmentStatus, AuditAction, OrderStatus
from orders.exceptions import AppointmentNotFound, InvalidAppointment
from orders.models import Appointment
from orders.news import NewsKind, OrderNews, tell
from orders.schemas import Actor, AppointmentIn, AppointmentPublic, MissedVisitIn
from orders.services import audit
from orders.services.work_orders import visible_order

MAX_WINDOW = timedelta(hours=12)


def appointments(session: Session, *, order_id: int, viewer: Actor) -> list[AppointmentPublic]:
    visible_order(session, order_id, viewer)
    rows = session.exec(
        select(Appointment).where(Appointment.order_id == order_id).order_by(col(Appointment.id))
    ).all()
    return [AppointmentPublic.model_validate(r, from_attributes=True) for r in rows]


def schedule(
    session: Session, *, order_id: int, data: AppointmentIn, actor: Actor, clock: Clock
) -> AppointmentPublic:
    """Agree a visit window; a standing appointment is rescheduled, keeping who asked and
    why (both required then)."""
    order = visible_order(session, order_id, actor)
    if data.window_end <= data.window_start or data.window_end - data.window_start > MAX_WINDOW:
        raise InvalidAppointment(
            f"a visit window ends after it starts and spans at most {MAX_WINDOW}",
            details={"field": "window_end"},
        )
    if order.status not in (
        OrderStatus.ACCEPTED,
        OrderStatus.CONTACTED,
        OrderStatus.WAITING_PARTS,
        OrderStatus.IN_SERVICE,
        OrderStatus.REOPENED,
    ):
        raise InvalidAppointment(
            f"a {order.status.value} order takes no appointment", details={"status": order.status}
        )
    standing = _standing(session, order_id)
    if standing is not None:
        if data.requested_by is None or not data.reason:
            raise InvalidAppointment(
                "rescheduling needs who asked and why", details={"field": "reason"}
            )
        standing.status = AppointmentStatus.RESCHEDULED
        standing.requested_by = data.requested_by
        standing.reason = data.reason
        session.add(standing)
    row = Appointment(
        order_id=order_id,
        station_id=order.station_id,
        window_start=data.window_start,
        window_end=data.window_end,
        created_by=actor.name,
        created_at=clock(),
    )
    session.add(row)
    tell(
        session,
        OrderNews(NewsKind.VISIT_BOOKED, order, now=clock(), about=data.window_start),
    )
    return _saved(session, row, actor, clock)


def miss(
    session: Session, *, order_id: int, data: MissedVisitIn, actor: Actor, clock: Clock
) -> AppointmentPublic:
    order = visible_order(session, order_id, actor)
    standing = _standing(session, order_id)
    if standing is None:
        raise AppointmentNotFound(
            f"order {order_id} has no standing appointment", details={"order_id": order_id}
        )
    standing.status = AppointmentStatus.MISSED
    standing.requested_by = data.fault_of
    standing.reason = data.reason
    session.add(standing)
    tell(session, OrderNews(NewsKind.VISIT_OFF, order, now=clock()))
    return _saved(session, standing, actor, clock)


def missed_by_station(session: Session) -> dict[int, int]:
    rows = session.exec(
        select(Appointment.station_id, func.count())
        .where(
            Appointment.status == AppointmentStatus.MISSED, col(Appointment.station_id).is_not(None)
        )
        .group_by(col(Appointment.station_id))
    ).all()
    return {station_id: count for station_id, count in rows if station_id is not None}


def standing_visit(session: Session, order_id: int) -> Appointment | None:
    """The order's visit still to happen, if one is agreed."""
    return _standing(session, order_id)


def _standing(session: Session, order_id: int) -> Appointment | None:
    return session.exec(
        select(Appointment).where(
            Appointment.order_id == order_id, Appointment.status == AppointmentStatus.SCHEDULED
        )
    ).first()


def _saved(session: Session, row: Appointment, actor: Actor, clock: Clock) -> AppointmentPublic:
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="appointment",
        entity_id=row.id or 0,
        action=AuditAction.UPDATE,
        after=audit.snapshot(row),
        clock=clock,
    )
    session.commit()
    return AppointmentPublic.model_validate(row, from_attributes=True)
