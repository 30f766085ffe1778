"""Shapes the console sends and receives: the enriched screen pop, the wall, call notes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from agent_console.enums import CallOutcome
from billing import BasicFee
from orders import (
    AddressIn,
    ApplianceCategory,
    AppliancePublic,
    CallerCard,
    CrisisLevel,
    JobCard,
    Name,
    OrderSummary,
    RowId,
    SlaClock,
    SlaFigures,
    StationBoard,
    Strict,
    Title,
    Urgency,
    WarrantyBadge,
)
from recordings import EarlierCall
from telephony import AgentState, HourFigures, LiveCall, QueueFigures

# The screen pop


class PopAppliance(AppliancePublic):
    warranty: WarrantyBadge
    fees: list[BasicFee] = Field(default_factory=list)
    """Out of warranty: the basic fee schedule for its category, to read to the caller."""


class PopOrder(OrderSummary):
    sla: SlaClock | None = None
    """Set on open orders only."""


class PopCard(CallerCard):
    appliances: list[PopAppliance]  # type: ignore[assignment]
    open_orders: list[PopOrder]  # type: ignore[assignment]
    recent_orders: list[PopOrder]  # type: ignore[assignment]
    earlier_calls: list[EarlierCall] = Field(default_factory=list)


class ScreenPop(BaseModel):
    call_id: str | None
    phone: str
    customers: list[PopCard]
    """Several when the number is shared (a family's landline); none for a new caller."""


class BoardJob(JobCard):
    sla: SlaClock | None = None
    """The job's nearest SLA deadline."""


class StationView(StationBoard):
    jobs: list[BoardJob]  # type: ignore[assignment]
    server_time: datetime


# Acting on a call


class CallOrderIn(Strict):
    """One click from the pop: the customer and appliance come from the card."""

    customer_id: RowId
    appliance_id: RowId
    urgency: Urgency = Urgency.NORMAL
    fault_description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = (
        ""
    )


class NewApplianceIn(Strict):
    category: ApplianceCategory
    brand: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    model: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    purchase_date: date | None = None
    has_invoice: bool = False


class NewCallerIn(Strict):
    """The quick form for an unknown caller; the number is the call's own."""

    name: Name
    title: Title = ""
    preferred_language: Annotated[str, StringConstraints(max_length=16)] = "zh-CN"
    address: AddressIn | None = None
    appliance: NewApplianceIn | None = None


class CallNoteIn(Strict):
    disposition: CallOutcome | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""


class CallNotePublic(BaseModel):
    call_id: str
    agent_id: int
    disposition: CallOutcome | None
    notes: str
    updated_at: datetime


# The agent's own view


class MyConsole(BaseModel):
    state: AgentState
    since: datetime
    reason: str
    call_id: str | None
    queues: list[str]
    moves: dict[AgentState, list[AgentState]]
    """The states an agent may choose from each state (the presence machine, chosen part)."""
    server_time: datetime
    changes: int
    """The agent's last move's number: the console shows the newest of what it hears."""
    last_event_id: str
    """The newest event as this was read (read first): the console's event stream starts
    after it, so an event published while the console opens is not missed."""


# The supervisor's wall

Alert = Literal["ok", "warning", "alarm"]
"""How a figure of the wall stands against its thresholds (the console colours it)."""


class WallThresholds(BaseModel):
    """The limits the wall's colours come from, shown beside the figures they colour."""

    service_level_warn: float
    service_level_alarm: float
    longest_wait_warn_seconds: float
    longest_wait_alarm_seconds: float


class WallQueue(QueueFigures):
    service_level_alert: Alert
    longest_wait_alert: Alert


class WallAgent(BaseModel):
    agent_id: int
    name: str
    state: AgentState
    since: datetime
    reason: str
    call_id: str | None
    queues: list[str]
    warn_at: datetime | None = None
    """From when the agent has been in this state too long: a warning, then from
    ``alarm_at`` an alarm (the console moves the colour on its own between frames)."""
    alarm_at: datetime | None = None


class WallComplaints(BaseModel):
    level: CrisisLevel
    name: str
    """The level's name in orders' crisis scale (none, ordinary, potential, severe)."""
    open: int


class Wall(BaseModel):
    at: datetime
    timezone: str
    """The hotline's zone: the hours of ``calls_per_hour`` and every time shown are its."""
    thresholds: WallThresholds
    queues: list[WallQueue]
    agents: list[WallAgent]
    calls: list[LiveCall]
    calls_total: int
    """Live calls in all; ``calls`` lists the oldest of them."""
    sla: SlaFigures
    sla_total: int
    """SLA clocks in warning or breach; ``sla.orders`` lists the worst of them."""
    complaints: list[WallComplaints]
    """Open complaints per crisis level, the calmest first."""
    calls_per_hour: list[HourFigures]
