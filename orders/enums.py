"""Vocabulary of the orders domain."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    STATION = "station"
    ENGINEER = "engineer"
    """A station's engineer: sees and works only the orders assigned to them."""


class CustomerGrade(StrEnum):
    """Who the customer is to the brand; SLA policies may differ per grade."""

    INDIVIDUAL = "individual"
    DEALER = "dealer"  # 经销商
    MALL = "mall"  # 大卖场
    GROUP = "group"  # 集团客户


class ApplianceCategory(StrEnum):
    WASHING_MACHINE = "washing_machine"
    REFRIGERATOR = "refrigerator"
    AIR_CONDITIONER = "air_conditioner"
    TV = "tv"
    WATER_HEATER = "water_heater"
    RANGE_HOOD = "range_hood"
    GAS_STOVE = "gas_stove"
    MICROWAVE = "microwave"
    DISHWASHER = "dishwasher"
    OTHER = "other"


class WarrantyStatus(StrEnum):
    IN_WARRANTY = "in_warranty"
    EXTENDED = "extended"
    OUT_OF_WARRANTY = "out_of_warranty"


class OrderType(StrEnum):
    REPAIR = "repair"
    INSTALLATION = "installation"
    MAINTENANCE = "maintenance"


class ServiceMode(StrEnum):
    ON_SITE = "on_site"
    CARRY_IN = "carry_in"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Channel(StrEnum):
    PHONE = "phone"
    IVR = "ivr"
    WEB = "web"
    MAINTENANCE_PLAN = "maintenance_plan"
    """Created by the worker ahead of a maintenance plan's due date."""


class OrderStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    CONTACTED = "contacted"
    IN_SERVICE = "in_service"
    WAITING_PARTS = "waiting_parts"
    HARD_TO_REPAIR = "hard_to_repair"
    COMPLETED = "completed"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REOPENED = "reopened"


class CallbackState(StrEnum):
    """Where an order stands with its satisfaction callback (回访)."""

    NOT_SAMPLED = "not_sampled"
    DUE = "due"
    """Sampled for a callback that has not ended yet: the order is not settled."""
    DONE = "done"
    """The callback ended (a score, a refusal, or every attempt made)."""


class SlaState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


class Milestone(StrEnum):
    """The SLA milestones of the operating spec (call-center-operating-spec §1.2, §3.5)."""

    ACKNOWLEDGE = "acknowledge"  # 派发后2小时内回复接单
    CONTACT = "contact"  # 接收工单后2小时内与用户取得联系
    ON_SITE = "on_site"  # 市区内24小时内上门
    REPAIR = "repair"  # 报修5天内修复


class MilestoneState(StrEnum):
    PENDING = "pending"
    WARNING = "warning"
    MET = "met"
    BREACHED = "breached"
    STOPPED = "stopped"
    """The order was cancelled before the milestone was met: it no longer counts."""


class SlaBasis(StrEnum):
    WALL_CLOCK = "wall_clock"
    BUSINESS = "business"
    """Counted only in the station's working hours on working days."""


class ComplaintStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class CrisisLevel(IntEnum):
    """How grave a complaint is (call-center-operating-spec §6.1)."""

    NONE = 0
    """A complaint that is no crisis (yet)."""
    ORDINARY = 1  # 普通危机: rules or attitude, mended inside the station
    POTENTIAL = 2  # 潜在危机: a repair delayed by parts or technique
    SEVERE = 3  # 严重危机: a major incident, an escalated complaint, media exposure


class ContactTopic(StrEnum):
    """What a contact with the hotline was about (报修/投诉/赞誉/咨询)."""

    REPAIR_REQUEST = "repair_request"
    COMPLAINT = "complaint"
    PRAISE = "praise"
    INQUIRY = "inquiry"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    TRANSITION = "transition"
    DELETE = "delete"
    LISTEN = "listen"
    """A recording played (its audio fetched from the start)."""


class ReportGrouping(StrEnum):
    STATION = "station"
    ENGINEER = "engineer"
    CATEGORY = "category"


class ReportPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    KEPT = "kept"
    RESCHEDULED = "rescheduled"
    MISSED = "missed"


class RequestedBy(StrEnum):
    """Who asked for a (re)scheduled visit: 改约 by the customer, or the station's 失约."""

    CUSTOMER = "customer"
    STATION = "station"
    HOTLINE = "hotline"


class CancelReason(StrEnum):
    """Why a station asks the hotline to cancel an order (审核后删单)."""

    FIXED_BY_PHONE = "fixed_by_phone"  # 电话排除故障
    DUPLICATE = "duplicate"
    CUSTOMER_WITHDREW = "customer_withdrew"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
