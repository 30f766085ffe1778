"""Vocabulary of the orders domain."""

from __future__ import annotations

from enum import StrEnum


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


class SlaState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


class ComplaintStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    TRANSITION = "transition"
    DELETE = "delete"


class ReportGrouping(StrEnum):
    STATION = "station"
    ENGINEER = "engineer"
    CATEGORY = "category"


class ReportPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
