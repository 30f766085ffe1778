"""Caller-ID lookup: the screen-pop payload, built in a handful of indexed queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, func, select
from sqlmodel import Session

from callcenter.types import Clock, utcnow
from orders.enums import ComplaintStatus
from orders.models import Address, Appliance, Complaint, Customer, CustomerPhone, WorkOrder
from orders.phones import try_normalize_phone
from orders.schemas import (
    AddressPublic,
    AppliancePublic,
    CallerCard,
    CallerLookup,
    OrderSummary,
    PhonePublic,
)
from orders.states import OPEN_STATES
from orders.warranty import warranty_status

RECENT_ORDERS = 10


def _table(model: Any) -> Table:
    return model.__table__


# The statements are built once, on plain table columns, with bound parameters. A screen pop
# is on the path of every ringing call, and building ORM statements per call (coercion,
# cache keys, ORM compile state) cost several times what the database itself did.
_customer = _table(Customer).c
_phone = _table(CustomerPhone).c
_address = _table(Address).c
_appliance = _table(Appliance).c
_order = _table(WorkOrder).c
_complaint = _table(Complaint).c
_IDS = bindparam("ids", expanding=True)

_SUMMARY_COLUMNS = (
    _order.id,
    _order.number,
    _order.order_type,
    _order.status,
    _order.urgency,
    _order.appliance_id,
    _order.station_id,
    _order.fault_description,
    _order.created_at,
    _order.updated_at,
    _order.customer_id,
)

# Who has the number, each with all their numbers and their count of open complaints, in
# one round trip: one row per (customer, phone), ordered by customer, then phone.
_caller = _table(CustomerPhone).alias("caller")
_OPEN_COMPLAINT_COUNT = (
    select(func.count())
    .where(_complaint.customer_id == _customer.id, _complaint.status == ComplaintStatus.OPEN)
    .scalar_subquery()
)
_CUSTOMERS = (
    select(
        _customer.id,
        _customer.name,
        _customer.title,
        _customer.preferred_language,
        _customer.notes,
        _OPEN_COMPLAINT_COUNT.label("open_complaints"),
        _phone.e164,
        _phone.label,
    )
    .join_from(_table(Customer), _table(CustomerPhone), _phone.customer_id == _customer.id)
    .where(
        _customer.id.in_(select(_caller.c.customer_id).where(_caller.c.e164 == bindparam("e164")))
    )
    .order_by(_customer.id, _phone.id)
)
_ADDRESSES = select(_table(Address)).where(_address.customer_id.in_(_IDS)).order_by(_address.id)
_APPLIANCES = (
    select(_table(Appliance)).where(_appliance.customer_id.in_(_IDS)).order_by(_appliance.id)
)
# Sorted in Python (a few rows), not in SQL: given ORDER BY created_at, SQLite picks the
# (customer_id, created_at) index to skip a sort even where one on (customer_id, status)
# exists, and then reads every order of the customer: milliseconds for one with a thousand.
_OPEN_ORDERS = select(*_SUMMARY_COLUMNS).where(
    _order.customer_id.in_(_IDS), _order.status.in_(sorted(OPEN_STATES))
)
_RECENT_ORDERS = (
    select(*_SUMMARY_COLUMNS)
    .where(_order.customer_id == bindparam("customer_id"))
    .order_by(_order.created_at.desc(), _order.id.desc())
    .limit(RECENT_ORDERS)
)


def _summary(row: Any) -> OrderSummary:
    return OrderSummary.model_construct(
        **{k: v for k, v in row._mapping.items() if k != "customer_id"}
    )


def _appliance_public(row: Row[Any], today: date) -> AppliancePublic:
    # What orders.services.appliances.to_public gives for the same row.
    status = warranty_status(
        at=today,
        has_invoice=row.has_invoice,
        purchase_date=row.purchase_date,
        manufacture_date=row.manufacture_date,
        warranty_months=row.warranty_months,
        extended_warranty_until=row.extended_warranty_until,
    )
    return AppliancePublic(**row._mapping, warranty_status=status)


def lookup_caller(
    session: Session, *, phone: str, region: str = "CN", clock: Clock = utcnow
) -> CallerLookup:
    """Every customer who has this number, with what an agent needs to see at once.

    A withheld or malformed caller ID finds nobody rather than failing the call.
    """
    e164 = try_normalize_phone(phone, default_region=region)
    if e164 is None:
        return CallerLookup(phone=phone, customers=[])
    # Core statements skip the ORM's autoflush; flush as an ORM query would have, so that
    # changes pending in the caller's session are seen.
    if session.autoflush:
        session.flush()
    connection = session.connection()
    customers = connection.execute(_CUSTOMERS, {"e164": e164}).all()
    if not customers:
        return CallerLookup(phone=e164, customers=[])
    return CallerLookup(phone=e164, customers=_cards(connection, customers, clock().date()))


def _cards(connection: Connection, rows: Sequence[Row[Any]], today: date) -> list[CallerCard]:
    customers: dict[int, Row[Any]] = {}
    phones: dict[int, list[PhonePublic]] = defaultdict(list)
    for row in rows:
        customers.setdefault(row.id, row)
        phones[row.id].append(PhonePublic(e164=row.e164, label=row.label))
    by_ids = {"ids": list(customers)}
    addresses: dict[int, list[AddressPublic]] = defaultdict(list)
    for row in connection.execute(_ADDRESSES, by_ids):
        addresses[row.customer_id].append(AddressPublic.model_validate(row, from_attributes=True))
    appliances: dict[int, list[AppliancePublic]] = defaultdict(list)
    for row in connection.execute(_APPLIANCES, by_ids):
        appliances[row.customer_id].append(_appliance_public(row, today))
    open_orders: dict[int, list[OrderSummary]] = defaultdict(list)
    newest_first = sorted(
        connection.execute(_OPEN_ORDERS, by_ids), key=lambda row: row.created_at, reverse=True
    )
    for row in newest_first:
        open_orders[row.customer_id].append(_summary(row))
    cards = []
    for customer in customers.values():
        recent = connection.execute(_RECENT_ORDERS, {"customer_id": customer.id})
        cards.append(
            CallerCard(
                id=customer.id,
                name=customer.name,
                title=customer.title,
                preferred_language=customer.preferred_language,
                notes=customer.notes,
                phones=phones[customer.id],
                addresses=addresses[customer.id],
                appliances=appliances[customer.id],
                open_orders=open_orders[customer.id],
                recent_orders=[_summary(row) for row in recent],
                open_complaints=customer.open_complaints,
                last_satisfaction_score=None,
            )
        )
    return cards
