"""A station asks to cancel an order (a fault cleared on the phone, 电话排除故障; a
duplicate; the customer withdrew) and the hotline reviews it before the order is
cancelled (审核后删单, spec §1.2.2.2). The station cannot cancel by itself."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.bus import publish_on_commit
from core.types import Clock
from orders.enums import AuditAction, OrderStatus, ReviewStatus, Role
from orders.events import CancellationRequested
from orders.exceptions import CancellationRequestNotFound, InvalidCancellationReview
from orders.models import CancellationRequest, WorkOrder
from orders.schemas import (
    Actor,
    CancellationRequestIn,
    CancellationRequestPublic,
    CancellationReviewIn,
)
from orders.services import audit
from orders.services.transitions import apply_transition
from orders.services.work_orders import engineer_of, visible_order
from orders.states import OPEN_STATES


def request(
    session: Session, *, order_id: int, data: CancellationRequestIn, actor: Actor, clock: Clock
) -> CancellationRequestPublic:
    order = visible_order(session, order_id, actor)
    if order.status not in OPEN_STATES:
        raise InvalidCancellationReview(
            f"a {order.status.value} order cannot be cancelled", details={"status": order.status}
        )
    if _pending(session, order_id) is not None:
        raise InvalidCancellationReview(
            f"order {order.number} already has a cancellation request waiting for review",
            details={"order_id": order_id},
        )
    row = CancellationRequest(
        order_id=order_id,
        reason=data.reason,
        note=data.note,
        requested_by=actor.name,
        requested_at=clock(),
    )
    session.add(row)
    session.flush()
    _audit(session, row, actor, clock, AuditAction.CREATE)
    publish_on_commit(
        session,
        CancellationRequested(
            order_id=order_id,
            number=order.number or "",
            station_id=order.station_id,
            request_id=row.id or 0,
            at=row.requested_at,
        ),
    )
    session.commit()
    return _public(row, order)


def review(
    session: Session, *, request_id: int, data: CancellationReviewIn, actor: Actor, clock: Clock
) -> CancellationRequestPublic:
    """Approve (the order is cancelled, with the request's reason in its history) or
    reject (the order carries on where it is)."""
    row = session.get(CancellationRequest, request_id)
    if row is None:
        raise CancellationRequestNotFound(
            f"cancellation request {request_id} does not exist",
            details={"request_id": request_id},
        )
    if row.status is not ReviewStatus.PENDING:
        raise InvalidCancellationReview(
            f"cancellation request {request_id} was {row.status.value} already",
            details={"status": row.status},
        )
    if data.approve and not data.customer_confirmed:
        raise InvalidCancellationReview(
            "confirm with the customer that the fault is gone before approving",
            details={"field": "customer_confirmed"},
        )
    order = session.get(WorkOrder, row.order_id)
    assert order is not None
    row.status = ReviewStatus.APPROVED if data.approve else ReviewStatus.REJECTED
    row.customer_confirmed = data.customer_confirmed
    row.reviewed_by = actor.name
    row.reviewed_at = clock()
    row.review_note = data.note
    session.add(row)
    if data.approve:
        apply_transition(
            session,
            order=order,
            to=OrderStatus.CANCELLED,
            actor=actor,
            note=f"{row.reason.value}: {row.note} / {data.note}",
            clock=clock,
        )
    _audit(session, row, actor, clock, AuditAction.UPDATE)
    session.commit()
    return _public(row, order)


def requests(
    session: Session, *, status: ReviewStatus | None, viewer: Actor, order_id: int | None = None
) -> list[CancellationRequestPublic]:
    """Oldest first: the review desk works them in the order they came."""
    query = select(CancellationRequest, WorkOrder).join(
        WorkOrder, col(WorkOrder.id) == CancellationRequest.order_id
    )
    if order_id is not None:
        visible_order(session, order_id, viewer)
        query = query.where(CancellationRequest.order_id == order_id)
    elif viewer.role is Role.ENGINEER:
        query = query.where(WorkOrder.engineer_id == engineer_of(session, viewer))
    elif viewer.role is Role.STATION:
        query = query.where(WorkOrder.station_id == viewer.station_id)
    if status is not None:
        query = query.where(CancellationRequest.status == status)
    rows = session.exec(query.order_by(col(CancellationRequest.id)).limit(500)).all()
    return [_public(row, order) for row, order in rows]


def _pending(session: Session, order_id: int) -> CancellationRequest | None:
    return session.exec(
        select(CancellationRequest).where(
            CancellationRequest.order_id == order_id,
            CancellationRequest.status == ReviewStatus.PENDING,
        )
    ).first()


def _public(row: CancellationRequest, order: WorkOrder) -> CancellationRequestPublic:
    return CancellationRequestPublic.model_validate(
        {**row.model_dump(), "order_number": order.number or ""}
    )


def _audit(
    session: Session, row: CancellationRequest, actor: Actor, clock: Clock, action: AuditAction
) -> None:
    audit.record(
        session,
        actor=actor,
        entity="cancellation_request",
        entity_id=row.id or 0,
        action=action,
        after=audit.snapshot(row),
        clock=clock,
    )
