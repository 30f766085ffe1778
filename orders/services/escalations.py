"""Escalations of orders not repaired within 5 days: the station's reason for the delay,
the customer's soothing call, and a loaner unit offered (备用机)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.types import Clock
from orders.enums import AuditAction, Role
from orders.exceptions import EscalationNotFound
from orders.models import Escalation, WorkOrder
from orders.news import NewsKind, OrderNews, tell
from orders.schemas import Actor, EscalationPublic, LoanerIn, ReasonIn, SoothingCallIn
from orders.services import audit


def _visible(session: Session, order_id: int, viewer: Actor) -> Escalation:
    row = session.exec(select(Escalation).where(Escalation.order_id == order_id)).first()
    if row is None or (
        viewer.role in (Role.STATION, Role.ENGINEER) and row.station_id != viewer.station_id
    ):
        raise EscalationNotFound(
            f"order {order_id} has no escalation", details={"order_id": order_id}
        )
    return row


def list_escalations(
    session: Session, *, viewer: Actor, open_only: bool = True
) -> list[EscalationPublic]:
    query = (
        select(Escalation, WorkOrder.number)
        .join(WorkOrder, col(WorkOrder.id) == Escalation.order_id)
        .order_by(col(Escalation.opened_at))
    )
    if open_only:
        query = query.where(col(Escalation.closed_at).is_(None))
    if viewer.role in (Role.STATION, Role.ENGINEER):
        query = query.where(Escalation.station_id == viewer.station_id)
    return [_public(row, number) for row, number in session.exec(query)]


def soothing_call(
    session: Session, *, order_id: int, data: SoothingCallIn, actor: Actor, clock: Clock
) -> EscalationPublic:
    """The hotline called the customer of the late repair and reassured them (安抚)."""
    row = _visible(session, order_id, actor)
    before = audit.snapshot(row)
    row.soothing_call_done_at = clock()
    row.soothing_call_by = actor.name
    row.soothing_call_note = data.note
    return _save(session, row, before, actor, clock)


def file_reason(
    session: Session, *, order_id: int, data: ReasonIn, actor: Actor, clock: Clock
) -> EscalationPublic:
    """The station reports why the repair is late (延期原因); a later filing replaces it."""
    row = _visible(session, order_id, actor)
    before = audit.snapshot(row)
    order = session.get(WorkOrder, order_id)
    if not row.reason and order is not None:
        # The customer hears of the longer repair once, when its reason is first known.
        tell(session, OrderNews(NewsKind.REPAIR_EXTENDED, order, now=clock()))
    row.reason = data.reason
    row.reason_filed_at = clock()
    row.reason_filed_by = actor.name
    return _save(session, row, before, actor, clock)


def record_loaner(
    session: Session, *, order_id: int, data: LoanerIn, actor: Actor, clock: Clock
) -> EscalationPublic:
    row = _visible(session, order_id, actor)
    before = audit.snapshot(row)
    row.loaner_offered_at = row.loaner_offered_at or clock()
    row.loaner_accepted = data.accepted
    row.loaner_note = data.note
    return _save(session, row, before, actor, clock)


def _save(
    session: Session, row: Escalation, before: dict[str, object], actor: Actor, clock: Clock
) -> EscalationPublic:
    session.add(row)
    session.flush()
    assert row.id is not None
    audit.record(
        session,
        actor=actor,
        entity="escalation",
        entity_id=row.id,
        action=AuditAction.UPDATE,
        before=before,
        after=audit.snapshot(row),
        clock=clock,
    )
    session.commit()
    order = session.get(WorkOrder, row.order_id)
    return _public(row, order.number if order else "")


def _public(row: Escalation, number: str | None) -> EscalationPublic:
    return EscalationPublic.model_validate({**row.model_dump(), "number": number or ""})
