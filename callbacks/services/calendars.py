"""Agents' calendars, and placing outbound tasks in them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from callbacks import scheduling
from callbacks.enums import AssigneeKind, ExceptionKind, TaskStatus
from callbacks.exceptions import InvalidCalendar
from callbacks.models import AgentCalendarRow, CalendarException, ContactPreference, OutboundTask
from callbacks.schemas import CalendarDay, CalendarIn, CalendarPublic
from orders import BusinessCalendar, Role, User, get_user

TAKES_CALLS = frozenset({Role.AGENT, Role.SUPERVISOR})
DEFAULT_HOURS = scheduling.CallingHours(zone=ZoneInfo("Asia/Shanghai"))
"""A customer without preferences is called 09:00-20:00 China time, any day."""
OPEN = (TaskStatus.PENDING, TaskStatus.UNPLACED)
CHUNK = 5_000


@dataclass(frozen=True)
class Placed:
    scheduled: int
    unplaced: int


OUTSIDE_CALENDARS = (AssigneeKind.DIALER, AssigneeKind.STATION)
"""Tasks no agent's calendar holds: the dialer's, and a station's own calls."""


def get_calendar(session: Session, user_id: int) -> CalendarPublic:
    get_user(session, user_id=user_id)
    row = session.get(AgentCalendarRow, user_id)
    if row is None:
        return CalendarPublic(
            user_id=user_id,
            time_zone="Asia/Shanghai",
            weekly_hours={},
            capacity_per_hour=6,
            skills=[],
            languages=[],
            days=[],
        )
    return _public(session, row)


def _public(session: Session, row: AgentCalendarRow, **moved: int) -> CalendarPublic:
    days = session.exec(
        select(CalendarException)
        .where(CalendarException.user_id == row.user_id)
        .order_by(col(CalendarException.day))
    ).all()
    return CalendarPublic(
        user_id=row.user_id,
        time_zone=row.time_zone,
        weekly_hours=row.weekly_hours,
        capacity_per_hour=row.capacity_per_hour,
        skills=row.skills,
        languages=row.languages,
        days=[
            CalendarDay(day=d.day, kind=d.kind, hours=[(a, b) for a, b in d.hours], note=d.note)
            for d in days
        ],
        **moved,
    )


def put_calendar(
    session: Session, user_id: int, data: CalendarIn, *, now: datetime
) -> CalendarPublic:
    """Replace the agent's calendar; its future tasks that no longer fit it move to other
    agents (or other free times), and those that fit nowhere are reported unplaced."""
    user = get_user(session, user_id=user_id)
    if user.role not in TAKES_CALLS or not user.is_active:
        raise InvalidCalendar(
            f"{user.username} takes no calls (role {user.role.value})",
            details={"user_id": user_id},
        )
    row = session.get(AgentCalendarRow, user_id) or AgentCalendarRow(
        user_id=user_id, updated_at=now
    )
    row.time_zone = data.time_zone
    row.weekly_hours = {day: [list(s) for s in spans] for day, spans in data.weekly_hours.items()}
    row.capacity_per_hour = data.capacity_per_hour
    row.skills = sorted(set(data.skills))
    row.languages = sorted(set(data.languages))
    row.updated_at = now
    session.add(row)
    session.flush()
    session.execute(delete(CalendarException).where(col(CalendarException.user_id) == user_id))
    for day in data.days:
        session.add(
            CalendarException(
                user_id=user_id,
                day=day.day,
                kind=day.kind,
                hours=[list(span) for span in day.hours],
                note=day.note,
            )
        )
    session.flush()
    moved = _release_unfitting(session, user_id, now=now)
    placed = schedule_pending(session, now=now, task_ids=moved) if moved else Placed(0, 0)
    session.commit()
    return _public(session, row, tasks_moved=len(moved), tasks_unplaced=placed.unplaced)


def _release_unfitting(session: Session, user_id: int, *, now: datetime) -> list[int]:
    """The agent's future tasks whose slot its calendar no longer holds, set back to be
    placed again (a personal task goes to anyone: its agent cannot make it)."""
    tasks = session.exec(
        select(OutboundTask).where(
            OutboundTask.assignee_id == user_id,
            OutboundTask.status == TaskStatus.SCHEDULED,
            col(OutboundTask.due_at) >= now,
        )
    ).all()
    if not tasks:
        return []
    agents = load_agents(session, user_ids=[user_id])
    agent = agents[0] if agents else None
    released: list[int] = []
    for task in tasks:
        assert task.due_at is not None and task.slot_end is not None and task.id is not None
        if agent is not None and (task.due_at, task.slot_end) in agent.slots(
            task.due_at, task.slot_end
        ):
            continue
        task.status = TaskStatus.PENDING
        task.assignee_kind = AssigneeKind.TEAM
        task.assignee_id = None
        task.due_at = task.slot_end = None
        task.updated_at = now
        session.add(task)
        released.append(task.id)
    session.flush()
    return released


def load_agents(
    session: Session, *, user_ids: Sequence[int] | None = None
) -> list[scheduling.AgentCalendar]:
    """The calendars of active agents and supervisors, as the placement reads them."""
    query = (
        select(AgentCalendarRow)
        .join(User, col(User.id) == AgentCalendarRow.user_id)
        .where(col(User.is_active), col(User.role).in_(list(TAKES_CALLS)))
        .order_by(col(AgentCalendarRow.user_id))
    )
    if user_ids is not None:
        query = query.where(col(AgentCalendarRow.user_id).in_(list(user_ids)))
    rows = session.exec(query).all()
    exceptions: dict[int, list[CalendarException]] = {}
    for exception in session.exec(select(CalendarException)).all():
        exceptions.setdefault(exception.user_id, []).append(exception)
    return [_agent(row, exceptions.get(row.user_id, [])) for row in rows]


def _agent(row: AgentCalendarRow, days: Sequence[CalendarException]) -> scheduling.AgentCalendar:
    off = [d.day for d in days if d.kind is not ExceptionKind.SHIFT]
    overrides = {
        d.day: tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in d.hours)
        for d in days
        if d.kind is ExceptionKind.SHIFT
    }
    return scheduling.AgentCalendar(
        agent_id=row.user_id,
        calendar=BusinessCalendar.of(
            time_zone=row.time_zone, working_hours=row.weekly_hours, closures=off
        ),
        capacity_per_hour=row.capacity_per_hour,
        overrides=overrides,
        skills=frozenset(row.skills),
        languages=frozenset(row.languages),
    )


def calling_hours(preference: ContactPreference | None) -> scheduling.CallingHours:
    if preference is None:
        return DEFAULT_HOURS
    return scheduling.CallingHours(
        zone=ZoneInfo(preference.time_zone),
        start=time.fromisoformat(preference.call_from),
        end=time.fromisoformat(preference.call_to),
        weekdays=frozenset(preference.weekdays),
    )


def add_and_place(session: Session, task: OutboundTask, *, now: datetime) -> OutboundTask:
    """Keep a one-off task (a booked, promised or follow-up callback) and place it at once,
    as :func:`schedule_pending` places any: committed first, so that no placement can lose
    it; returned as placed."""
    session.add(task)
    session.commit()
    assert task.id is not None
    schedule_pending(session, now=now, task_ids=[task.id])
    session.refresh(task)
    return task


def schedule_pending(
    session: Session,
    *,
    now: datetime,
    campaign_id: int | None = None,
    task_ids: Sequence[int] | None = None,
) -> Placed:
    """Place the open tasks (of a campaign, or the ones named) whose deadline is ahead:
    agents' tasks in their calendars; the dialer's, and a station's own, at the first
    moment the customer may be called. What fits nowhere is marked unplaced with the
    reason, never dropped."""
    columns = (
        col(OutboundTask.id),
        col(OutboundTask.customer_id),
        col(OutboundTask.earliest_at),
        col(OutboundTask.deadline_at),
        col(OutboundTask.assignee_kind),
        col(OutboundTask.assignee_id),
        col(OutboundTask.skill),
        col(OutboundTask.language),
        col(OutboundTask.priority),
    )
    query = sa_select(*columns).where(
        col(OutboundTask.status).in_(OPEN), col(OutboundTask.deadline_at) > now
    )
    if campaign_id is not None:
        query = query.where(col(OutboundTask.campaign_id) == campaign_id)
    if task_ids is not None:
        query = query.where(col(OutboundTask.id).in_(list(task_ids)))
    session.flush()
    rows = session.connection().execute(query).all()
    if not rows:
        return Placed(0, 0)
    preferences = {p.customer_id: calling_hours(p) for p in session.exec(select(ContactPreference))}
    for_agents: list[scheduling.TaskToPlace] = []
    by_hours: list[scheduling.TaskToPlace] = []
    for task_id, customer_id, earliest, deadline, kind, assignee, skill, language, prio in rows:
        assert task_id is not None
        task = scheduling.TaskToPlace(
            key=task_id,
            earliest=max(earliest, now),
            deadline=deadline,
            hours=preferences.get(customer_id or 0, DEFAULT_HOURS),
            priority=prio,
            skill=skill,
            language=_language(language),
            agent_id=assignee if kind is AssigneeKind.AGENT else None,
        )
        (by_hours if kind in OUTSIDE_CALENDARS else for_agents).append(task)
    changes: list[dict[str, Any]] = []
    if for_agents:
        plan = scheduling.place(
            for_agents, load_agents(session), taken=taken_slots(session, now=now)
        )
        changes += [
            {
                "id": p.key,
                "status": TaskStatus.SCHEDULED,
                "assignee_id": p.agent_id,
                "due_at": p.start,
                "slot_end": p.end,
                "unplaced_reason": "",
                "updated_at": now,
            }
            for p in plan.placements
        ]
        changes += [_unplaced(u.key, u.reason, now) for u in plan.unplaced]
    for task in by_hours:
        moment = first_allowed(task.hours, task.earliest, task.deadline)
        if moment is None:
            changes.append(
                _unplaced(
                    task.key,
                    f"the customer may not be called before {task.deadline:%Y-%m-%d %H:%M} UTC",
                    now,
                )
            )
        else:
            changes.append(
                {
                    "id": task.key,
                    "status": TaskStatus.SCHEDULED,
                    "assignee_id": None,
                    "due_at": moment,
                    "slot_end": None,
                    "unplaced_reason": "",
                    "updated_at": now,
                }
            )
    placed = [c for c in changes if c["status"] is TaskStatus.SCHEDULED]
    unplaced = [c for c in changes if c["status"] is TaskStatus.UNPLACED]
    for batch in (placed, unplaced):
        for start in range(0, len(batch), CHUNK):
            session.execute(update(OutboundTask), batch[start : start + CHUNK])
    session.commit()
    return Placed(scheduled=len(placed), unplaced=len(unplaced))


def taken_slots(session: Session, *, now: datetime) -> list[tuple[int, datetime]]:
    """(agent, start) of every slot booked from now on."""
    rows = session.exec(
        select(OutboundTask.assignee_id, OutboundTask.due_at).where(
            OutboundTask.status == TaskStatus.SCHEDULED, col(OutboundTask.due_at) >= now
        )
    ).all()
    return [(agent, due) for agent, due in rows if agent is not None and due is not None]


def _unplaced(task_id: int, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "id": task_id,
        "status": TaskStatus.UNPLACED,
        "due_at": None,
        "slot_end": None,
        "unplaced_reason": reason,
        "updated_at": now,
    }


def _language(code: str | None) -> str | None:
    """Agents list the languages they speak (zh, en); customers' preferences carry a
    region (zh-CN)."""
    return code.split("-")[0].lower() if code else None


def local_today(session: Session, user_id: int, *, now: datetime) -> date:
    row = session.get(AgentCalendarRow, user_id)
    return now.astimezone(ZoneInfo(row.time_zone if row else "Asia/Shanghai")).date()


def first_allowed(
    hours: scheduling.CallingHours, earliest: datetime, deadline: datetime
) -> datetime | None:
    """The first moment in [earliest, deadline) the customer's calling hours allow."""
    day = earliest.astimezone(hours.zone).date()
    while True:
        start = scheduling.local_instant(day, hours.start, hours.zone)
        if start >= deadline:
            return None
        end = scheduling.local_instant(day, hours.end, hours.zone)
        moment = max(start, earliest)
        if day.isoweekday() in hours.weekdays and moment < min(end, deadline):
            return moment
        day += timedelta(days=1)
