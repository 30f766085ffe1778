"""The do-not-call list: numbers outbound work never dials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from callbacks.exceptions import DncEntryNotFound, DuplicateDncEntry
from callbacks.models import DncEntry, OutboundTask
from callbacks.schemas import DncIn, DncPublic
from callbacks.services import tasks
from orders import Actor, normalize_phone


def add_number(
    session: Session, data: DncIn, *, actor: Actor, region: str, now: datetime
) -> DncPublic:
    """List the number, and cancel the outbound tasks still waiting to dial it."""
    e164 = normalize_phone(data.phone, default_region=region)
    entry = DncEntry(e164=e164, reason=data.reason, added_by=actor.name, added_at=now)
    session.add(entry)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise DuplicateDncEntry(
            f"{e164} is on the do-not-call list already", details={"e164": e164}
        ) from exc
    cancelled = tasks.cancel_waiting(
        session, col(OutboundTask.phone) == e164, outcome="do_not_call", now=now
    )
    session.commit()
    return DncPublic.model_validate({**entry.model_dump(), "tasks_cancelled": cancelled})


def list_numbers(session: Session, *, offset: int, limit: int) -> list[DncPublic]:
    rows = session.exec(
        select(DncEntry).order_by(col(DncEntry.id).desc()).offset(offset).limit(limit)
    ).all()
    return [DncPublic.model_validate(row, from_attributes=True) for row in rows]


def remove_number(session: Session, entry_id: int) -> None:
    entry = session.get(DncEntry, entry_id)
    if entry is None:
        raise DncEntryNotFound(
            f"do-not-call entry {entry_id} not found", details={"entry_id": entry_id}
        )
    session.delete(entry)
    session.commit()


def is_listed(session: Session, e164: str) -> bool:
    return session.exec(select(DncEntry.id).where(DncEntry.e164 == e164)).first() is not None
