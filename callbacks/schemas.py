"""API shapes of the outbound engine."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from callbacks.enums import (
    AssigneeKind,
    CampaignMode,
    Decision,
    ExceptionKind,
    Outcome,
    StratumField,
    TaskPurpose,
    TaskStatus,
)
from orders import (
    ApplianceCategory,
    Clock24,
    CustomerGrade,
    Language,
    Name,
    OrderType,
    RowId,
    Strict,
    TimeZoneName,
    WorkingHours,
)

Skill = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")]
FlowId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{0,64}$")]
Hours = Annotated[float, Field(ge=0, le=24 * 30)]


class CampaignIn(Strict):
    name: Name
    purpose: TaskPurpose = TaskPurpose.SATISFACTION
    trigger_statuses: list[str] = Field(default=["completed"], min_length=1, max_length=2)
    order_types: list[OrderType] = Field(default_factory=list, max_length=10)
    categories: list[ApplianceCategory] = Field(default_factory=list, max_length=20)
    station_ids: list[RowId] = Field(default_factory=list, max_length=1000)
    grades: list[CustomerGrade] = Field(default_factory=list, max_length=10)
    window_from_hours: Hours = 2.0
    window_to_hours: Hours = 48.0
    sampling_ratio: float = Field(ge=0, le=1)
    stratify_by: list[StratumField] = Field(
        default=[StratumField.STATION, StratumField.ENGINEER, StratumField.CATEGORY],
        max_length=3,
    )
    exclude_called_days: int = Field(default=7, ge=0, le=365)
    mode: CampaignMode = CampaignMode.AGENT_CALL
    survey_flow: FlowId = ""
    skill: Skill | None = None
    priority: int = Field(default=0, ge=-100, le=100)
    max_attempts: int = Field(default=3, ge=1, le=10)
    starts_at: datetime | None = None
    """None: from now on."""

    @model_validator(mode="after")
    def _coherent(self) -> CampaignIn:
        allowed = {"completed", "closed"}
        if not set(self.trigger_statuses) <= allowed:
            raise ValueError(f"trigger_statuses may only hold {sorted(allowed)}")
        if self.window_to_hours <= self.window_from_hours:
            raise ValueError("window_to_hours must be after window_from_hours")
        if len(set(self.stratify_by)) != len(self.stratify_by):
            raise ValueError("stratify_by names a field twice")
        if self.mode is CampaignMode.SMS_NOTICE:
            raise ValueError("a campaign calls or surveys; notices follow order changes")
        if self.mode is not CampaignMode.AGENT_CALL and not self.survey_flow:
            raise ValueError("a survey call or SMS survey needs its survey_flow")
        return self


class CampaignPublic(BaseModel):
    id: int
    name: str
    purpose: TaskPurpose
    trigger_statuses: list[str]
    order_types: list[str]
    categories: list[str]
    station_ids: list[int]
    grades: list[str]
    window_from_hours: float
    window_to_hours: float
    sampling_ratio: float
    stratify_by: list[str]
    exclude_called_days: int
    mode: CampaignMode
    survey_flow: str
    skill: str | None
    priority: int
    max_attempts: int
    is_active: bool
    starts_at: datetime
    created_by: str
    created_at: datetime


class PlanSummary(BaseModel):
    """What one planning run decided: counts by decision, and the tasks it made."""

    campaign_id: int
    considered: int
    decisions: dict[str, int]
    tasks_created: int
    expired: int
    """Selected orders whose window had closed before they were planned."""
    scheduled: int
    unplaced: int


class DecisionPublic(BaseModel):
    order_id: int
    triggered_at: datetime
    stratum: str
    position: int | None
    decision: Decision
    selected: bool
    why: str
    task_id: int | None


class DncIn(Strict):
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class DncPublic(BaseModel):
    id: int
    e164: str
    reason: str
    added_by: str
    added_at: datetime
    tasks_cancelled: int = 0


class CalendarDay(Strict):
    day: date
    kind: ExceptionKind
    hours: list[tuple[Clock24, Clock24]] = Field(default_factory=list, max_length=8)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""

    @model_validator(mode="after")
    def _hours_fit_kind(self) -> CalendarDay:
        if self.kind is ExceptionKind.SHIFT:
            if not self.hours:
                raise ValueError("a shift day needs its hours")
            ordered = sorted(self.hours)
            for (start, end), following in zip(ordered, [*ordered[1:], None], strict=True):
                if end <= start:
                    raise ValueError(f"{start}-{end} ends before it starts")
                if following is not None and following[0] < end:
                    raise ValueError(f"{start}-{end} overlaps {following[0]}")
        elif self.hours:
            raise ValueError(f"a {self.kind.value} day has no hours")
        return self


class CalendarIn(Strict):
    time_zone: TimeZoneName = "Asia/Shanghai"
    weekly_hours: WorkingHours
    """By ISO weekday; breaks are the gaps between spans."""
    capacity_per_hour: int = Field(default=6, ge=1, le=60)
    skills: list[Skill] = Field(default_factory=list, max_length=50)
    languages: list[Language] = Field(default=["zh"], min_length=1, max_length=10)
    """The languages the agent takes calls in (``zh``, ``en``); a customer's preferred
    language (``zh-CN``) is matched by its first part."""
    days: list[CalendarDay] = Field(default_factory=list, max_length=366)

    @model_validator(mode="after")
    def _one_entry_a_day(self) -> CalendarIn:
        days = [d.day for d in self.days]
        if len(set(days)) != len(days):
            raise ValueError("a day is listed twice")
        return self


class CalendarPublic(BaseModel):
    user_id: int
    time_zone: str
    weekly_hours: dict[str, list[list[str]]]
    capacity_per_hour: int
    skills: list[str]
    languages: list[str]
    days: list[CalendarDay]
    tasks_moved: int = 0
    """Tasks that had to leave this agent's calendar when it changed."""
    tasks_unplaced: int = 0


class TaskPublic(BaseModel):
    id: int
    purpose: TaskPurpose
    campaign_id: int | None
    order_id: int | None
    customer_id: int | None
    customer_name: str | None = None
    phone: str
    earliest_at: datetime
    deadline_at: datetime
    assignee_kind: AssigneeKind
    assignee_id: int | None
    priority: int
    status: TaskStatus
    due_at: datetime | None
    slot_end: datetime | None
    unplaced_reason: str
    attempts: int
    max_attempts: int
    outcome: str | None


class ContactPreferenceIn(Strict):
    time_zone: TimeZoneName = "Asia/Shanghai"
    call_from: Clock24 = "09:00"
    call_to: Clock24 = "20:00"
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7
    )
    opted_out: bool = False

    @model_validator(mode="after")
    def _hours_in_order(self) -> ContactPreferenceIn:
        if self.call_to <= self.call_from:
            raise ValueError("call_to must be after call_from")
        if len(set(self.weekdays)) != len(self.weekdays):
            raise ValueError("a weekday is listed twice")
        return self


class ContactPreferencePublic(ContactPreferenceIn):
    customer_id: int


class OutcomeIn(Strict):
    outcome: Outcome
    score: int | None = Field(default=None, ge=1, le=5)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""

    @model_validator(mode="after")
    def _score_with_its_outcome(self) -> OutcomeIn:
        if (self.outcome is Outcome.SCORE_GIVEN) != (self.score is not None):
            raise ValueError("a score goes with the outcome score_given, and only with it")
        return self


class OutcomePublic(BaseModel):
    task: TaskPublic
    retry_at: datetime | None
    """When the next attempt is placed, for an attempt that may be tried again."""
    complaint_id: int | None
    order_reopened: bool


class PromiseIn(Strict):
    """A callback promised on a call: to whom, when, and whether the agent keeps it."""

    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    customer_id: RowId | None = None
    at: datetime
    for_me: bool = True
    """True: the agent's own (handed to anyone once long overdue); False: anyone's."""
    call_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{1,32}$")] | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""

    @model_validator(mode="after")
    def _aware(self) -> PromiseIn:
        if self.at.tzinfo is None:
            raise ValueError("at needs its time zone (e.g. 2026-12-04T15:00:00+08:00)")
        return self


class NoticePublic(BaseModel):
    purpose: TaskPurpose
    status: TaskStatus
    queued_at: datetime
    sent_at: datetime | None
    outcome: str | None


class OrderNotices(BaseModel):
    order_id: int
    count: int
    """Notices sent to the customer about this order."""
    notices: list[NoticePublic]


DayKind = Literal["shift", "extra_shift", "make_up_day", "holiday", "leave", "sick", "rest_day"]
"""Why an agent's day has the hours it has: its weekly shift, an extra shift, a make-up
working day (a weekend day China works, with Monday's hours), a public holiday, a day
off (leave, sick), or a rest day (a weekend, or a weekday without shifts)."""


class WeekDay(BaseModel):
    day: date
    """The agent's local day."""
    kind: DayKind
    hours: list[tuple[str, str]]
    """The spans worked that day (local times); none on a day off."""
    note: str = ""
    tasks: list[TaskPublic]
    """The agent's tasks of the day, in time order."""


class AgentWeek(BaseModel):
    """An agent's next seven days, as the placement of tasks reads them."""

    user_id: int
    time_zone: str
    days: list[WeekDay]


class CallerPublic(BaseModel):
    """Someone who takes calls, whose calendar a supervisor may set."""

    user_id: int
    name: str
    role: str
    has_calendar: bool


class FollowUpFigures(BaseModel):
    """A station's own follow-ups (§3.4.7) over a period."""

    made: int
    """Made within their 48 hours."""
    missed: int
    """Their 48 hours closed without the customer reached."""
    open: int
    made_share: float | None
    """made / (made + missed); None before any is decided."""
