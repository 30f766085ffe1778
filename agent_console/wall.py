"""The supervisor's wall: queues, agents, live calls, SLA clocks, complaints, the day's calls.

Built by the gateway when events arrive (at most every so often) and pushed to supervisors'
consoles; the day's figures (SLA, complaints, calls per hour) change slowly and are reused
for a while, so a busy hotline does not scan its day on every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import and_, case, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from agent_console.config import ConsoleConfig
from agent_console.schemas import (
    HourFigures,
    Wall,
    WallAgent,
    WallCall,
    WallSla,
    WallSlaOrder,
)
from agent_console.sla import sla_clock
from orders.enums import ComplaintStatus, Urgency
from orders.models import Complaint, Customer, User, WorkOrder
from orders.states import OPEN_STATES
from telephony.acd import Acd
from telephony.enums import CallState, Disposition
from telephony.models import Call


@dataclass(frozen=True)
class DayFigures:
    sla: WallSla
    complaints_by_crisis_level: dict[int, int]
    calls_per_hour: list[HourFigures]
    at: datetime


def build_wall(
    session: Session, *, acd: Acd, now: datetime, config: ConsoleConfig, day: DayFigures
) -> Wall:
    return Wall(
        at=now,
        timezone=config.timezone,
        queues=[acd.figures(queue) for queue in acd.queues()],
        agents=wall_agents(session, acd=acd),
        calls=live_calls(session, now=now, config=config),
        sla=day.sla,
        complaints_by_crisis_level=day.complaints_by_crisis_level,
        calls_per_hour=day.calls_per_hour,
    )


def current_wall(session: Session, *, acd: Acd, now: datetime, config: ConsoleConfig) -> Wall:
    """The wall built from scratch (the REST view; the hub reuses the day's figures)."""
    day = day_figures(session, now=now, config=config)
    return build_wall(session, acd=acd, now=now, config=config, day=day)


def day_figures(session: Session, *, now: datetime, config: ConsoleConfig) -> DayFigures:
    return DayFigures(
        sla=sla_figures(session, now=now, config=config),
        complaints_by_crisis_level=complaints_by_level(session),
        calls_per_hour=calls_per_hour(session, now=now, config=config),
        at=now,
    )


def wall_agents(session: Session, *, acd: Acd) -> list[WallAgent]:
    agents = acd.presence.all()
    ids = [agent.agent_id for agent in agents]
    names = dict(
        session.exec(
            select(User.id, func.coalesce(func.nullif(User.full_name, ""), User.username)).where(
                col(User.id).in_(ids)
            )
        ).all()
        if ids
        else []
    )
    return [
        WallAgent(
            agent_id=agent.agent_id,
            name=names.get(agent.agent_id, str(agent.agent_id)),
            state=agent.state,
            since=agent.since,
            reason=agent.reason,
            call_id=agent.call_id,
            queues=agent.queues,
        )
        for agent in agents
    ]


def live_calls(session: Session, *, now: datetime, config: ConsoleConfig) -> list[WallCall]:
    """Calls not yet ended, oldest first; long-forgotten ones (a lost hang-up) are left out."""
    since = now - timedelta(hours=config.live_call_window_hours)
    # The columns the wall shows, not whole rows: a row carries its screen pop, kilobytes
    # of JSON decoded for nothing, fifty times a refresh.
    rows = session.exec(
        select(
            Call.id,
            Call.customer_ids,
            Call.from_e164,
            Call.from_number,
            Call.state,
            Call.queue,
            Call.agent_id,
            Call.ringing_at,
        )
        .where(Call.ringing_at >= since, Call.state != CallState.ENDED)
        .order_by(col(Call.ringing_at))
        .limit(config.live_calls)
    ).all()
    first = {row.id: row.customer_ids[0] for row in rows if row.customer_ids}
    names = dict(
        session.exec(
            select(Customer.id, Customer.name).where(col(Customer.id).in_(set(first.values())))
        ).all()
        if first
        else []
    )
    return [
        WallCall(
            call_id=row.id,
            from_number=row.from_e164 or row.from_number,
            state=row.state.value,
            queue=row.queue,
            agent_id=row.agent_id,
            started_at=row.ringing_at,
            customer_name=names.get(first[row.id]) if row.id in first else None,
        )
        for row in rows
    ]


def sla_figures(session: Session, *, now: datetime, config: ConsoleConfig) -> WallSla:
    policy = config.sla
    warning = breached = 0
    worst: list[WorkOrder] = []
    for urgency in Urgency:
        due_before = now - policy.target(urgency)
        warn_before = now - policy.warning_after(urgency)
        base = (col(WorkOrder.status).in_(sorted(OPEN_STATES)), WorkOrder.urgency == urgency)
        late = (*base, WorkOrder.created_at < due_before)
        close = (*base, WorkOrder.created_at >= due_before, WorkOrder.created_at < warn_before)
        breached += session.exec(select(func.count()).select_from(WorkOrder).where(*late)).one()
        warning += session.exec(select(func.count()).select_from(WorkOrder).where(*close)).one()
        for where in (late, close):
            worst += session.exec(
                select(WorkOrder)
                .where(*where)
                .order_by(col(WorkOrder.created_at))
                .limit(config.sla_orders)
            ).all()
    listed = [
        WallSlaOrder(
            number=order.number or "",
            status=order.status.value,
            urgency=order.urgency,
            created_at=order.created_at,
            sla=sla_clock(
                created_at=order.created_at, urgency=order.urgency, now=now, policy=policy
            ),
        )
        for order in worst
    ]
    listed.sort(key=lambda item: item.sla.due_at)
    return WallSla(warning=warning, breached=breached, orders=listed[: config.sla_orders])


def complaints_by_level(session: Session) -> dict[int, int]:
    rows = session.exec(
        select(Complaint.crisis_level, func.count())
        .where(Complaint.status == ComplaintStatus.OPEN)
        .group_by(col(Complaint.crisis_level))
    ).all()
    found = dict(rows)
    return {level: int(found.get(level, 0)) for level in range(4)}


def calls_per_hour(session: Session, *, now: datetime, config: ConsoleConfig) -> list[HourFigures]:
    """Inbound calls and abandoned calls in each hour of the hotline's today."""
    local = now.astimezone(config.zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    edges = [midnight + timedelta(hours=h) for h in range(25)]
    started = col(Call.ringing_at)
    abandoned = Call.disposition == Disposition.ABANDONED
    columns = []
    for low, high in pairwise(edges):
        in_hour = and_(started >= low, started < high)
        columns.append(func.sum(case((in_hour, 1), else_=0)))
        columns.append(func.sum(case((and_(in_hour, abandoned), 1), else_=0)))
    row = session.exec(core_select(*columns).where(started >= edges[0], started < edges[-1])).one()
    return [
        HourFigures(hour=h, calls=int(row[2 * h] or 0), abandoned=int(row[2 * h + 1] or 0))
        for h in range(24)
    ]
