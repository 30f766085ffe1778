"""The calls side of the supervisor's wall: calls in progress and the day's calls."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col

from orders import customer_names
from telephony.enums import Direction, Disposition
from telephony.models import LIVE, Call
from telephony.schemas import HourFigures, LiveCall


def live_calls(session: Session, *, since: datetime, limit: int) -> list[LiveCall]:
    """Calls not yet ended that rang after ``since``, oldest first: a call older than that
    is a lost hang-up, not a live call."""
    # The columns the wall shows, not whole rows: a row carries its screen pop, kilobytes
    # of JSON decoded for nothing, fifty times a refresh.
    query = (
        core_select(
            col(Call.id),
            col(Call.customer_ids),
            col(Call.from_e164),
            col(Call.from_number),
            col(Call.state),
            col(Call.queue),
            col(Call.agent_id),
            col(Call.ringing_at),
        )
        .where(col(Call.ringing_at) >= since, LIVE)
        .order_by(col(Call.ringing_at))
        .limit(limit)
    )
    rows = session.connection().execute(query).all()
    first = {row[0]: row[1][0] for row in rows if row[1]}
    names = customer_names(session, set(first.values()))
    return [
        LiveCall(
            call_id=call_id,
            from_number=e164 or number,
            state=state.value,
            queue=queue,
            agent_id=agent_id,
            started_at=ringing_at,
            customer_name=names.get(first[call_id]) if call_id in first else None,
        )
        for call_id, _ids, e164, number, state, queue, agent_id, ringing_at in rows
    ]


def calls_per_hour(session: Session, *, now: datetime, zone: ZoneInfo) -> list[HourFigures]:
    """Inbound calls and abandoned calls in each hour of today in ``zone``."""
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    edges = [midnight + timedelta(hours=h) for h in range(25)]
    started = col(Call.ringing_at)
    abandoned = col(Call.disposition) == Disposition.ABANDONED
    columns = []
    for low, high in pairwise(edges):
        in_hour = and_(started >= low, started < high)
        columns.append(func.sum(case((in_hour, 1), else_=0)))
        columns.append(func.sum(case((and_(in_hour, abandoned), 1), else_=0)))
    query = core_select(*columns).where(
        started >= edges[0], started < edges[-1], col(Call.direction) == Direction.INBOUND
    )
    row = session.connection().execute(query).one()
    return [
        HourFigures(hour=h, calls=int(row[2 * h] or 0), abandoned=int(row[2 * h + 1] or 0))
        for h in range(24)
    ]
