"""Caller-ID lookup: the screen-pop payload, built by one statement in one round trip.

A screen pop is on the path of every ringing call. It used to take one statement for who has
the number, one each for addresses, appliances and open orders, and one per customer for the
last ten orders. On PostgreSQL each statement is a round trip and is parsed and planned
afresh (psycopg drops its prepared statements at every ROLLBACK, which ends each read-only
session), so those statements, not the index lookups, were the cost. Now the database builds
every list of a card as JSON inside one statement, with the same SQL on both backends but
for the names of two functions (``json_object``/``json_group_array`` on SQLite,
``json_build_object``/``json_agg`` on PostgreSQL); Python decodes, computes the warranty and
sorts the few entries of each list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, bindparam, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from core.db import core_connection, table_of
from core.types import Clock
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
from orders.states import AWAITED_STATES
from orders.warranty import warranty_status

RECENT_ORDERS = 10


class json_record(FunctionElement[Any]):
    """A JSON object from alternating keys and values."""

    inherit_cache = True


class json_list(FunctionElement[Any]):
    """Aggregate: the group's values as a JSON array, in no promised order.

    An empty group gives ``[]`` on SQLite and NULL on PostgreSQL.
    """

    type = JSON()
    inherit_cache = True


@compiles(json_record)
def _json_object(element: json_record, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_record, "postgresql")
def _json_build_object(element: json_record, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(json_list)
def _json_group_array(element: json_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(json_list, "postgresql")
def _json_agg(element: json_list, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg({compiler.process(element.clauses, **kw)})"


def _constant(value: str) -> ColumnElement[Any]:
    # Written into the statement, not bound: PostgreSQL must know the type of each key of
    # json_build_object, and fewer parameters keep the statement text the same every call.
    assert "'" not in value
    return literal_column(f"'{value}'")


def _records(columns: Iterable[Column[Any]]) -> json_list:
    """The rows' ``columns`` as one JSON array of objects keyed by column name."""
    pairs = ((_constant(column.key), column) for column in columns)
    return json_list(json_record(*chain.from_iterable(pairs)))


_customer = table_of(Customer).c
_phone = table_of(CustomerPhone).c
_address = table_of(Address).c
_appliance = table_of(Appliance).c
_order = table_of(WorkOrder).c
_complaint = table_of(Complaint).c

# The columns each schema shows (the warranty is computed, not stored); every list has "id",
# for sorting.
_PHONE_COLUMNS = [_phone.id, *(_phone[name] for name in PhonePublic.model_fields)]
_ADDRESS_COLUMNS = [_address[name] for name in AddressPublic.model_fields]
_APPLIANCE_COLUMNS = [
    _appliance[name] for name in AppliancePublic.model_fields if name != "warranty_status"
]
_ORDER_COLUMNS = [_order[name] for name in OrderSummary.model_fields]

# One row per customer who has the number; each list of the card is a correlated subquery
# on an index that starts with customer_id: (customer_id, status) for the open orders,
# (customer_id, created_at, id) for the last ten. A correlated subquery is planned for an
# average customer (five orders), not for the one calling; so the last ten are picked by
# id from that index alone, which stays the cheapest plan for a customer with a thousand
# orders too, where reading and sorting them all (what PostgreSQL chose for a plain
# ORDER BY ... LIMIT here) took milliseconds.
_newest = table_of(WorkOrder).alias("newest")
_RECENT_IDS = (
    select(_newest.c.id)
    .where(_newest.c.customer_id == _customer.id)
    .order_by(_newest.c.created_at.desc(), _newest.c.id.desc())
    .limit(RECENT_ORDERS)
    .correlate(table_of(Customer))  # two levels up: not found by auto-correlation
)
_caller = table_of(CustomerPhone).alias("caller")
_CARD = select(
    _customer.id,
    _customer.name,
    _customer.title,
    _customer.preferred_language,
    _customer.notes,
    _customer.last_satisfaction_score,
    select(func.count())
    .where(
        _complaint.customer_id == _customer.id,
        _complaint.status.in_(
            [
                _constant(ComplaintStatus.OPEN.value),
                _constant(ComplaintStatus.IN_PROGRESS.value),
            ]
        ),
    )
    .scalar_subquery()
    .label("open_complaints"),
    select(_records(_PHONE_COLUMNS))
    .where(_phone.customer_id == _customer.id)
    .scalar_subquery()
    .label("phones"),
    select(_records(_ADDRESS_COLUMNS))
    .where(_address.customer_id == _customer.id)
    .scalar_subquery()
    .label("addresses"),
    select(_records(_APPLIANCE_COLUMNS))
    .where(_appliance.customer_id == _customer.id)
    .scalar_subquery()
    .label("appliances"),
    select(_records(_ORDER_COLUMNS))
    .where(
        _order.customer_id == _customer.id,
        _order.status.in_([_constant(status.value) for status in sorted(AWAITED_STATES)]),
    )
    .scalar_subquery()
    .label("open_orders"),
    select(_records(_ORDER_COLUMNS))
    .where(_order.id.in_(_RECENT_IDS))
    .scalar_subquery()
    .label("recent_orders"),
).order_by(_customer.id)
_CARDS = _CARD.where(
    _customer.id.in_(select(_caller.c.customer_id).where(_caller.c.e164 == bindparam("e164")))
)
_CARDS_BY_ID = _CARD.where(_customer.id.in_(bindparam("ids", expanding=True)))


def lookup_caller(
    session: Session, *, phone: str, region: str = "CN", clock: Clock
) -> CallerLookup:
    """Every customer who has this number, with what an agent needs to see at once.

    A withheld or malformed caller ID finds nobody rather than failing the call.
    """
    e164 = try_normalize_phone(phone, default_region=region)
    if e164 is None:
        return CallerLookup(phone=phone, customers=[])
    rows = core_connection(session).execute(_CARDS, {"e164": e164}).all()
    today = clock().date()
    return CallerLookup(phone=e164, customers=[_card(row, today) for row in rows])


def caller_cards(session: Session, *, customer_ids: list[int], clock: Clock) -> list[CallerCard]:
    """The cards of these customers as they are now (a pop that follows its call)."""
    if not customer_ids:
        return []
    rows = core_connection(session).execute(_CARDS_BY_ID, {"ids": customer_ids}).all()
    today = clock().date()
    return [_card(row, today) for row in rows]


def _card(row: Any, today: date) -> CallerCard:
    return CallerCard(
        id=row.id,
        name=row.name,
        title=row.title,
        preferred_language=row.preferred_language,
        notes=row.notes,
        phones=[PhonePublic.model_validate(phone) for phone in _by_id(row.phones)],
        addresses=[AddressPublic.model_validate(address) for address in _by_id(row.addresses)],
        appliances=[_appliance_public(appliance, today) for appliance in _by_id(row.appliances)],
        open_orders=_newest_first(row.open_orders),
        recent_orders=_newest_first(row.recent_orders),
        open_complaints=row.open_complaints,
        last_satisfaction_score=row.last_satisfaction_score,
    )


def _by_id(records: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return sorted(records or (), key=lambda record: record["id"])


def _newest_first(records: Sequence[dict[str, Any]] | None) -> list[OrderSummary]:
    summaries = [
        OrderSummary.model_validate(
            {
                **record,
                "created_at": _utc(record["created_at"]),
                "updated_at": _utc(record["updated_at"]),
            }
        )
        for record in records or ()
    ]
    summaries.sort(key=lambda order: (order.created_at, order.id), reverse=True)
    return summaries


def _utc(text: str) -> datetime:
    # JSON holds what the column stores: naive UTC text on SQLite, ISO 8601 with the
    # session's offset on PostgreSQL. Both become aware UTC, as UTCDateTime gives them.
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _appliance_public(record: dict[str, Any], today: date) -> AppliancePublic:
    # What orders.services.appliances.to_public gives for the same row.
    dates = {
        key: None if record[key] is None else date.fromisoformat(record[key])
        for key in ("purchase_date", "manufacture_date", "extended_warranty_until")
    }
    status = warranty_status(
        at=today,
        has_invoice=bool(record["has_invoice"]),
        warranty_months=record["warranty_months"],
        **dates,
    )
    return AppliancePublic.model_validate(
        {
            **record,
            **dates,
            "created_at": _utc(record["created_at"]),
            "updated_at": _utc(record["updated_at"]),
            "warranty_status": status,
        }
    )
