"""Tables of the outbound engine: campaigns and their sampling decisions, tasks, the
do-not-call list, customers' contact preferences and agents' calendars."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from callbacks.enums import (
    AssigneeKind,
    CampaignMode,
    Decision,
    ExceptionKind,
    TaskPurpose,
    TaskStatus,
)
from core.types import UTCDateTime, enum_type


def _moment(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime)
    return Field(sa_type=UTCDateTime, nullable=False)


class Campaign(SQLModel, table=True):
    """Whom to call back after which orders, when, how, and what share of them."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    purpose: TaskPurpose = Field(default=TaskPurpose.SATISFACTION, sa_type=enum_type(TaskPurpose))
    trigger_statuses: list[str] = Field(default_factory=list, sa_type=JSON)
    """Order statuses whose reaching starts the clock (completed, closed)."""
    order_types: list[str] = Field(default_factory=list, sa_type=JSON)
    categories: list[str] = Field(default_factory=list, sa_type=JSON)
    station_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    grades: list[str] = Field(default_factory=list, sa_type=JSON)
    """Filters; an empty list admits any."""
    window_from_hours: float = 2.0
    window_to_hours: float = 48.0
    """The call happens this long after the trigger; the end is the deadline (48 h in the
    operating spec §3.4.7)."""
    sampling_ratio: float
    stratify_by: list[str] = Field(default_factory=list, sa_type=JSON)
    exclude_called_days: int = 7
    mode: CampaignMode = Field(sa_type=enum_type(CampaignMode))
    survey_flow: str = Field(default="", max_length=64)
    skill: str | None = Field(default=None, max_length=64)
    """Agents who take its calls need this skill (None: any agent)."""
    priority: int = 0
    max_attempts: int = 3
    is_active: bool = True
    starts_at: datetime = _moment()
    """Orders triggered before this are not the campaign's."""
    created_by: str = Field(max_length=200)
    created_at: datetime = _moment()


class CampaignStratum(SQLModel, table=True):
    """How many orders of one stratum a campaign has seen and selected: the next order's
    position in the stratum's systematic sample."""

    __tablename__ = "campaign_stratum"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    stratum: str = Field(max_length=120, primary_key=True)
    seen: int = 0
    selected: int = 0


class CampaignDecision(SQLModel, table=True):
    """One order's sampling decision under a campaign, taken once and kept."""

    __tablename__ = "campaign_decision"
    __table_args__ = (UniqueConstraint("campaign_id", "order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    order_id: int = Field(foreign_key="work_order.id")
    triggered_at: datetime = _moment()
    stratum: str = Field(max_length=120)
    position: int | None = None
    """The order's place (0-based) in its stratum's sequence; None when excluded."""
    decision: Decision = Field(sa_type=enum_type(Decision))
    decided_at: datetime = _moment()


class OutboundTask(SQLModel, table=True):
    """One outbound contact to make: a callback, a notice, a survey."""

    __tablename__ = "outbound_task"
    __table_args__ = (
        UniqueConstraint("campaign_id", "order_id"),
        Index("ix_outbound_task_status_due", "status", "due_at"),
        Index("ix_outbound_task_assignee_due", "assignee_id", "due_at"),
        Index("ix_outbound_task_customer_attempted", "customer_id", "last_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    purpose: TaskPurpose = Field(sa_type=enum_type(TaskPurpose))
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    phone: str = Field(max_length=20)
    call_id: str | None = Field(default=None, max_length=32, index=True)
    """The call it was booked in, for a callback a caller asked for."""
    earliest_at: datetime = _moment()
    deadline_at: datetime = _moment()
    assignee_kind: AssigneeKind = Field(sa_type=enum_type(AssigneeKind))
    mode: CampaignMode = Field(default=CampaignMode.AGENT_CALL, sa_type=enum_type(CampaignMode))
    """How the contact is made: an agent's call, a survey call, or an SMS survey."""
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    """The agent whose calendar holds it (personal or placed); None for the dialer and
    for team tasks not yet placed."""
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    """The station whose staff make a station task (its own follow-up)."""
    skill: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)
    priority: int = 0
    status: TaskStatus = Field(default=TaskStatus.PENDING, sa_type=enum_type(TaskStatus))
    due_at: datetime | None = _moment(nullable=True)
    slot_end: datetime | None = _moment(nullable=True)
    unplaced_reason: str = Field(default="", sa_type=Text)
    attempts: int = 0
    max_attempts: int = 3
    last_attempt_at: datetime | None = _moment(nullable=True)
    outcome: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", sa_type=Text)
    subject: str | None = Field(default=None, max_length=64, index=True)
    """What a notice is about when an order can have several of its kind (a customer's
    part order: ``part_order:12``), so each is told once."""
    created_by: str = Field(max_length=200)
    created_at: datetime = _moment()
    updated_at: datetime = _moment()


class DncEntry(SQLModel, table=True):
    """A number the hotline must never dial for outbound work (不再回访)."""

    __tablename__ = "dnc_entry"

    id: int | None = Field(default=None, primary_key=True)
    e164: str = Field(max_length=20, unique=True)
    reason: str = Field(default="", sa_type=Text)
    added_by: str = Field(max_length=200)
    added_at: datetime = _moment()


class ContactPreference(SQLModel, table=True):
    """When a customer may be called, in their own time zone, and whether at all."""

    __tablename__ = "contact_preference"

    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    time_zone: str = Field(default="Asia/Shanghai", max_length=64)
    call_from: str = Field(default="09:00", max_length=5)
    call_to: str = Field(default="20:00", max_length=5)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], sa_type=JSON)
    opted_out: bool = False
    updated_at: datetime = _moment()


class AgentCalendarRow(SQLModel, table=True):
    """An agent's recurring week: shifts (breaks are the gaps), zone, capacity, skills."""

    __tablename__ = "agent_calendar"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    time_zone: str = Field(default="Asia/Shanghai", max_length=64)
    weekly_hours: dict[str, list[list[str]]] = Field(default_factory=dict, sa_type=JSON)
    """``{"1": [["09:00", "12:00"], ["13:00", "18:00"]], ...}`` by ISO weekday."""
    capacity_per_hour: int = 6
    skills: list[str] = Field(default_factory=list, sa_type=JSON)
    languages: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_at: datetime = _moment()


class CalendarException(SQLModel, table=True):
    __tablename__ = "agent_calendar_exception"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="agent_calendar.user_id")
    day: date
    kind: ExceptionKind = Field(sa_type=enum_type(ExceptionKind))
    hours: list[list[str]] = Field(default_factory=list, sa_type=JSON)
    """For a shift: the hours worked that day."""
    note: str = Field(default="", max_length=200)
