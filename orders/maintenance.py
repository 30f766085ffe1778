"""Maintenance plans' calendar: when the next round falls due, and what ends a round.

Kept apart from the plan services so the one place an order's status changes (the
transitions) can close a round without importing order intake."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from orders.calendar import HOTLINE_ZONE
from orders.enums import OrderStatus
from orders.models import MaintenancePlan, Station, WorkOrder


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day
    (31 January + 1 month is 28 or 29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_day(session: Session, order: WorkOrder, moment: datetime) -> date:
    """The calendar day at the order's station (the hotline's zone without one)."""
    station = session.get(Station, order.station_id) if order.station_id else None
    zone = ZoneInfo(station.time_zone) if station else HOTLINE_ZONE
    return moment.astimezone(zone).date()


def end_round(session: Session, *, order: WorkOrder, now: datetime) -> None:
    """A plan's maintenance order is done or cancelled: the next round is counted from
    the day of the visit, or, when the customer declined this one, from the date it
    was due, so a declined round is skipped rather than asked again at once."""
    if order.status not in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
        return
    plan = session.exec(
        select(MaintenancePlan).where(MaintenancePlan.open_order_id == order.id)
    ).first()
    if plan is None:
        return
    counted_from = (
        local_day(session, order, now) if order.status is OrderStatus.COMPLETED else plan.next_due
    )
    plan.next_due = add_months(counted_from, plan.interval_months)
    plan.open_order_id = None
    session.add(plan)
