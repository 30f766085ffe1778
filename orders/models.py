"""Tables of the orders domain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, enum_type
from orders.enums import (
    ApplianceCategory,
    AppointmentStatus,
    AuditAction,
    CallbackState,
    CancelReason,
    Channel,
    ComplaintStatus,
    ContactTopic,
    CustomerGrade,
    Milestone,
    MilestoneState,
    OrderStatus,
    OrderType,
    RequestedBy,
    ReviewStatus,
    Role,
    ServiceMode,
    SlaBasis,
    Urgency,
    WarrantyStatus,
)


def _created() -> Any:
    return Field(sa_type=UTCDateTime, nullable=False)


def default_working_hours() -> dict[str, list[list[str]]]:
    """Monday to Friday, 08:30-12:00 and 13:30-18:00, keyed by ISO weekday."""
    return {str(day): [["08:30", "12:00"], ["13:30", "18:00"]] for day in range(1, 6)}


class Station(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    phone: str = Field(default="", max_length=32)
    time_zone: str = Field(default="Asia/Shanghai", max_length=64)
    """IANA zone in which the station's working hours and closures are read."""
    working_hours: dict[str, list[list[str]]] = Field(
        default_factory=default_working_hours, sa_type=JSON
    )
    """ISO weekday ("1" Monday ... "7" Sunday) to its opening intervals, "HH:MM" pairs in
    the station's zone. China's public holidays close the station whatever this says; a
    make-up working day (调休) opens it with the hours of the weekday it stands in for."""
    is_active: bool = True
    created_at: datetime = _created()


class StationRegion(SQLModel, table=True):
    """A piece of the map a station covers: a district, or a whole city (district ""), or
    a whole province (city and district "")."""

    __tablename__ = "station_region"
    __table_args__ = (
        UniqueConstraint("station_id", "province", "city", "district"),
        Index("ix_station_region_place", "province", "city", "district"),
    )

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    province: str = Field(max_length=64)
    city: str = Field(default="", max_length=64)
    district: str = Field(default="", max_length=64)
    urban: bool = True
    """Urban districts get the 24-hour on-site target (市区内24小时内); others the policy's
    target for non-urban addresses."""


class StationClosure(SQLModel, table=True):
    """A day the station is closed on top of the public holidays (its own closures)."""

    __tablename__ = "station_closure"
    __table_args__ = (UniqueConstraint("station_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    day: date
    reason: str = Field(default="", max_length=200)


class Engineer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", unique=True)
    """The engineer's own login (role ``engineer``), if they have one."""
    name: str = Field(max_length=200)
    phone: str = Field(default="", max_length=32)
    categories: list[str] = Field(default_factory=list, sa_type=JSON)
    """Appliance categories the engineer repairs (ApplianceCategory values)."""
    service_types: list[str] = Field(default_factory=list, sa_type=JSON)
    """Kinds of work the engineer does (OrderType values)."""
    level: int = 1
    certificate_no: str = Field(default="", max_length=64)
    """售后服务上岗证: without a valid one the engineer is not assignable."""
    certificate_expires: date | None = None
    is_active: bool = True
    created_at: datetime = _created()


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(default="", max_length=200)
    role: Role = Field(sa_type=enum_type(Role))
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    extension: str | None = Field(default=None, max_length=130)
    """Where the agent's calls ring (``client:NAME`` or ``sip:USER@HOST``); set by an admin."""
    token_version: int = 0
    """Tokens carry the version they were issued under; a reset or deactivation bumps it."""
    language: str | None = Field(default=None, max_length=16)
    """The console's language the user chose last (zh-CN, en); None: the hotline's."""
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    title: str = Field(default="", max_length=16)
    """How the hotline addresses the customer after the surname: 先生, 女士, Mr, Ms."""
    preferred_language: str = Field(default="zh-CN", max_length=16)
    grade: CustomerGrade = Field(default=CustomerGrade.INDIVIDUAL, sa_type=enum_type(CustomerGrade))
    notes: str = Field(default="", sa_type=Text)
    last_satisfaction_score: int | None = Field(default=None, ge=1, le=5)
    """The customer's newest callback score, kept here so the screen pop reads no more."""
    created_at: datetime = _created()
    updated_at: datetime = _created()


class CustomerPhone(SQLModel, table=True):
    __tablename__ = "customer_phone"
    __table_args__ = (UniqueConstraint("customer_id", "e164"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    e164: str = Field(max_length=20, index=True)
    label: str = Field(default="", max_length=32)


class Address(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    province: str = Field(max_length=64)
    city: str = Field(max_length=64)
    district: str = Field(default="", max_length=64)
    street: str = Field(max_length=300)
    is_primary: bool = False


class Appliance(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    category: ApplianceCategory = Field(sa_type=enum_type(ApplianceCategory))
    brand: str = Field(max_length=100)
    model: str = Field(default="", max_length=100)
    serial: str = Field(default="", max_length=100, index=True)
    purchase_date: date | None = None
    manufacture_date: date | None = None
    has_invoice: bool = False
    warranty_months: int = 12
    extended_warranty_until: date | None = None
    created_at: datetime = _created()
    updated_at: datetime = _created()


class WorkOrder(SQLModel, table=True):
    __tablename__ = "work_order"
    __table_args__ = (
        Index("ix_work_order_customer_created_id", "customer_id", "created_at", "id"),
        Index("ix_work_order_customer_status", "customer_id", "status"),
        Index("ix_work_order_station_status", "station_id", "status"),
        Index("ix_work_order_status_created", "status", "created_at"),
        UniqueConstraint("created_by", "request_key", name="uq_work_order_request_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True)
    customer_id: int = Field(foreign_key="customer.id")
    appliance_id: int | None = Field(default=None, foreign_key="appliance.id", index=True)
    address_id: int | None = Field(default=None, foreign_key="address.id")
    station_id: int | None = Field(default=None, foreign_key="station.id")
    engineer_id: int | None = Field(default=None, foreign_key="engineer.id", index=True)
    station_reported: bool = False
    """Taken by a station directly and reported to the hotline (报备), not dispatched."""
    urban: bool | None = None
    """Whether the service address lies in an urban district of the covering station;
    unknown (None) until the order is dispatched."""
    repair_warranty_of: int | None = Field(default=None, foreign_key="work_order.id")
    """The earlier repair of the same appliance, completed within 90 days, whose repair
    warranty covers this one (90天质保期): free of charge, once the agent confirms the fault
    is the same."""
    order_type: OrderType = Field(sa_type=enum_type(OrderType))
    service_mode: ServiceMode = Field(sa_type=enum_type(ServiceMode))
    urgency: Urgency = Field(default=Urgency.NORMAL, sa_type=enum_type(Urgency))
    channel: Channel = Field(sa_type=enum_type(Channel))
    fault_description: str = Field(default="", sa_type=Text)
    warranty_status: WarrantyStatus = Field(sa_type=enum_type(WarrantyStatus))
    status: OrderStatus = Field(default=OrderStatus.NEW, sa_type=enum_type(OrderStatus))
    callback_state: CallbackState = Field(
        default=CallbackState.NOT_SAMPLED, sa_type=enum_type(CallbackState)
    )
    satisfaction_score: int | None = Field(default=None, ge=1, le=5)
    """The customer's score (1-5) from the satisfaction callback (回访), once given."""
    satisfaction_comment: str = Field(default="", sa_type=Text)
    surveyed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    request_key: str | None = Field(default=None, max_length=64)
    """The creating request's Idempotency-Key: the same key from the same user gets this
    order back instead of a second one (a double click, a retried request)."""
    created_at: datetime = _created()
    updated_at: datetime = _created()


class OrderAssignment(SQLModel, table=True):
    """Every assignment of an order to a station and engineer, automatic or by hand."""

    __tablename__ = "order_assignment"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    station_id: int | None = Field(default=None, foreign_key="station.id")
    """None: no station covers the order; it waits on the unassigned list."""
    engineer_id: int | None = Field(default=None, foreign_key="engineer.id")
    automatic: bool
    reason: str = Field(default="", sa_type=Text)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_name: str = Field(max_length=200)
    at: datetime = _created()


class SlaPolicyRule(SQLModel, table=True):
    """SLA targets for orders of a type, urgency and customer grade (None: any); the most
    specific matching rule wins, and built-in defaults apply where none matches."""

    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("order_type", "urgency", "customer_grade"),)

    id: int | None = Field(default=None, primary_key=True)
    order_type: OrderType | None = Field(default=None, sa_type=enum_type(OrderType))
    urgency: Urgency | None = Field(default=None, sa_type=enum_type(Urgency))
    customer_grade: CustomerGrade | None = Field(default=None, sa_type=enum_type(CustomerGrade))
    milestones: list[dict[str, Any]] = Field(sa_type=JSON)
    """Each: kind, hours, hours_non_urban (on site), basis, pauses_in (statuses)."""
    warn_share: float = 0.75
    created_at: datetime = _created()


class SlaClockRow(SQLModel, table=True):
    """One milestone of one order: when it started, falls due and was met or paused."""

    __tablename__ = "sla_milestone"
    __table_args__ = (
        UniqueConstraint("order_id", "kind"),
        Index("ix_sla_milestone_next_check_at", "next_check_at"),
        Index("ix_sla_milestone_open_due", "met_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id")
    kind: Milestone = Field(sa_type=enum_type(Milestone))
    basis: SlaBasis = Field(sa_type=enum_type(SlaBasis))
    pauses_in: list[str] = Field(default_factory=list, sa_type=JSON)
    started_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    warn_at: datetime = Field(sa_type=UTCDateTime)
    met_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_seconds: int = 0
    """Wall-clock seconds spent paused so far (spans already ended)."""
    left_when_paused: float | None = None
    """Working (or wall) seconds that were left until due when the pause began."""
    warn_left_when_paused: float | None = None
    state: MilestoneState = Field(default=MilestoneState.PENDING, sa_type=enum_type(MilestoneState))
    warned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    breached_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the sweep must look at this milestone next (warning, then due); None once met,
    breached, stopped or while paused: the sweep reads only rows whose moment has come."""


class Escalation(SQLModel, table=True):
    """An order not repaired within 5 days of the report (报修5天内未能修复)."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", unique=True)
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", sa_type=Text)
    """The station's reason for the delay, filed to the hotline (延期原因)."""
    reason_filed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason_filed_by: str = Field(default="", max_length=200)
    soothing_call_due_at: datetime = Field(sa_type=UTCDateTime)
    """The customer is to be called and reassured (安抚) by then."""
    soothing_call_done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    soothing_call_by: str = Field(default="", max_length=200)
    soothing_call_note: str = Field(default="", sa_type=Text)
    """What the customer was told and how they took it."""
    loaner_offered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    loaner_accepted: bool | None = None
    loaner_note: str = Field(default="", sa_type=Text)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Appointment(SQLModel, table=True):
    """A visit window agreed with the customer (确定具体上门服务时间)."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    window_start: datetime = Field(sa_type=UTCDateTime)
    window_end: datetime = Field(sa_type=UTCDateTime)
    status: AppointmentStatus = Field(
        default=AppointmentStatus.SCHEDULED, sa_type=enum_type(AppointmentStatus)
    )
    requested_by: RequestedBy | None = Field(default=None, sa_type=enum_type(RequestedBy))
    """Set on a rescheduled or missed visit: who asked, or whose fault it was."""
    reason: str = Field(default="", sa_type=Text)
    created_by: str = Field(max_length=200)
    created_at: datetime = _created()


class OrderTransition(SQLModel, table=True):
    __tablename__ = "order_transition"
    __table_args__ = (
        # Outbound campaigns find the orders that reached a status in a period.
        Index("ix_order_transition_to_status_at", "to_status", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    from_status: OrderStatus | None = Field(default=None, sa_type=enum_type(OrderStatus))
    to_status: OrderStatus = Field(sa_type=enum_type(OrderStatus))
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_name: str = Field(max_length=200)
    at: datetime = _created()
    note: str = Field(default="", sa_type=Text)


class Complaint(SQLModel, table=True):
    __table_args__ = (
        Index("ix_complaint_customer_status", "customer_id", "status"),
        Index("ix_complaint_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    order_id: int | None = Field(default=None, foreign_key="work_order.id")
    topic: str = Field(max_length=64)
    crisis_level: int = Field(default=0, ge=0, le=3)
    """A CrisisLevel: 0 none, 1 ordinary, 2 potential, 3 severe."""
    description: str = Field(default="", sa_type=Text)
    status: ComplaintStatus = Field(
        default=ComplaintStatus.OPEN, sa_type=enum_type(ComplaintStatus)
    )
    owner_id: int | None = Field(default=None, foreign_key="user.id")
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When it must be resolved by, from its crisis level."""
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When it was escalated to the supervisors for being overdue (once)."""
    raised_by_rule: str = Field(default="", max_length=64)
    """Set when a rule raised it (e.g. an order waiting for parts too long), not a caller."""
    created_at: datetime = _created()


class ContactRecord(SQLModel, table=True):
    """One contact with the hotline and what it was about, picked from the catalogue."""

    __tablename__ = "contact_record"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    topic: ContactTopic = Field(sa_type=enum_type(ContactTopic))
    content: str = Field(max_length=64)
    note: str = Field(default="", sa_type=Text)
    call_id: str | None = Field(default=None, max_length=32)
    order_id: int | None = Field(default=None, foreign_key="work_order.id")
    complaint_id: int | None = Field(default=None, foreign_key="complaint.id")
    created_by: str = Field(max_length=200)
    created_at: datetime = _created()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None)
    actor_name: str = Field(max_length=200)
    entity: str = Field(sa_column=Column(String(32), nullable=False))
    entity_id: int
    action: AuditAction = Field(sa_type=enum_type(AuditAction))
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class HandoverSlip(SQLModel, table=True):
    """维修机交接单: a machine taken from the customer's home to the station for repair
    (拉修, spec §3.4.5), with the customer's consent, and its return."""

    __tablename__ = "handover_slip"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    condition: str = Field(sa_type=Text)
    """What the machine looks like when it leaves: marks, damage, what works."""
    accessories: str = Field(default="", sa_type=Text)
    handed_over_by: str = Field(max_length=200)
    """The customer (or who stood in for them) who consented and signed."""
    expected_back: date | None = None
    taken_by: str = Field(max_length=200)
    taken_at: datetime = _created()
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_by: str = Field(default="", max_length=200)
    """Who signed for the machine when it came back."""
    customer_feedback: str = Field(default="", sa_type=Text)
    returned_by: str = Field(default="", max_length=200)


class CancellationRequest(SQLModel, table=True):
    """A station's request to cancel an order, which the hotline reviews (审核后删单)."""

    __tablename__ = "cancellation_request"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    reason: CancelReason = Field(sa_type=enum_type(CancelReason))
    note: str = Field(sa_type=Text)
    requested_by: str = Field(max_length=200)
    requested_at: datetime = _created()
    status: ReviewStatus = Field(
        default=ReviewStatus.PENDING, sa_type=enum_type(ReviewStatus), index=True
    )
    customer_confirmed: bool = False
    """The reviewer heard from the customer that the fault is gone."""
    reviewed_by: str = Field(default="", max_length=200)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_note: str = Field(default="", sa_type=Text)


class InstallationRecord(SQLModel, table=True):
    """装机单: what an installation visit did, captured before the order completes."""

    __tablename__ = "installation_record"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", unique=True)
    unboxing_ok: bool
    """开箱验机: the machine arrived whole and complete."""
    unboxing_notes: str = Field(default="", sa_type=Text)
    commissioned: bool
    """调试: installed, switched on and working."""
    training_given: bool
    """The customer was shown how to use and look after it."""
    customer_confirmed_by: str = Field(max_length=200)
    notes: str = Field(default="", sa_type=Text)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = _created()


class MaintenancePlan(SQLModel, table=True):
    """Periodic care of an appliance (e.g. air-conditioner cleaning every 12 months): a
    maintenance order is created ahead of each due date."""

    __tablename__ = "maintenance_plan"

    id: int | None = Field(default=None, primary_key=True)
    appliance_id: int = Field(foreign_key="appliance.id", index=True)
    task: str = Field(max_length=200)
    interval_months: int
    next_due: date = Field(index=True)
    lead_days: int = 14
    """How many days before the due date the order is created, for the station to book
    the visit."""
    open_order_id: int | None = Field(default=None, foreign_key="work_order.id")
    """The maintenance order of the current round, while it is not done."""
    is_active: bool = True
    created_by: str = Field(max_length=200)
    created_at: datetime = _created()


class MaintenanceRecord(SQLModel, table=True):
    """保护保养记录: what a maintenance visit did."""

    __tablename__ = "maintenance_record"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", unique=True)
    plan_id: int | None = Field(default=None, foreign_key="maintenance_plan.id", index=True)
    work_done: str = Field(sa_type=Text)
    findings: str = Field(default="", sa_type=Text)
    customer_confirmed_by: str = Field(max_length=200)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = _created()
