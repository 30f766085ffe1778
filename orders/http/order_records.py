"""Records kept on an order: the handover slip of a machine taken to the station (拉修),
the station's cancellation requests and the hotline's review (审核后删单), and the
installation and maintenance records filed at the visit."""

from __future__ import annotations

from fastapi import APIRouter, Response

from core.deps import ClockDep, SessionDep
from orders.enums import ReviewStatus
from orders.http.common import PathId
from orders.http.deps import AnyUser, Staff
from orders.schemas import (
    CancellationRequestIn,
    CancellationRequestPublic,
    CancellationReviewIn,
    HandoverSlipPublic,
    InstallationRecordIn,
    InstallationRecordPublic,
    MachineReturnIn,
    MaintenanceRecordIn,
    MaintenanceRecordPublic,
    TakeBackIn,
)
from orders.services import cancellations, handover, service_records

router = APIRouter(tags=["orders"])


@router.get("/orders/{order_id}/handover")
def handover_slips(
    order_id: PathId, session: SessionDep, actor: AnyUser
) -> list[HandoverSlipPublic]:
    return handover.slips(session, order_id=order_id, viewer=actor)


@router.post("/orders/{order_id}/handover", status_code=201)
def take_back(
    order_id: PathId, data: TakeBackIn, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> HandoverSlipPublic:
    """拉修: the machine goes to the station with the customer's consent; the order is
    repaired there and waits to be returned."""
    return handover.take_back(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.post("/orders/{order_id}/handover/return")
def give_back(
    order_id: PathId, data: MachineReturnIn, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> HandoverSlipPublic:
    """The repaired machine is back with the customer, who signs for it."""
    return handover.give_back(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.post("/orders/{order_id}/cancellation-requests", status_code=201)
def request_cancellation(
    order_id: PathId,
    data: CancellationRequestIn,
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
) -> CancellationRequestPublic:
    """A station asks the hotline to cancel the order (e.g. the fault was cleared on the
    phone); the order stays as it is until the hotline reviews the request."""
    return cancellations.request(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.get("/orders/{order_id}/cancellation-requests")
def order_cancellation_requests(
    order_id: PathId, session: SessionDep, actor: AnyUser
) -> list[CancellationRequestPublic]:
    return cancellations.requests(session, status=None, viewer=actor, order_id=order_id)


@router.get("/cancellation-requests")
def cancellation_requests(
    session: SessionDep, actor: AnyUser, status: ReviewStatus | None = ReviewStatus.PENDING
) -> list[CancellationRequestPublic]:
    """The review desk (pending ones by default, oldest first); a station sees its own."""
    return cancellations.requests(session, status=status, viewer=actor)


@router.post("/cancellation-requests/{request_id}/review")
def review_cancellation(
    request_id: PathId,
    data: CancellationReviewIn,
    session: SessionDep,
    actor: Staff,
    clock: ClockDep,
) -> CancellationRequestPublic:
    """The hotline approves (after hearing from the customer) or rejects."""
    return cancellations.review(session, request_id=request_id, data=data, actor=actor, clock=clock)


@router.post("/orders/{order_id}/installation-record", status_code=201)
def file_installation_record(
    order_id: PathId,
    data: InstallationRecordIn,
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
) -> InstallationRecordPublic:
    """装机单, filed during the installation visit; the order completes only with it."""
    return service_records.file_installation(
        session, order_id=order_id, data=data, actor=actor, clock=clock
    )


@router.get(
    "/orders/{order_id}/installation-record",
    response_model=InstallationRecordPublic,
    responses={204: {"description": "No installation record has been filed for the order"}},
)
def installation_record(
    order_id: PathId, session: SessionDep, actor: AnyUser
) -> InstallationRecordPublic | Response:
    record = service_records.installation_record(session, order_id=order_id, viewer=actor)
    return Response(status_code=204) if record is None else record


@router.post("/orders/{order_id}/maintenance-record", status_code=201)
def file_maintenance_record(
    order_id: PathId,
    data: MaintenanceRecordIn,
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
) -> MaintenanceRecordPublic:
    """保护保养记录, filed during the maintenance visit; the order completes only with it."""
    return service_records.file_maintenance(
        session, order_id=order_id, data=data, actor=actor, clock=clock
    )
