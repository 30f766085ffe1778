"""SLA routes: an order's milestones, and escalations of late repairs."""

from __future__ import annotations

from fastapi import APIRouter

from core.deps import ClockDep, SessionDep
from orders import sla
from orders.http.common import PathId
from orders.http.deps import AnyUser, Staff
from orders.schemas import EscalationPublic, LoanerIn, MilestonePublic, ReasonIn, SoothingCallIn
from orders.services import escalations, work_orders

router = APIRouter(tags=["sla"])


@router.get("/orders/{order_id}/sla")
def order_sla(
    order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> list[MilestonePublic]:
    """The order's milestones: started, due, met, paused (seconds and since) and state."""
    work_orders.get_order(session, order_id=order_id, viewer=actor)
    return sla.order_milestones(session, order_id=order_id, now=clock())


@router.get("/escalations")
def list_escalations(
    session: SessionDep, actor: AnyUser, open: bool = True
) -> list[EscalationPublic]:
    """Orders past 5 days without repair (a station sees its own)."""
    return escalations.list_escalations(session, viewer=actor, open_only=open)


@router.post("/orders/{order_id}/escalation/reason")
def file_reason(
    order_id: PathId, data: ReasonIn, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> EscalationPublic:
    """The station's reason for the delay, filed to the hotline (延期原因)."""
    return escalations.file_reason(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.post("/orders/{order_id}/escalation/loaner")
def record_loaner(
    order_id: PathId, data: LoanerIn, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> EscalationPublic:
    """A loaner unit offered to the customer (备用机), and their answer."""
    return escalations.record_loaner(
        session, order_id=order_id, data=data, actor=actor, clock=clock
    )


@router.post("/orders/{order_id}/escalation/soothing-call")
def soothing_call(
    order_id: PathId, data: SoothingCallIn, session: SessionDep, actor: Staff, clock: ClockDep
) -> EscalationPublic:
    """The hotline called the customer of the late repair and reassured them (安抚)."""
    return escalations.soothing_call(
        session, order_id=order_id, data=data, actor=actor, clock=clock
    )
