"""Appointment routes: the visit window, reschedules and missed visits."""

from __future__ import annotations

from fastapi import APIRouter

from core.deps import ClockDep, SessionDep
from orders.http.common import PathId
from orders.http.deps import AnyUser
from orders.schemas import AppointmentIn, AppointmentPublic, MissedVisitIn
from orders.services import appointments

router = APIRouter(prefix="/orders/{order_id}/appointments", tags=["orders"])


@router.get("")
def list_appointments(
    order_id: PathId, session: SessionDep, actor: AnyUser
) -> list[AppointmentPublic]:
    """Every window agreed for the order, rescheduled and missed ones included."""
    return appointments.appointments(session, order_id=order_id, viewer=actor)


@router.post("", status_code=201)
def schedule(
    order_id: PathId, data: AppointmentIn, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> AppointmentPublic:
    """Agree the visit window (a reschedule when one stands: who asked, and why)."""
    return appointments.schedule(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.post("/missed")
def missed(
    order_id: PathId, data: MissedVisitIn, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> AppointmentPublic:
    """The visit did not happen: recorded against whoever missed it."""
    return appointments.miss(session, order_id=order_id, data=data, actor=actor, clock=clock)
