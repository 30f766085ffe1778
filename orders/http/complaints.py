"""Contacts' topics and complaints."""

from __future__ import annotations

from fastapi import APIRouter

from core.deps import ClockDep, SessionDep
from orders.enums import ComplaintStatus
from orders.http.common import PathId
from orders.http.deps import AnyUser, Staff
from orders.schemas import ComplaintMove, ComplaintPublic, ContactIn, ContactPublic
from orders.services import complaints

router = APIRouter(tags=["complaints"])


@router.get("/contact-topics")
def contact_topics(_actor: AnyUser) -> dict[str, list[str]]:
    """The topics and, per topic, the contents an agent picks from."""
    return {topic.value: list(contents) for topic, contents in complaints.CONTENTS.items()}


@router.post("/customers/{customer_id}/contacts", status_code=201)
def record_contact(
    customer_id: PathId, data: ContactIn, session: SessionDep, actor: Staff, clock: ClockDep
) -> ContactPublic:
    """A contact's topic and content (a complaint topic opens a complaint)."""
    return complaints.record_contact(
        session, customer_id=customer_id, data=data, actor=actor, clock=clock
    )


@router.get("/complaints")
def list_complaints(
    session: SessionDep,
    _actor: Staff,
    clock: ClockDep,
    status: ComplaintStatus | None = None,
    overdue: bool = False,
) -> list[ComplaintPublic]:
    return complaints.list_complaints(session, status=status, overdue=overdue, now=clock())


@router.patch("/complaints/{complaint_id}")
def move_complaint(
    complaint_id: PathId, data: ComplaintMove, session: SessionDep, actor: Staff, clock: ClockDep
) -> ComplaintPublic:
    """Move it along open → in progress → resolved → closed, give it an owner or a level."""
    return complaints.move_complaint(
        session, complaint_id=complaint_id, data=data, actor=actor, clock=clock
    )
