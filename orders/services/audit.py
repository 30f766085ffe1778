"""The audit log: who changed what, when, before and after. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel, col, func, select

from core.types import Clock
from orders.enums import AuditAction
from orders.models import AuditEntry
from orders.schemas import Actor

# Never copied into the audit log, whatever entity they belong to.
_SECRET_FIELDS = frozenset({"password_hash"})


def snapshot(row: SQLModel) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    return {key: value for key, value in data.items() if key not in _SECRET_FIELDS}


def record(
    session: Session,
    *,
    actor: Actor,
    entity: str,
    entity_id: int,
    action: AuditAction,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    clock: Clock,
) -> AuditEntry:
    entry = AuditEntry(
        at=clock(),
        actor_id=actor.id,
        actor_name=actor.name,
        entity=entity,
        entity_id=entity_id,
        action=action,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session,
    *,
    entity: str | None = None,
    entity_id: int | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit).offset(offset)).all()
    return list(rows), total
