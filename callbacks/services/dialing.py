"""The automated dialer's side of the outbound engine: which survey calls are due now,
claimed so that no task is dialled twice at once, and what came of each dial.

``telephony`` places the calls; it asks here what to dial and reports back here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from callbacks.enums import AssigneeKind, CampaignMode, Outcome, TaskStatus
from callbacks.exceptions import CallNotAllowed
from callbacks.models import Campaign, ContactPreference, DncEntry, OutboundTask
from callbacks.schemas import OutcomeIn
from callbacks.services import calendars, outcomes, tasks
from core.errors import PermissionDenied
from orders import Actor, Role

DIALER = Actor(id=None, name="dialer", role=Role.SUPERVISOR)
DEFAULT_SURVEY = "survey"
RETRY_SOON = timedelta(minutes=5)
"""A dial the channel could not place (Twilio unreachable) is tried again this soon, with
no attempt counted: the customer's phone never rang."""


@dataclass(frozen=True)
class Dial:
    task_id: int
    phone: str
    customer_id: int | None
    survey_flow: str
    language: str


def claim_due_dials(
    session: Session,
    *,
    now: datetime,
    mode: CampaignMode = CampaignMode.SURVEY_CALL,
    limit: int = 20,
) -> list[Dial]:
    """The dialer's tasks due now, each claimed (in progress) by one conditional update,
    so two dialers never dial the same task. A number put on the do-not-call list since the
    task was planned is not dialled; a customer whose calling hours do not allow this
    moment is moved to the next moment they do."""
    rows = session.exec(
        select(OutboundTask)
        .where(
            OutboundTask.assignee_kind == AssigneeKind.DIALER,
            OutboundTask.mode == mode,
            OutboundTask.status == TaskStatus.SCHEDULED,
            col(OutboundTask.due_at) <= now,
        )
        .order_by(col(OutboundTask.priority).desc(), col(OutboundTask.due_at))
        .limit(limit)
    ).all()
    claimed: list[Dial] = []
    for task in rows:
        assert task.id is not None
        if task.deadline_at <= now:
            tasks.end(session, task, TaskStatus.FAILED)
            task.outcome = "window_closed"
            continue
        if session.exec(select(DncEntry.id).where(DncEntry.e164 == task.phone)).first():
            tasks.cancel_waiting(
                session, col(OutboundTask.id) == task.id, outcome="do_not_call", now=now
            )
            continue
        hours = calendars.calling_hours(session.get(ContactPreference, task.customer_id or 0))
        if not hours.allows(now):
            task.status = TaskStatus.PENDING
            task.earliest_at = max(task.earliest_at, now)
            session.add(task)
            session.flush()
            calendars.schedule_pending(session, now=now, task_ids=[task.id])
            continue
        # Through the ORM, so the task loaded above learns it is in progress.
        taken = session.execute(
            update(OutboundTask)
            .where(
                col(OutboundTask.id) == task.id, col(OutboundTask.status) == TaskStatus.SCHEDULED
            )
            .values(status=TaskStatus.IN_PROGRESS, updated_at=now)
        )
        if cast(CursorResult[Any], taken).rowcount == 1:
            claimed.append(
                Dial(
                    task.id,
                    task.phone,
                    task.customer_id,
                    _survey_flow(session, task),
                    _short(task.language),
                )
            )
    session.commit()
    return claimed


def _survey_flow(session: Session, task: OutboundTask) -> str:
    campaign = session.get(Campaign, task.campaign_id) if task.campaign_id else None
    return (campaign.survey_flow if campaign else "") or DEFAULT_SURVEY


def release_dial(
    session: Session, task_id: int, *, now: datetime, due_at: datetime | None = None
) -> None:
    """The channel could not place the call: due again at ``due_at`` (shortly, by
    default), no attempt counted."""
    session.execute(
        update(OutboundTask)
        .where(col(OutboundTask.id) == task_id, col(OutboundTask.status) == TaskStatus.IN_PROGRESS)
        .values(status=TaskStatus.SCHEDULED, due_at=due_at or now + RETRY_SOON, updated_at=now)
    )
    session.commit()


def dial_ended(session: Session, task_id: int, outcome: Outcome, *, now: datetime) -> None:
    """The call of an attempt is over without a survey result (no answer, busy, an
    answering machine, a wrong number, or hung up before scoring): recorded as the
    attempt's outcome, which retries it later where that helps. A survey already scored
    is left as it is."""
    task = session.get(OutboundTask, task_id)
    if task is None or task.status is not TaskStatus.IN_PROGRESS:
        return
    outcomes.record_outcome(session, task_id, OutcomeIn(outcome=outcome), actor=DIALER, now=now)


def survey_answered(
    session: Session, task_id: int, answers: dict[str, str], *, now: datetime
) -> None:
    """The customer finished the survey: the score lands on the order, and the other
    answers are kept in the comment."""
    score = answers.get("score", "")
    notes = ", ".join(
        f"{name}={value}" for name, value in sorted(answers.items()) if name != "score"
    )
    if not score.isdigit() or not 1 <= int(score) <= 5:
        dial_ended(session, task_id, Outcome.REFUSED, now=now)
        return
    outcomes.record_outcome(
        session,
        task_id,
        OutcomeIn(outcome=Outcome.SCORE_GIVEN, score=int(score), comment=notes),
        actor=DIALER,
        now=now,
    )


def _short(language: str | None) -> str:
    return "en" if (language or "").lower().startswith("en") else "zh"


SMS_SURVEY = {
    "zh": "【家电售后】您好，您的服务已完成。请回复数字1-5为本次服务打分"
    "（5非常满意，1非常不满意）；回复TD不再接收。",
    "en": "Appliance service: your service is complete. Reply with a number from 1 to 5 to "
    "rate it (5 very satisfied, 1 very dissatisfied); reply STOP to opt out.",
}
SMS_THANKS = {"zh": "感谢您的评价！", "en": "Thank you for your rating!"}
SMS_AGAIN = {
    "zh": "请回复数字1-5为本次服务打分；回复TD不再接收。",
    "en": "Please reply with a number from 1 to 5; reply STOP to opt out.",
}
SMS_STOPPED = {"zh": "您已退订，我们不会再发送回访短信。", "en": "You will not be contacted again."}
OPT_OUT_WORDS = frozenset({"TD", "T", "STOP", "UNSUBSCRIBE", "退订"})


def sms_survey_text(language: str) -> str:
    return SMS_SURVEY[_short(language)]


def sms_reply(session: Session, *, phone: str, body: str, now: datetime) -> str | None:
    """A customer's text: a score for their open SMS survey, an opt-out, or neither (they
    are asked again). None when no SMS survey waits for this number: nothing to answer."""
    task = session.exec(
        select(OutboundTask)
        .where(
            OutboundTask.phone == phone,
            OutboundTask.mode == CampaignMode.SMS_SURVEY,
            OutboundTask.status == TaskStatus.IN_PROGRESS,
        )
        .order_by(col(OutboundTask.updated_at).desc(), col(OutboundTask.id).desc())
    ).first()
    if task is None or task.id is None:
        return None
    language = _short(task.language)
    text = unicodedata.normalize("NFKC", body).strip().upper()
    if text in OPT_OUT_WORDS:
        outcomes.record_outcome(
            session, task.id, OutcomeIn(outcome=Outcome.OPTED_OUT), actor=DIALER, now=now
        )
        return SMS_STOPPED[language]
    if len(text) == 1 and text in "12345":
        survey_answered(session, task.id, {"score": text}, now=now)
        return SMS_THANKS[language]
    return SMS_AGAIN[language]


def expire_unanswered(session: Session, *, now: datetime) -> int:
    """SMS surveys still unanswered when their window closes: no answer, and over."""
    ids = session.exec(
        select(OutboundTask.id).where(
            OutboundTask.mode == CampaignMode.SMS_SURVEY,
            OutboundTask.status == TaskStatus.IN_PROGRESS,
            col(OutboundTask.deadline_at) <= now,
        )
    ).all()
    for task_id in ids:
        if task_id is not None:
            dial_ended(session, task_id, Outcome.NO_ANSWER, now=now)
    return len(ids)


@dataclass(frozen=True)
class AgentDial:
    task_id: int
    phone: str
    customer_id: int | None


def start_agent_call(session: Session, task_id: int, *, actor: Actor, now: datetime) -> AgentDial:
    """An agent calls a task's customer now (a click in the console): the task must be the
    agent's own (or a team's task nobody holds), the number not on the do-not-call list,
    the moment inside the customer's calling hours, and no other dial of it under way."""
    task = outcomes.get_task_row(session, task_id)
    assert task.id is not None
    if task.assignee_kind is AssigneeKind.DIALER:
        raise CallNotAllowed(
            "the automated dialer makes this contact", details={"task_id": task_id}
        )
    if task.assignee_id not in (None, actor.id) and actor.role is Role.AGENT:
        raise PermissionDenied("another agent holds this task")
    if task.status not in (TaskStatus.SCHEDULED, TaskStatus.UNPLACED, TaskStatus.PENDING):
        raise CallNotAllowed(f"task {task_id} is {task.status.value}", details={"task_id": task_id})
    if session.exec(select(DncEntry.id).where(DncEntry.e164 == task.phone)).first():
        raise CallNotAllowed("the number is on the do-not-call list", details={"task_id": task_id})
    hours = calendars.calling_hours(session.get(ContactPreference, task.customer_id or 0))
    if not hours.allows(now):
        raise CallNotAllowed(
            f"the customer may be called {hours.describe()} only",
            details={"task_id": task_id, "calling_hours": hours.describe()},
        )
    taken = session.execute(
        update(OutboundTask)
        .where(col(OutboundTask.id) == task.id, col(OutboundTask.status) == task.status)
        .values(status=TaskStatus.IN_PROGRESS, assignee_id=actor.id, updated_at=now)
    )
    if cast(CursorResult[Any], taken).rowcount != 1:
        raise CallNotAllowed("the task is being called already", details={"task_id": task_id})
    session.commit()
    return AgentDial(task.id, task.phone, task.customer_id)


def claimed_dials(session: Session, *, before: datetime) -> list[int]:
    """Automated dials in progress since before ``before``: the ones to check."""
    ids = session.exec(
        select(OutboundTask.id).where(
            OutboundTask.assignee_kind == AssigneeKind.DIALER,
            OutboundTask.mode == CampaignMode.SURVEY_CALL,
            OutboundTask.status == TaskStatus.IN_PROGRESS,
            col(OutboundTask.updated_at) < before,
        )
    ).all()
    return [task_id for task_id in ids if task_id is not None]
