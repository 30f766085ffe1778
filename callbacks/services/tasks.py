"""Outbound tasks as agents and supervisors read them: an agent's day, an agent's week
with the hours of each day, a campaign's tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from callbacks.enums import AssigneeKind, CampaignMode, ExceptionKind, TaskPurpose, TaskStatus
from callbacks.exceptions import InvalidTaskQuery
from callbacks.models import AgentCalendarRow, CalendarException, OutboundTask
from callbacks.schemas import AgentWeek, CallerPublic, DayKind, PromiseIn, TaskPublic, WeekDay
from callbacks.services import calendars
from orders import (
    Actor,
    BusinessCalendar,
    User,
    customer_names,
    get_customer,
    get_user,
    is_working_day,
    mark_callbacks_done,
    normalize_phone,
)

WAITING = (TaskStatus.PENDING, TaskStatus.SCHEDULED, TaskStatus.UNPLACED)
PROMISE_WINDOW = timedelta(hours=2)
"""A promised callback is made within this of the time promised."""
PROMISE_PRIORITY = 20
"""A promise to a customer goes before booked callbacks and campaigns."""
VISIBLE = (TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.FAILED)
DEFAULT_ZONE = "Asia/Shanghai"
"""The zone of an agent without a calendar yet."""
WEEK_DAYS = 7
LISTED_DAY: dict[ExceptionKind, DayKind] = {
    ExceptionKind.LEAVE: "leave",
    ExceptionKind.SICK: "sick",
    ExceptionKind.SHIFT: "extra_shift",
}


def agent_day(session: Session, *, agent_id: int, day: date) -> list[TaskPublic]:
    """The agent's tasks due on ``day`` of the agent's own calendar, in time order."""
    zone = ZoneInfo(_zone_name(session, agent_id))
    tasks = _due_between(
        session, agent_id, _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
    )
    return to_public(session, tasks)


def agent_week(session: Session, *, agent_id: int, now: datetime) -> AgentWeek:
    """The agent's seven days from today (in its zone): each day's working hours and why,
    as the placement of tasks reads them (China's public holidays close a day and its
    make-up working days work Monday's hours; the agent's days off and extra shifts
    replace whole days), with the day's tasks."""
    get_user(session, user_id=agent_id)
    row = session.get(AgentCalendarRow, agent_id)
    zone_name = row.time_zone if row else DEFAULT_ZONE
    weekly = BusinessCalendar.of(
        time_zone=zone_name, working_hours=row.weekly_hours if row else {}, closures=()
    )
    first = now.astimezone(weekly.zone).date()
    days = [first + timedelta(days=offset) for offset in range(WEEK_DAYS)]
    exceptions = {
        exception.day: exception
        for exception in session.exec(
            select(CalendarException).where(
                CalendarException.user_id == agent_id,
                col(CalendarException.day) >= days[0],
                col(CalendarException.day) <= days[-1],
            )
        ).all()
    }
    tasks: dict[date, list[TaskPublic]] = {}
    due = _due_between(
        session,
        agent_id,
        _midnight(days[0], weekly.zone),
        _midnight(days[-1] + timedelta(days=1), weekly.zone),
    )
    for task in to_public(session, due):
        assert task.due_at is not None
        tasks.setdefault(task.due_at.astimezone(weekly.zone).date(), []).append(task)
    return AgentWeek(
        user_id=agent_id,
        time_zone=zone_name,
        days=[_week_day(weekly, day, exceptions.get(day), tasks.get(day, [])) for day in days],
    )


def _week_day(
    weekly: BusinessCalendar,
    day: date,
    exception: CalendarException | None,
    tasks: list[TaskPublic],
) -> WeekDay:
    if exception is not None:
        return WeekDay(
            day=day,
            kind=LISTED_DAY[exception.kind],
            hours=[(start, end) for start, end in exception.hours],
            note=exception.note,
            tasks=tasks,
        )
    hours = weekly.intervals_on(day)
    weekend = day.isoweekday() >= 6
    kind: DayKind
    if hours:
        # A weekend day with hours is one China works in exchange for a holiday.
        kind = "make_up_day" if weekend else "shift"
    elif not weekend and not is_working_day(day):
        kind = "holiday"
    else:
        kind = "rest_day"
    return WeekDay(
        day=day,
        kind=kind,
        hours=[(f"{start:%H:%M}", f"{end:%H:%M}") for start, end in hours],
        tasks=tasks,
    )


def callers(session: Session) -> list[CallerPublic]:
    """Everyone who takes calls (active agents and supervisors), and whether their calendar
    is set: whose week a supervisor may look at and change."""
    users = session.exec(
        select(User)
        .where(col(User.is_active), col(User.role).in_(list(calendars.TAKES_CALLS)))
        .order_by(col(User.id))
    ).all()
    with_calendar = set(session.exec(select(AgentCalendarRow.user_id)).all())
    return [
        CallerPublic(
            user_id=user.id,
            name=user.full_name or user.username,
            role=user.role.value,
            has_calendar=user.id in with_calendar,
        )
        for user in users
        if user.id is not None
    ]


def _zone_name(session: Session, agent_id: int) -> str:
    row = session.get(AgentCalendarRow, agent_id)
    return row.time_zone if row else DEFAULT_ZONE


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def _due_between(
    session: Session, agent_id: int, start: datetime, end: datetime
) -> Sequence[OutboundTask]:
    return session.exec(
        select(OutboundTask)
        .where(
            OutboundTask.assignee_id == agent_id,
            col(OutboundTask.status).in_(VISIBLE),
            col(OutboundTask.due_at) >= start,
            col(OutboundTask.due_at) < end,
        )
        .order_by(col(OutboundTask.due_at), col(OutboundTask.id))
    ).all()


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
    session: Session,
    condition: ColumnElement[bool],
    *,
    outcome: str,
    now: datetime,
    status: TaskStatus = TaskStatus.CANCELLED,
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
        .values(status=status, outcome=outcome, updated_at=now)
    )
    mark_callbacks_done(
        session, [order_id for _, order_id, campaign in rows if order_id and campaign]
    )
    return len(rows)


def close_expired(session: Session, *, now: datetime) -> int:
    """Tasks whose window closed before anyone could make them (unplaced, or never
    placed) fail, so their orders' callbacks end and the orders can be settled."""
    closed = cancel_waiting(
        session,
        col(OutboundTask.deadline_at) <= now,
        outcome="window_closed",
        now=now,
        status=TaskStatus.FAILED,
    )
    session.commit()
    return closed


def end(session: Session, task: OutboundTask, status: TaskStatus) -> None:
    """The task is over (done or failed); so is its order's callback. Does not commit."""
    task.status = status
    session.add(task)
    if task.order_id is not None and task.campaign_id is not None:
        mark_callbacks_done(session, [task.order_id])


def hand_over_overdue(session: Session, *, now: datetime, minutes: int) -> int:
    """An agent's own callbacks still waiting ``minutes`` after their time go to anyone:
    placed again in whichever calendar has room. The number handed over."""
    overdue = session.exec(
        select(OutboundTask.id).where(
            OutboundTask.assignee_kind == AssigneeKind.AGENT,
            OutboundTask.status == TaskStatus.SCHEDULED,
            col(OutboundTask.due_at) < now - timedelta(minutes=minutes),
            col(OutboundTask.deadline_at) > now,
        )
    ).all()
    ids = [task_id for task_id in overdue if task_id is not None]
    if not ids:
        return 0
    session.execute(
        update(OutboundTask)
        .where(col(OutboundTask.id).in_(ids))
        .values(
            assignee_kind=AssigneeKind.TEAM,
            assignee_id=None,
            status=TaskStatus.PENDING,
            due_at=None,
            slot_end=None,
            earliest_at=now,
            updated_at=now,
        )
    )
    session.commit()
    calendars.schedule_pending(session, now=now, task_ids=ids)
    return len(ids)


def promise(
    session: Session, data: PromiseIn, *, actor: Actor, region: str, now: datetime
) -> TaskPublic:
    """A callback an agent promised on a call: their own (``for_me``) or anyone's, at the
    time promised, placed in the calendars like any other."""
    if actor.id is None:
        raise InvalidTaskQuery("the system promises no callbacks")
    if data.customer_id is not None:
        get_customer(session, customer_id=data.customer_id)
    phone = normalize_phone(data.phone, default_region=region)
    personal = data.for_me
    task = OutboundTask(
        purpose=TaskPurpose.PROMISED_CALLBACK,
        customer_id=data.customer_id,
        phone=phone,
        call_id=data.call_id,
        earliest_at=data.at,
        deadline_at=data.at + PROMISE_WINDOW,
        assignee_kind=AssigneeKind.AGENT if personal else AssigneeKind.TEAM,
        assignee_id=actor.id if personal else None,
        mode=CampaignMode.AGENT_CALL,
        priority=PROMISE_PRIORITY,
        note=data.note,
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    calendars.add_and_place(session, task, now=now)
    return to_public(session, [task])[0]
