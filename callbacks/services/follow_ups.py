"""The station's own follow-up of its repair (operating spec §3.4.7: 服务结束后48小时内，应主动
回访用户，咨询产品使用情况): when an order is completed, its station's staff get a call to
make within 48 hours, inside the customer's calling hours. Not made in time, it fails
(window closed) and counts against the station; the hotline's sampled satisfaction
callback is a separate task of its campaign."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from callbacks.enums import AssigneeKind, CampaignMode, TaskPurpose, TaskStatus
from callbacks.exceptions import TaskNotFound
from callbacks.models import OutboundTask
from callbacks.schemas import FollowUpFigures, OutcomeIn, OutcomePublic, TaskPublic
from callbacks.services import outcomes, tasks
from callbacks.services.notices import queue_notice
from core.errors import PermissionDenied
from orders import Actor, OrderStatus, Role, WorkOrder, check_period

FOLLOW_UP_WINDOW = timedelta(hours=48)
OPEN = (TaskStatus.SCHEDULED, TaskStatus.UNPLACED, TaskStatus.IN_PROGRESS)


def follow_up_on_completion(
    session: Session, order: WorkOrder, previous: OrderStatus, now: datetime
) -> None:
    """Installed as an orders status listener: a completed order's station follows it up;
    an order completed again (after rectification) is followed up again, the earlier
    call, if still waiting, being moot. Does not commit."""
    if order.status is not OrderStatus.COMPLETED or order.station_id is None:
        return
    tasks.cancel_waiting(
        session,
        (col(OutboundTask.order_id) == order.id)
        & (col(OutboundTask.purpose) == TaskPurpose.STATION_FOLLOW_UP),
        outcome="completed_again",
        now=now,
    )
    queue_notice(
        session,
        order,
        TaskPurpose.STATION_FOLLOW_UP,
        now=now,
        deadline=now + FOLLOW_UP_WINDOW,
        assignee_kind=AssigneeKind.STATION,
        mode=CampaignMode.AGENT_CALL,
        station_id=order.station_id,
        max_attempts=3,
    )


def station_follow_ups(session: Session, *, station_id: int) -> list[TaskPublic]:
    """The station's follow-ups still to make, the most urgent (earliest deadline) first."""
    rows = session.exec(
        select(OutboundTask)
        .where(
            OutboundTask.station_id == station_id,
            OutboundTask.purpose == TaskPurpose.STATION_FOLLOW_UP,
            col(OutboundTask.status).in_(OPEN),
        )
        .order_by(col(OutboundTask.deadline_at), col(OutboundTask.id))
    ).all()
    return tasks.to_public(session, rows)


def follow_up_figures(
    session: Session, *, station_id: int, start: datetime, end: datetime
) -> FollowUpFigures:
    """Of the station's follow-ups due to end in [start, end): made in time, missed (the
    window closed, or never reached), still open."""
    check_period(start, end)
    counts = dict(
        session.exec(
            select(OutboundTask.status, func.count())
            .where(
                OutboundTask.station_id == station_id,
                OutboundTask.purpose == TaskPurpose.STATION_FOLLOW_UP,
                col(OutboundTask.deadline_at) >= start,
                col(OutboundTask.deadline_at) < end,
                OutboundTask.status != TaskStatus.CANCELLED,
            )
            .group_by(col(OutboundTask.status))
        ).all()
    )
    made = counts.get(TaskStatus.DONE, 0)
    missed = counts.get(TaskStatus.FAILED, 0)
    still_open = sum(counts.get(status, 0) for status in OPEN)
    decided = made + missed
    return FollowUpFigures(
        made=made,
        missed=missed,
        open=still_open,
        made_share=made / decided if decided else None,
    )


def _station_task(session: Session, task_id: int, actor: Actor) -> OutboundTask:
    """A follow-up its station's staff (or the hotline's supervisors) may work on."""
    task = outcomes.get_task_row(session, task_id)
    if task.purpose is not TaskPurpose.STATION_FOLLOW_UP:
        raise TaskNotFound(
            f"task {task_id} is not a station follow-up", details={"task_id": task_id}
        )
    if actor.role in (Role.STATION, Role.ENGINEER) and task.station_id != actor.station_id:
        raise PermissionDenied("a station makes its own follow-ups only")
    return task


def record_follow_up(
    session: Session, task_id: int, data: OutcomeIn, *, actor: Actor, now: datetime
) -> OutcomePublic:
    """The station called its customer: reached (what they said in the comment), or not
    (tried again inside the 48 hours while attempts are left)."""
    _station_task(session, task_id, actor)
    return outcomes.record_outcome(session, task_id, data, actor=actor, now=now)


def check_station(actor: Actor, station_id: int) -> None:
    if actor.role in (Role.STATION, Role.ENGINEER) and actor.station_id != station_id:
        raise PermissionDenied("a station sees its own follow-ups only")
