"""When each customer may be called, and whether at all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from callbacks.enums import Outcome, TaskStatus
from callbacks.models import ContactPreference, OutboundTask
from callbacks.schemas import ContactPreferenceIn, ContactPreferencePublic
from callbacks.services import calendars, tasks
from orders import get_customer

OPTED_OUT = Outcome.OPTED_OUT.value


def get_preference(session: Session, customer_id: int) -> ContactPreferencePublic:
    get_customer(session, customer_id=customer_id)
    row = session.get(ContactPreference, customer_id)
    if row is None:
        return ContactPreferencePublic(customer_id=customer_id)
    return ContactPreferencePublic.model_validate(row, from_attributes=True)


def set_preference(
    session: Session, customer_id: int, data: ContactPreferenceIn, *, now: datetime
) -> ContactPreferencePublic:
    """Store the customer's calling hours; opting out cancels the outbound tasks waiting
    for them, and changed hours send the waiting tasks back to be placed again."""
    get_customer(session, customer_id=customer_id)
    row = session.get(ContactPreference, customer_id) or ContactPreference(
        customer_id=customer_id, updated_at=now
    )
    for name, value in data.model_dump().items():
        setattr(row, name, value)
    row.updated_at = now
    session.add(row)
    waiting = (col(OutboundTask.customer_id) == customer_id) & col(OutboundTask.status).in_(
        tasks.WAITING
    )
    if data.opted_out:
        tasks.cancel_waiting(
            session, col(OutboundTask.customer_id) == customer_id, outcome=OPTED_OUT, now=now
        )
        session.commit()
    else:
        moved = list(
            session.exec(
                select(OutboundTask.id).where(
                    waiting,
                    col(OutboundTask.due_at).is_not(None)
                    | (OutboundTask.status == TaskStatus.UNPLACED),
                )
            ).all()
        )
        session.execute(
            update(OutboundTask)
            .where(col(OutboundTask.id).in_(moved))
            .values(status=TaskStatus.PENDING, due_at=None, slot_end=None, updated_at=now)
        )
        session.commit()
        calendars.schedule_pending(session, now=now, task_ids=[i for i in moved if i])
    return ContactPreferencePublic.model_validate(row, from_attributes=True)
