"""Warranty judgement, as the hotline makes it at intake."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from orders.enums import WarrantyStatus
from orders.schemas import AppliancePublic, WarrantyBadge

# Without a purchase invoice the warranty is taken to start three months after the
# manufacture date (call-center operating spec 3.2.2).
NO_INVOICE_GRACE_MONTHS = 3


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def warranty_start(
    *, has_invoice: bool, purchase_date: date | None, manufacture_date: date | None
) -> date | None:
    if has_invoice and purchase_date is not None:
        return purchase_date
    if manufacture_date is not None:
        return add_months(manufacture_date, NO_INVOICE_GRACE_MONTHS)
    return None


def warranty_status(
    *,
    at: date,
    has_invoice: bool,
    purchase_date: date | None,
    manufacture_date: date | None,
    warranty_months: int,
    extended_warranty_until: date | None,
) -> WarrantyStatus:
    """In warranty up to and including the last day; then extended cover if any.

    With neither an invoice nor a manufacture date nothing proves the warranty, so
    the appliance is treated as out of warranty unless extended cover is on file.
    """
    start = warranty_start(
        has_invoice=has_invoice, purchase_date=purchase_date, manufacture_date=manufacture_date
    )
    if start is not None and start <= at < add_months(start, warranty_months):
        return WarrantyStatus.IN_WARRANTY
    if extended_warranty_until is not None and at <= extended_warranty_until:
        return WarrantyStatus.EXTENDED
    return WarrantyStatus.OUT_OF_WARRANTY


def warranty_badge(appliance: AppliancePublic, today: date) -> WarrantyBadge:
    """The appliance's cover as an agent reads it: until when, and how many days are left."""
    status = appliance.warranty_status
    if status is WarrantyStatus.OUT_OF_WARRANTY:
        return WarrantyBadge(status=status, covered_until=None, days_left=None)
    if status is WarrantyStatus.EXTENDED:
        until = appliance.extended_warranty_until
    else:
        start = warranty_start(
            has_invoice=appliance.has_invoice,
            purchase_date=appliance.purchase_date,
            manufacture_date=appliance.manufacture_date,
        )
        assert start is not None  # in warranty means a start is known
        until = add_months(start, appliance.warranty_months) - timedelta(days=1)
    assert until is not None
    return WarrantyBadge(status=status, covered_until=until, days_left=(until - today).days)
