"""Audit log routes: read only, for supervisors and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from core.deps import SessionDep
from orders.http.common import IdFilter, Limit, Offset
from orders.http.deps import Supervisor
from orders.schemas import AuditPublic, NoNul, Page, as_utc
from orders.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_audit(
    session: SessionDep,
    _actor: Supervisor,
    entity: Annotated[str | None, Query(max_length=32), NoNul] = None,
    entity_id: IdFilter = None,
    actor_id: IdFilter = None,
    since: datetime | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AuditPublic]:
    rows, total = audit.list_entries(
        session,
        entity=entity,
        entity_id=entity_id,
        actor_id=actor_id,
        since=as_utc(since),
        limit=limit,
        offset=offset,
    )
    items = [AuditPublic.model_validate(row, from_attributes=True) for row in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)
