"""API shapes of the orders domain (the edges; tables live in models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from orders.enums import (
    ApplianceCategory,
    AppointmentStatus,
    AuditAction,
    CallbackState,
    CancelReason,
    Channel,
    ComplaintStatus,
    ContactTopic,
    Milestone,
    MilestoneState,
    OrderStatus,
    OrderType,
    RequestedBy,
    ReviewStatus,
    Role,
    ServiceMode,
    SlaBasis,
    SlaState,
    Urgency,
    WarrantyStatus,
)

T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
# Bounded by the column (VARCHAR(16)): PostgreSQL refuses longer values where SQLite keeps them.
Language = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=16)
]
Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]

# Row ids are INTEGER columns, 32-bit on PostgreSQL: a larger id names no row, and the driver
# would fail on it with an overflow instead of the lookup answering "not found".
MAX_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


def as_utc(value: datetime | None) -> datetime | None:
    """Times without a zone are read as UTC, the zone everything is stored in."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


UTCDatetime = Annotated[datetime, AfterValidator(as_utc)]


def reject_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL; refuse it as invalid input, not as a driver error."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\x00) characters")
    return value


NoNul = AfterValidator(reject_nul)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # Every text field of every input model, so a field added later is covered too.
        return reject_nul(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, or the system itself (IVR, demo, CLI)."""

    id: int | None
    name: str
    role: Role
    station_id: int | None = None


SYSTEM = Actor(id=None, name="system", role=Role.ADMIN)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# Customers


class PhoneIn(Strict):
    number: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    # As long as the column (VARCHAR(32)) allows, which PostgreSQL enforces.
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""


class PhonePublic(BaseModel):
    e164: str
    label: str


class AddressIn(Strict):
    province: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    district: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    street: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    is_primary: bool = False


class AddressPublic(BaseModel):
    id: int
    province: str
    city: str
    district: str
    street: str
    is_primary: bool


Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)]


class CustomerCreate(Strict):
    name: Name
    title: Title = ""
    preferred_language: Language = "zh-CN"
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""
    phones: list[PhoneIn] = Field(default_factory=list, max_length=10)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=10)


class CustomerUpdate(Strict):
    """Fields left out stay as they are; ``phones`` and ``addresses`` replace the lists."""

    name: Name | None = None
    title: Title | None = None
    preferred_language: Language | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    phones: list[PhoneIn] | None = Field(default=None, max_length=10)
    addresses: list[AddressIn] | None = Field(default=None, max_length=10)


class CustomerPublic(BaseModel):
    id: int
    name: str
    title: str
    preferred_language: str
    notes: str
    phones: list[PhonePublic]
    addresses: list[AddressPublic]
    created_at: datetime
    updated_at: datetime


# Appliances


class ApplianceFields(Strict):
    category: ApplianceCategory
    brand: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    model: ShortText = ""
    serial: ShortText = ""
    purchase_date: date | None = None
    manufacture_date: date | None = None
    has_invoice: bool = False
    warranty_months: int = Field(default=12, ge=0, le=240)
    extended_warranty_until: date | None = None


class ApplianceCreate(ApplianceFields):
    customer_id: RowId


class ApplianceUpdate(Strict):
    category: ApplianceCategory | None = None
    brand: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    model: ShortText | None = None
    serial: ShortText | None = None
    purchase_date: date | None = None
    manufacture_date: date | None = None
    has_invoice: bool | None = None
    warranty_months: int | None = Field(default=None, ge=0, le=240)
    extended_warranty_until: date | None = None


class AppliancePublic(BaseModel):
    id: int
    customer_id: int
    category: ApplianceCategory
    brand: str
    model: str
    serial: str
    purchase_date: date | None
    manufacture_date: date | None
    has_invoice: bool
    warranty_months: int
    extended_warranty_until: date | None
    warranty_status: WarrantyStatus
    created_at: datetime
    updated_at: datetime


# Work orders


FAULT_DESCRIPTION_MAX_LENGTH = 5000


class OrderCreate(Strict):
    customer_id: RowId
    appliance_id: RowId
    address_id: RowId | None = None
    order_type: OrderType = OrderType.REPAIR
    service_mode: ServiceMode = ServiceMode.ON_SITE
    urgency: Urgency = Urgency.NORMAL
    channel: Channel = Channel.PHONE
    fault_description: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=FAULT_DESCRIPTION_MAX_LENGTH)
    ] = ""


class AssignmentPublic(BaseModel):
    order_id: int
    station_id: int | None
    engineer_id: int | None
    automatic: bool
    reason: str
    actor_name: str
    at: datetime


class EngineerChoice(Strict):
    engineer_id: RowId | None = None
    """None: the assignable engineer with the skill and the fewest open jobs."""


class ReassignIn(Strict):
    station_id: RowId
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]


class TransitionIn(Strict):
    to: OrderStatus
    note: Annotated[str, StringConstraints(max_length=2000)] = ""
    station_id: RowId | None = Field(default=None, description="Required when assigning.")


class TransitionPublic(BaseModel):
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor_id: int | None
    actor_name: str
    at: datetime
    note: str


class OrderPublic(BaseModel):
    id: int
    number: str
    customer_id: int
    appliance_id: int | None
    address_id: int | None
    station_id: int | None
    engineer_id: int | None
    station_reported: bool
    urban: bool | None
    repair_warranty_of: int | None
    order_type: OrderType
    service_mode: ServiceMode
    urgency: Urgency
    channel: Channel
    fault_description: str
    warranty_status: WarrantyStatus
    status: OrderStatus
    allowed_transitions: list[OrderStatus]
    callback_state: CallbackState = CallbackState.NOT_SAMPLED
    satisfaction_score: int | None = None
    """The customer's score from the satisfaction callback (1-5), once given."""
    satisfaction_comment: str = ""
    surveyed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class OrderCustomer(BaseModel):
    """What a station needs to reach the customer: name, numbers, where to go."""

    id: int
    name: str
    phones: list[PhonePublic]
    service_address: AddressPublic | None


class OrderDetail(OrderPublic):
    customer: OrderCustomer
    history: list[TransitionPublic]


class OrderFilters(BaseModel):
    status: OrderStatus | None = None
    unassigned: bool = False
    """New orders that no station has (no station covered them)."""
    station_reported: bool | None = None
    customer_id: int | None = None
    station_id: int | None = None
    created_from: UTCDatetime | None = None
    created_to: UTCDatetime | None = None


# Caller lookup (the screen pop)


class OrderSummary(BaseModel):
    id: int
    number: str
    order_type: OrderType
    status: OrderStatus
    urgency: Urgency
    appliance_id: int | None
    station_id: int | None
    repair_warranty_of: int | None = None
    fault_description: str
    created_at: datetime
    updated_at: datetime


class CallerCard(BaseModel):
    id: int
    name: str
    title: str
    preferred_language: str
    notes: str
    phones: list[PhonePublic]
    addresses: list[AddressPublic]
    appliances: list[AppliancePublic]
    open_orders: list[OrderSummary]
    recent_orders: list[OrderSummary]
    open_complaints: int
    last_satisfaction_score: int | None = None


class CallerLookup(BaseModel):
    phone: str
    customers: list[CallerCard]


class WarrantyBadge(BaseModel):
    status: WarrantyStatus
    covered_until: date | None
    """The last day of cover (plain or extended); None when nothing proves cover."""
    days_left: int | None
    """Days of cover after today (0: today is the last); None when out of warranty."""


# SLA clocks


class SlaClock(BaseModel):
    due_at: datetime
    seconds_left: int
    """Negative once breached: how long ago the order fell due."""
    state: SlaState
    milestone: Milestone | None = None
    warn_at: datetime | None = None


class MilestonePublic(BaseModel):
    milestone: Milestone
    basis: SlaBasis
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    met_at: datetime | None
    paused_since: datetime | None
    paused_seconds: int
    """Seconds spent paused so far, the running pause included."""
    state: MilestoneState


class SlaOrder(BaseModel):
    number: str
    status: str
    urgency: Urgency
    created_at: datetime
    sla: SlaClock


class HourAttainment(BaseModel):
    """SLA milestones decided in one hour of the day: met in time, or come due unmet."""

    hour: int
    met: int
    missed: int


class SlaFigures(BaseModel):
    warning: int
    breached: int
    orders: list[SlaOrder]
    """The worst clocks first: breached longest ago, then nearest to breaching."""
    by_hour: list[HourAttainment] = []
    """Today's attainment, hour by hour (the hotline's day)."""


class EscalationPublic(BaseModel):
    order_id: int
    number: str = ""
    station_id: int | None
    opened_at: datetime
    reason: str
    reason_filed_at: datetime | None
    reason_filed_by: str
    soothing_call_due_at: datetime
    soothing_call_done_at: datetime | None
    soothing_call_by: str = ""
    soothing_call_note: str = ""
    loaner_offered_at: datetime | None
    loaner_accepted: bool | None
    loaner_note: str
    closed_at: datetime | None


class ReasonIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2000)]


class SoothingCallIn(Strict):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2000)]
    """What the customer was told (安抚) and how they took it."""


class LoanerIn(Strict):
    accepted: bool | None = None
    """None: offered, no answer yet."""
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class ContactIn(Strict):
    topic: ContactTopic
    content: Annotated[str, StringConstraints(max_length=64)]
    note: Annotated[str, StringConstraints(max_length=5000)] = ""
    call_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{1,32}$")] | None = None
    order_id: RowId | None = None
    crisis_level: Annotated[int, Field(ge=0, le=3)] = 1
    """For a complaint: 1 ordinary, 2 potential, 3 severe (0 no crisis)."""


class ContactPublic(BaseModel):
    id: int
    customer_id: int
    topic: ContactTopic
    content: str
    note: str
    call_id: str | None
    order_id: int | None
    complaint_id: int | None
    created_by: str
    created_at: datetime


class ComplaintPublic(BaseModel):
    id: int
    customer_id: int
    order_id: int | None
    topic: str
    crisis_level: int
    description: str
    status: ComplaintStatus
    owner_id: int | None
    due_at: datetime | None
    escalated_at: datetime | None
    raised_by_rule: str
    created_at: datetime


class ComplaintMove(Strict):
    to: ComplaintStatus | None = None
    owner_id: RowId | None = None
    crisis_level: Annotated[int, Field(ge=0, le=3)] | None = None


class AppointmentIn(Strict):
    window_start: UTCDatetime
    window_end: UTCDatetime
    requested_by: RequestedBy | None = None
    """Required when an appointment stands already (a reschedule)."""
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class MissedVisitIn(Strict):
    fault_of: RequestedBy = RequestedBy.STATION
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]


class AppointmentPublic(BaseModel):
    id: int
    order_id: int
    station_id: int | None
    window_start: datetime
    window_end: datetime
    status: AppointmentStatus
    requested_by: RequestedBy | None
    reason: str
    created_by: str
    created_at: datetime


# The station's board


class JobCard(BaseModel):
    """One open job as a station (or its engineer) sees it on the board."""

    id: int
    number: str
    status: OrderStatus
    order_type: OrderType
    service_mode: ServiceMode
    urgency: Urgency
    station_reported: bool
    created_at: datetime
    customer_name: str
    phones: list[str]
    address: str
    appliance: str
    category: ApplianceCategory | None
    fault_description: str
    engineer_id: int | None
    engineer_name: str
    next_steps: list[OrderStatus]
    """The moves the station may make from here (the hotline keeps the others)."""
    visit_start: datetime | None = None
    visit_end: datetime | None = None
    """The standing appointment's window, if one is agreed."""
    visit_today: bool = False
    """The visit falls on today in the station's zone: the job is on today's round."""
    at_station: bool = False
    """Taken back to the station (拉修): it goes back against the handover slip."""
    cancellation_pending: bool = False
    """The station asked the hotline to cancel it; the review is outstanding."""
    has_record: bool = False
    """An installation or maintenance visit's record is filed (completion needs it)."""


class BoardEngineer(BaseModel):
    id: int
    name: str
    open_jobs: int


class StationBoard(BaseModel):
    station_id: int
    station_name: str
    time_zone: str = "Asia/Shanghai"
    """The station's zone: visit windows are shown, and "today" is counted, in it."""
    jobs: list[JobCard]
    engineers: list[BoardEngineer]


# Reports


class TimesRow(BaseModel):
    group: str
    period: str
    """The day, ISO week or month the orders were reported in; "all" for the whole range."""
    orders: int
    responded: int
    mean_response_hours: float | None
    """Report to the station's acknowledgement (接单)."""
    resolved: int
    mean_resolution_hours: float | None
    """Report to completion (完工)."""


class AttainmentRow(BaseModel):
    milestone: Milestone
    due: int
    met_on_time: int
    met_late: int
    missed_open: int
    attainment: float | None
    """Share met on time of those due; None when none fell due."""


class AgeBucketRow(BaseModel):
    group: str
    buckets: dict[str, int]
    total: int


class ComplaintRow(BaseModel):
    topic: str
    crisis_level: str
    total: int
    open: int


class ReportSection(BaseModel):
    title: str
    columns: list[str]
    rows: list[list[str | int | float | None]]


class Report(BaseModel):
    """A report as sections of rows: the JSON answer, and the sheets of its workbook."""

    name: str
    start: datetime
    end: datetime
    generated_at: datetime
    sections: list[ReportSection]


# Stations and users


Place = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Clock24 = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class RegionIn(Strict):
    province: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    city: Place = ""
    district: Place = ""
    urban: bool = True

    @model_validator(mode="after")
    def _district_needs_city(self) -> RegionIn:
        if self.district and not self.city:
            raise ValueError("a district needs its city")
        return self


class RegionPublic(BaseModel):
    province: str
    city: str
    district: str
    urban: bool


def _check_hours(hours: dict[str, list[tuple[Clock24, Clock24]]]) -> dict[str, list[list[str]]]:
    for day, spans in hours.items():
        if day not in {"1", "2", "3", "4", "5", "6", "7"}:
            raise ValueError(f"{day!r} is not an ISO weekday (1 Monday ... 7 Sunday)")
        ordered = sorted(spans)
        for (start, end), following in zip(ordered, [*ordered[1:], None], strict=True):
            if end <= start:
                raise ValueError(f"on day {day}, {start}-{end} ends before it starts")
            if following is not None and following[0] < end:
                raise ValueError(f"on day {day}, {start}-{end} overlaps {following[0]}")
    return {day: [list(span) for span in sorted(spans)] for day, spans in hours.items()}


WorkingHours = Annotated[dict[str, list[tuple[Clock24, Clock24]]], AfterValidator(_check_hours)]


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a time zone (e.g. Asia/Shanghai)") from exc
    return name


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_zone)]


class StationCreate(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name: Name
    phone: Annotated[str, StringConstraints(max_length=32)] = ""
    time_zone: TimeZoneName = "Asia/Shanghai"
    working_hours: WorkingHours | None = None
    """None: Monday to Friday, 08:30-12:00 and 13:30-18:00."""
    regions: list[RegionIn] = Field(default_factory=list, max_length=500)
    closures: list[date] = Field(default_factory=list, max_length=366)


class StationUpdate(Strict):
    """Fields left out stay; ``regions`` and ``closures`` replace the lists."""

    name: Name | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    time_zone: TimeZoneName | None = None
    working_hours: WorkingHours | None = None
    regions: list[RegionIn] | None = Field(default=None, max_length=500)
    closures: list[date] | None = Field(default=None, max_length=366)
    is_active: bool | None = None


class StationPublic(BaseModel):
    id: int
    code: str
    name: str
    phone: str = ""
    time_zone: str = "Asia/Shanghai"
    working_hours: dict[str, list[list[str]]] = Field(default_factory=dict)
    is_active: bool = True
    regions: list[RegionPublic] = Field(default_factory=list)
    closures: list[date] = Field(default_factory=list)


class EngineerCreate(Strict):
    station_id: RowId
    name: Name
    phone: Annotated[str, StringConstraints(max_length=32)] = ""
    categories: list[ApplianceCategory] = Field(default_factory=list, max_length=20)
    service_types: list[OrderType] = Field(default_factory=list, max_length=5)
    level: Annotated[int, Field(ge=1, le=10)] = 1
    certificate_no: Annotated[str, StringConstraints(max_length=64)] = ""
    certificate_expires: date | None = None
    user_id: RowId | None = None


class EngineerUpdate(Strict):
    name: Name | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    categories: list[ApplianceCategory] | None = Field(default=None, max_length=20)
    service_types: list[OrderType] | None = Field(default=None, max_length=5)
    level: Annotated[int, Field(ge=1, le=10)] | None = None
    certificate_no: Annotated[str, StringConstraints(max_length=64)] | None = None
    certificate_expires: date | None = None
    is_active: bool | None = None


class EngineerPublic(BaseModel):
    id: int
    station_id: int
    user_id: int | None
    name: str
    phone: str
    categories: list[str]
    service_types: list[str]
    level: int
    certificate_no: str
    certificate_expires: date | None
    is_active: bool


Extension = Annotated[
    str,
    StringConstraints(
        pattern=r"^(client:[A-Za-z0-9_.-]{1,64}|sip:[A-Za-z0-9_.-]{1,64}(@[A-Za-z0-9.-]{1,60}(:[0-9]{1,5})?)?)$"
    ),
]
"""``client:NAME`` (a Twilio client) or ``sip:USER[@HOST[:PORT]]``; no phone numbers."""


class UserCreate(Strict):
    username: Username
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    role: Role
    station_id: RowId | None = None
    password: Password
    extension: Extension | None = None


class UserUpdate(Strict):
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    role: Role | None = None
    station_id: RowId | None = None
    password: Password | None = None
    is_active: bool | None = None
    extension: Extension | None = None


class UserPublic(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    station_id: int | None
    is_active: bool
    extension: str | None
    language: str | None = None
    """The console's language the user chose last; None: the hotline's own."""
    created_at: datetime


class LanguageIn(Strict):
    language: Literal["zh-CN", "en"]


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


# Audit


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    entity: str
    entity_id: int
    action: AuditAction
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# Records kept on an order: handover slips, cancellation requests, installation and
# maintenance records, maintenance plans

Remark = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2000)]
OptionalRemark = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class TakeBackIn(Strict):
    """拉修: the machine goes to the station, with the customer's consent (spec §3.4.5)."""

    customer_consented: bool
    handed_over_by: Name
    condition: Remark
    accessories: OptionalRemark = ""
    expected_back: date | None = None


class MachineReturnIn(Strict):
    received_by: Name
    customer_feedback: OptionalRemark = ""


class HandoverSlipPublic(BaseModel):
    id: int
    order_id: int
    condition: str
    accessories: str
    handed_over_by: str
    expected_back: date | None
    taken_by: str
    taken_at: datetime
    returned_at: datetime | None
    received_by: str
    customer_feedback: str
    returned_by: str


class CancellationRequestIn(Strict):
    reason: CancelReason = CancelReason.FIXED_BY_PHONE
    note: Remark
    """What was done: for a fault cleared on the phone, what the customer was told."""


class CancellationReviewIn(Strict):
    approve: bool
    customer_confirmed: bool = False
    """Approving needs it: the reviewer asked the customer, who says the fault is gone."""
    note: Remark


class CancellationRequestPublic(BaseModel):
    id: int
    order_id: int
    order_number: str = ""
    reason: CancelReason
    note: str
    requested_by: str
    requested_at: datetime
    status: ReviewStatus
    customer_confirmed: bool
    reviewed_by: str
    reviewed_at: datetime | None
    review_note: str


class InstallationRecordIn(Strict):
    unboxing_ok: bool
    unboxing_notes: OptionalRemark = ""
    commissioned: bool
    training_given: bool
    customer_confirmed_by: Name
    notes: OptionalRemark = ""


class InstallationRecordPublic(InstallationRecordIn):
    id: int
    order_id: int
    recorded_by: str
    recorded_at: datetime


class MaintenanceRecordIn(Strict):
    work_done: Remark
    findings: OptionalRemark = ""
    customer_confirmed_by: Name


class MaintenanceRecordPublic(MaintenanceRecordIn):
    id: int
    order_id: int
    plan_id: int | None
    recorded_by: str
    recorded_at: datetime


MAX_LEAD_DAYS = 120
"""How long ahead of its due date a maintenance order may be created."""


class MaintenancePlanIn(Strict):
    task: Name
    interval_months: int = Field(ge=1, le=120)
    next_due: date
    lead_days: int = Field(default=14, ge=0, le=MAX_LEAD_DAYS)


class MaintenancePlanUpdate(Strict):
    interval_months: int | None = Field(default=None, ge=1, le=120)
    next_due: date | None = None
    lead_days: int | None = Field(default=None, ge=0, le=MAX_LEAD_DAYS)
    is_active: bool | None = None


class MaintenancePlanPublic(BaseModel):
    id: int
    appliance_id: int
    task: str
    interval_months: int
    next_due: date
    lead_days: int
    open_order_id: int | None
    is_active: bool
    created_by: str
    created_at: datetime
