"""What came of an outbound contact: a score into the order, a retry, or an end."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col

from callbacks.enums import AssigneeKind, Outcome, TaskPurpose, TaskStatus
from callbacks.events import CampaignProgressed
from callbacks.exceptions import InvalidOutcome, TaskNotFound
from callbacks.models import ContactPreference, OutboundTask
from callbacks.schemas import OutcomeIn, OutcomePublic
from callbacks.services import calendars, tasks
from core.bus import publish_on_commit
from core.errors import PermissionDenied
from orders import Actor, Role, record_satisfaction

RETRY_AFTER = {
    Outcome.BUSY: timedelta(minutes=15),
    Outcome.NO_ANSWER: timedelta(hours=2),
    Outcome.VOICEMAIL: timedelta(hours=2),
}
"""How long before trying again, by what the last attempt met: a busy line is free soon;
someone who did not answer is likelier to in another part of the day."""
OPEN_FOR_OUTCOME = (TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS, TaskStatus.UNPLACED)
RECTIFICATION_CHECK = (timedelta(hours=48), timedelta(days=7))
"""After a low score, the customer is called again once the station has had time to put it
right: from two days to a week later."""


def get_task_row(session: Session, task_id: int) -> OutboundTask:
    task = session.get(OutboundTask, task_id)
    if task is None:
        raise TaskNotFound(f"task {task_id} not found", details={"task_id": task_id})
    return task


def record_outcome(
    session: Session, task_id: int, data: OutcomeIn, *, actor: Actor, now: datetime
) -> OutcomePublic:
    """One attempt's outcome. A score lands on the order (a low one opens a complaint and
    sends the order back to its station, with a call to check it was put right); a busy
    line, no answer or voicemail is tried again later inside the window while attempts are
    left; anything else ends the task."""
    task = get_task_row(session, task_id)
    if actor.role is Role.AGENT and task.assignee_id != actor.id:
        raise PermissionDenied("agents record the outcomes of their own tasks")
    if task.status not in OPEN_FOR_OUTCOME:
        raise InvalidOutcome(
            f"task {task_id} is {task.status.value}: its outcome is in",
            details={"task_id": task_id, "status": task.status.value},
        )
    if data.outcome is Outcome.SCORE_GIVEN and task.order_id is None:
        raise InvalidOutcome("a task without an order takes no score", details={"task_id": task_id})
    task.attempts += 1
    task.last_attempt_at = now
    task.outcome = data.outcome.value
    task.updated_at = now
    if data.comment:
        task.note = "\n".join(filter(None, [task.note, data.comment]))
    retry_at = _retry(task, data.outcome, now)
    complaint_id: int | None = None
    reopened = False
    if retry_at is None:
        tasks.end(
            session, task, TaskStatus.FAILED if data.outcome in RETRY_AFTER else TaskStatus.DONE
        )
    if data.outcome is Outcome.OPTED_OUT and task.customer_id is not None:
        _opt_out(session, task.customer_id, now=now)
    session.add(task)
    session.commit()
    if data.outcome is Outcome.SCORE_GIVEN:
        assert task.order_id is not None and data.score is not None
        verdict = record_satisfaction(
            session,
            order_id=task.order_id,
            score=data.score,
            comment=data.comment,
            actor=actor,
            clock=lambda: now,
        )
        complaint_id, reopened = verdict.complaint_id, verdict.reopened
        if complaint_id is not None:
            _check_after_rectification(session, task, now=now)
    if retry_at is not None and task.id is not None:
        calendars.schedule_pending(session, now=now, task_ids=[task.id])
        session.refresh(task)
    if task.campaign_id is not None and task.id is not None:
        # Told only once all of it is saved: the score lands on the order in a commit of its
        # own above, and a desk that reads the report on hearing this must find it there.
        publish_on_commit(
            session, CampaignProgressed(campaign_id=task.campaign_id, task_id=task.id, at=now)
        )
        session.commit()
    return OutcomePublic(
        task=tasks.to_public(session, [task])[0],
        retry_at=task.due_at if retry_at is not None else None,
        complaint_id=complaint_id,
        order_reopened=reopened,
    )


def _retry(task: OutboundTask, outcome: Outcome, now: datetime) -> datetime | None:
    """When to try again, or None when this was the last attempt."""
    wait = RETRY_AFTER.get(outcome)
    if wait is None or task.attempts >= task.max_attempts:
        return None
    retry_at = now + wait
    if retry_at >= task.deadline_at:
        return None
    task.status = TaskStatus.PENDING
    task.earliest_at = retry_at
    task.due_at = task.slot_end = None
    if task.assignee_kind is AssigneeKind.TEAM:
        task.assignee_id = None
    return retry_at


def _opt_out(session: Session, customer_id: int, *, now: datetime) -> None:
    preference = session.get(ContactPreference, customer_id) or ContactPreference(
        customer_id=customer_id, updated_at=now
    )
    preference.opted_out = True
    preference.updated_at = now
    session.add(preference)
    tasks.cancel_waiting(
        session,
        col(OutboundTask.customer_id) == customer_id,
        outcome=Outcome.OPTED_OUT.value,
        now=now,
    )


def _check_after_rectification(session: Session, task: OutboundTask, *, now: datetime) -> None:
    start, end = RECTIFICATION_CHECK
    follow_up = OutboundTask(
        purpose=TaskPurpose.SATISFACTION,
        order_id=task.order_id,
        customer_id=task.customer_id,
        phone=task.phone,
        earliest_at=now + start,
        deadline_at=now + end,
        assignee_kind=AssigneeKind.TEAM,
        skill=task.skill,
        language=task.language,
        priority=task.priority + 1,
        max_attempts=task.max_attempts,
        note=f"check that the station put right what task {task.id} found",
        created_by="rectification",
        created_at=now,
        updated_at=now,
    )
    calendars.add_and_place(session, follow_up, now=now)
