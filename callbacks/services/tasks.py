"""Outbound tasks as agents and supervisors read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from callbacks.enums import TaskStatus
from callbacks.models import AgentCalendarRow, OutboundTask
from callbacks.schemas import TaskPublic
from orders import customer_names, mark_callbacks_done

WAITING = (TaskStatus.PENDING, TaskStatus.SCHEDULED, TaskStatus.UNPLACED)
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


def cancel_waiting(
    session: Session, condition: ColumnElement[bool], *, outcome: str, now: datetime
) -> int:
    """Cancel the tasks matching ``condition`` that have not been tried to an end yet (a
    number put on the do-not-call list, a customer who opted out); their orders' callbacks
    count as ended. Does not commit."""
    rows = session.exec(
        select(OutboundTask.id, OutboundTask.order_id, OutboundTask.campaign_id).where(
            condition, col(OutboundTask.status).in_(WAITING)
        )
    ).all()
    if not rows:
        return 0
    session.execute(
        update(OutboundTask)
        .where(col(OutboundTask.id).in_([task_id for task_id, _, _ in rows]))
        .values(status=TaskStatus.CANCELLED, outcome=outcome, updated_at=now)
    )
    mark_callbacks_done(
        session, [order_id for _, order_id, campaign in rows if order_id and campaign]
    )
    return len(rows)


def end(session: Session, task: OutboundTask, status: TaskStatus) -> None:
    """The task is over (done or failed); so is its order's callback. Does not commit."""
    task.status = status
    session.add(task)
    if task.order_id is not None and task.campaign_id is not None:
        mark_callbacks_done(session, [task.order_id])
