"""Outbound tasks as agents and supervisors read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from callbacks.enums import TaskStatus
from callbacks.models import AgentCalendarRow, OutboundTask
from callbacks.schemas import TaskPublic
from orders import customer_names

VISIBLE = (TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.FAILED)


def agent_day(session: Session, *, agent_id: int, day: date) -> list[TaskPublic]:
    """The agent's tasks due on ``day`` of the agent's own calendar, in time order."""
    row = session.get(AgentCalendarRow, agent_id)
    zone = ZoneInfo(row.time_zone if row else "Asia/Shanghai")
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    tasks = session.exec(
        select(OutboundTask)
        .where(
            OutboundTask.assignee_id == agent_id,
            col(OutboundTask.status).in_(VISIBLE),
            col(OutboundTask.due_at) >= start,
            col(OutboundTask.due_at) < end,
        )
        .order_by(col(OutboundTask.due_at), col(OutboundTask.id))
    ).all()
    return to_public(session, tasks)


def campaign_tasks(
    session: Session, *, campaign_id: int, status: TaskStatus | None, offset: int, limit: int
) -> list[TaskPublic]:
    query = select(OutboundTask).where(OutboundTask.campaign_id == campaign_id)
    if status is not None:
        query = query.where(OutboundTask.status == status)
    tasks = session.exec(query.order_by(col(OutboundTask.id)).offset(offset).limit(limit)).all()
    return to_public(session, tasks)


def to_public(session: Session, tasks: Sequence[OutboundTask]) -> list[TaskPublic]:
    names = customer_names(session, {t.customer_id for t in tasks if t.customer_id})
    return [
        TaskPublic.model_validate(
            {**task.model_dump(), "customer_name": names.get(task.customer_id or 0)}
        )
        for task in tasks
    ]
