"""The outbound engine's routes, mounted under /api: campaigns and their plans, agents'
calendars and task lists, and the do-not-call list."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from callbacks.enums import TaskStatus
from callbacks.exceptions import InvalidTaskQuery
from callbacks.schemas import (
    AgentWeek,
    CalendarIn,
    CalendarPublic,
    CallerPublic,
    CampaignIn,
    CampaignPublic,
    ContactPreferenceIn,
    ContactPreferencePublic,
    DecisionPublic,
    DncIn,
    DncPublic,
    FollowUpFigures,
    OrderNotices,
    OutcomeIn,
    OutcomePublic,
    PlanSummary,
    PromiseIn,
    TaskPublic,
)
from callbacks.services import (
    calendars,
    campaigns,
    dnc,
    follow_ups,
    outcomes,
    preferences,
    reports,
    tasks,
)
from callbacks.services import notices as notices_service
from core import xlsx
from core.deps import ClockDep, RegionDep, SessionDep
from core.errors import PermissionDenied
from core.xlsx import ExportFormat
from orders import Actor, Report, Role
from orders.http import Limit, Offset, PathId, Staff, StationWork, Supervisor, report_answer

router = APIRouter(tags=["outbound"])


@router.get("/campaigns")
def list_campaigns(session: SessionDep, _actor: Supervisor) -> list[CampaignPublic]:
    return campaigns.list_campaigns(session)


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
def create_campaign(
    session: SessionDep, actor: Supervisor, clock: ClockDep, data: CampaignIn
) -> CampaignPublic:
    return campaigns.create_campaign(session, data, actor=actor, now=clock())


@router.get("/campaigns/{campaign_id}")
def get_campaign(session: SessionDep, _actor: Supervisor, campaign_id: PathId) -> CampaignPublic:
    return campaigns.get_campaign(session, campaign_id)


@router.get("/campaigns/{campaign_id}/plan")
def campaign_plan(
    session: SessionDep,
    _actor: Supervisor,
    campaign_id: PathId,
    offset: Offset = 0,
    limit: Limit = 100,
    selected: Annotated[bool | None, Query(description="Only selected, or only not")] = None,
) -> list[DecisionPublic]:
    """Each order the campaign decided on, selected or not, and why."""
    return campaigns.decisions(session, campaign_id, selected=selected, offset=offset, limit=limit)


@router.post("/campaigns/{campaign_id}/plan")
def run_plan(
    session: SessionDep, _actor: Supervisor, clock: ClockDep, campaign_id: PathId
) -> PlanSummary:
    """Plan now instead of at the worker's next run: decide the orders completed since the
    last run and place the selected ones' tasks."""
    return campaigns.plan_campaign(session, campaign_id, now=clock())


@router.get("/campaigns/{campaign_id}/tasks")
def campaign_tasks(
    session: SessionDep,
    _actor: Supervisor,
    campaign_id: PathId,
    offset: Offset = 0,
    limit: Limit = 100,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
) -> list[TaskPublic]:
    campaigns.get_campaign_row(session, campaign_id)
    return tasks.campaign_tasks(
        session, campaign_id=campaign_id, status=task_status, offset=offset, limit=limit
    )


@router.get("/tasks")
def my_tasks(
    session: SessionDep,
    actor: Staff,
    clock: ClockDep,
    assignee: Annotated[str, Query(pattern=r"^(me|[1-9][0-9]{0,8})$")] = "me",
    day: Annotated[date | None, Query(alias="date", description="The agent's local day")] = None,
) -> list[TaskPublic]:
    """An agent's outbound tasks of one day (today, in the agent's zone, by default)."""
    agent_id = _whose(actor, assignee)
    when = day or calendars.local_today(session, agent_id, now=clock())
    return tasks.agent_day(session, agent_id=agent_id, day=when)


def _whose(actor: Actor, assignee: str) -> int:
    if assignee == "me":
        if actor.id is None:
            raise InvalidTaskQuery("the system has no tasks of its own")
        return actor.id
    if actor.role is Role.AGENT and int(assignee) != actor.id:
        raise PermissionDenied("agents see their own tasks")
    return int(assignee)


@router.get("/agents/{user_id}/calendar")
def get_calendar(session: SessionDep, actor: Staff, user_id: PathId) -> CalendarPublic:
    if actor.role is Role.AGENT and actor.id != user_id:
        raise PermissionDenied("agents see their own calendar")
    return calendars.get_calendar(session, user_id)


@router.get("/agents/{user_id}/week")
def agent_week(session: SessionDep, actor: Staff, clock: ClockDep, user_id: PathId) -> AgentWeek:
    """The agent's seven days from today: each day's working hours and why (its shift, an
    extra shift, a make-up working day, a public holiday, a day off), with its tasks."""
    if actor.role is Role.AGENT and actor.id != user_id:
        raise PermissionDenied("agents see their own calendar")
    return tasks.agent_week(session, agent_id=user_id, now=clock())


@router.get("/calendars")
def list_callers(session: SessionDep, _actor: Supervisor) -> list[CallerPublic]:
    """Everyone who takes calls, and whether their calendar is set."""
    return tasks.callers(session)


@router.put("/agents/{user_id}/calendar")
def put_calendar(
    session: SessionDep, _actor: Supervisor, clock: ClockDep, user_id: PathId, data: CalendarIn
) -> CalendarPublic:
    """Replace the agent's week, days off and extra shifts; tasks that no longer fit move."""
    return calendars.put_calendar(session, user_id, data, now=clock())


@router.get("/dnc")
def list_dnc(
    session: SessionDep, _actor: Staff, offset: Offset = 0, limit: Limit = 100
) -> list[DncPublic]:
    return dnc.list_numbers(session, offset=offset, limit=limit)


@router.post("/dnc", status_code=status.HTTP_201_CREATED)
def add_dnc(
    session: SessionDep, actor: Staff, clock: ClockDep, region: RegionDep, data: DncIn
) -> DncPublic:
    """List a number (a customer asked not to be called again); the tasks waiting to dial
    it are cancelled."""
    return dnc.add_number(session, data, actor=actor, region=region, now=clock())


@router.delete("/dnc/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def remove_dnc(session: SessionDep, _actor: Supervisor, entry_id: PathId) -> None:
    dnc.remove_number(session, entry_id)


@router.get("/customers/{customer_id}/contact-preferences")
def get_contact_preferences(
    session: SessionDep, _actor: Staff, customer_id: PathId
) -> ContactPreferencePublic:
    """When the customer may be called back, in their own time zone, and whether at all."""
    return preferences.get_preference(session, customer_id)


@router.put("/customers/{customer_id}/contact-preferences")
def put_contact_preferences(
    session: SessionDep,
    _actor: Staff,
    clock: ClockDep,
    customer_id: PathId,
    data: ContactPreferenceIn,
) -> ContactPreferencePublic:
    """Opting out cancels the callbacks waiting for the customer; new hours move them."""
    return preferences.set_preference(session, customer_id, data, now=clock())


@router.post("/tasks/{task_id}/outcome")
def record_outcome(
    session: SessionDep, actor: Staff, clock: ClockDep, task_id: PathId, data: OutcomeIn
) -> OutcomePublic:
    """What came of an attempt: a score (a low one reopens the order with a complaint), a
    retry later (busy, no answer, voicemail) or the end of the task."""
    return outcomes.record_outcome(session, task_id, data, actor=actor, now=clock())


@router.get("/campaigns/{campaign_id}/report", response_model=Report, responses=xlsx.RESPONSES)
def campaign_report(
    session: SessionDep,
    _actor: Supervisor,
    clock: ClockDep,
    campaign_id: PathId,
    format: Annotated[ExportFormat, Query()] = ExportFormat.JSON,
) -> Report | Response:
    """Eligible, sampled, scheduled, attempted, reached, scored, the mean score and the
    share satisfied (4 or 5; the spec's goal is 90 %), overall and by station, engineer and
    category; as JSON or a workbook."""
    return report_answer(reports.campaign_report(session, campaign_id, now=clock()), format)


@router.post("/tasks", status_code=status.HTTP_201_CREATED)
def promise_callback(
    session: SessionDep, actor: Staff, clock: ClockDep, region: RegionDep, data: PromiseIn
) -> TaskPublic:
    """A callback the agent promised on a call, for themselves or for anyone."""
    return tasks.promise(session, data, actor=actor, region=region, now=clock())


@router.get("/orders/{order_id}/notices")
def order_notices(session: SessionDep, _actor: Staff, order_id: PathId) -> OrderNotices:
    """The texts the customer was sent about the order (waiting for parts, parts arrived,
    repaired), with when each went, and how many."""
    notices = notices_service.order_notices(session, order_id)
    return OrderNotices(
        order_id=order_id,
        count=sum(1 for n in notices if n.sent_at is not None),
        notices=notices,
    )


@router.get("/stations/{station_id}/follow-ups")
def station_follow_ups(
    session: SessionDep, actor: StationWork, station_id: PathId
) -> list[TaskPublic]:
    """The station's own follow-ups still to make (§3.4.7), the nearest deadline first."""
    follow_ups.check_station(actor, station_id)
    return follow_ups.station_follow_ups(session, station_id=station_id)


@router.get("/stations/{station_id}/follow-ups/figures")
def station_follow_up_figures(
    session: SessionDep,
    actor: StationWork,
    station_id: PathId,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> FollowUpFigures:
    """Of the station's follow-ups whose 48 hours end in [from, to): made, missed, open."""
    follow_ups.check_station(actor, station_id)
    return follow_ups.follow_up_figures(session, station_id=station_id, start=start, end=end)


@router.post("/follow-ups/{task_id}/outcome")
def record_follow_up(
    session: SessionDep, actor: StationWork, clock: ClockDep, task_id: PathId, data: OutcomeIn
) -> OutcomePublic:
    """The station called its customer: reached (what they said as the comment), or not."""
    return follow_ups.record_follow_up(session, task_id, data, actor=actor, now=clock())
