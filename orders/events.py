"""The order events this package publishes, each once its change is committed."""

from __future__ import annotations

from datetime import datetime

from core.bus import Event
from orders.enums import Milestone, OrderStatus


class OrderCreated(Event):
    name = "order.created"
    order_id: int
    number: str
    customer_id: int
    station_id: int | None
    station_reported: bool
    at: datetime


class OrderStatusChanged(Event):
    name = "order.status_changed"
    order_id: int
    number: str
    customer_id: int | None = None
    station_id: int | None
    engineer_id: int | None
    from_status: OrderStatus
    to_status: OrderStatus
    actor: str
    at: datetime


class SlaWarning(Event):
    name = "sla.warning"
    order_id: int
    number: str
    station_id: int | None
    milestone: Milestone
    due_at: datetime
    at: datetime


class SlaBreached(Event):
    name = "sla.breached"
    order_id: int
    number: str
    station_id: int | None
    milestone: Milestone
    due_at: datetime
    at: datetime


class EscalationOpened(Event):
    name = "sla.escalated"
    order_id: int
    number: str
    station_id: int | None
    at: datetime


class ComplaintOpened(Event):
    name = "complaint.opened"
    complaint_id: int
    customer_id: int
    order_id: int | None
    station_id: int | None
    crisis_level: int
    at: datetime


class ComplaintEscalated(Event):
    name = "complaint.escalated"
    complaint_id: int
    customer_id: int
    order_id: int | None
    station_id: int | None
    crisis_level: int
    at: datetime


class CancellationRequested(Event):
    """A station asked to cancel an order: the hotline's review desk shows it at once."""

    name = "order.cancellation_requested"
    order_id: int
    number: str
    station_id: int | None
    request_id: int
    at: datetime
