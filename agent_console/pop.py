"""The screen pop as the console shows it: the caller lookup plus what an agent acts on.

``telephony`` resolves the caller once when the call rings and keeps that payload for the
call; here it is completed with warranty days left, SLA clocks of open orders and the
recordings of earlier calls. Everything but the recordings is worked out from the payload.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session

from agent_console.config import ConsoleConfig
from agent_console.schemas import (
    EarlierCall,
    PopAppliance,
    PopCard,
    PopOrder,
    ScreenPop,
    WarrantyBadge,
)
from agent_console.sla import sla_clock
from orders.enums import WarrantyStatus
from orders.schemas import AppliancePublic, CallerCard, CallerLookup, OrderSummary
from orders.warranty import add_months, warranty_start
from recordings.models import Recording


def warranty_badge(appliance: AppliancePublic, today: date) -> WarrantyBadge:
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


def build_pop(
    session: Session,
    *,
    lookup: CallerLookup,
    call_id: str | None,
    now: datetime,
    config: ConsoleConfig,
) -> ScreenPop:
    calls = earlier_calls(
        session, customer_ids=[c.id for c in lookup.customers], per_customer=config.earlier_calls
    )
    cards = [
        card_for(card, now=now, config=config, calls=calls.get(card.id, []))
        for card in lookup.customers
    ]
    return ScreenPop(call_id=call_id, phone=lookup.phone, customers=cards)


def card_for(
    card: CallerCard, *, now: datetime, config: ConsoleConfig, calls: list[EarlierCall]
) -> PopCard:
    # The day the lookup judged the warranty on (UTC), so status and days left agree.
    today = now.astimezone(UTC).date()

    def order(summary: OrderSummary, is_open: bool) -> PopOrder:
        clock = (
            sla_clock(
                created_at=summary.created_at, urgency=summary.urgency, now=now, policy=config.sla
            )
            if is_open
            else None
        )
        # Validated already (the lookup's payload): constructed, not validated again.
        return PopOrder.model_construct(**dict(summary), sla=clock)

    open_ids = {o.id for o in card.open_orders}
    fields = {k: v for k, v in card if k not in {"appliances", "open_orders", "recent_orders"}}
    return PopCard.model_construct(
        **fields,
        appliances=[
            PopAppliance.model_construct(**dict(a), warranty=warranty_badge(a, today))
            for a in card.appliances
        ],
        open_orders=[order(o, True) for o in card.open_orders],
        recent_orders=[order(o, o.id in open_ids) for o in card.recent_orders],
        earlier_calls=calls,
    )


# Built once, on the table's columns: this runs on every offered call.
_recording = Recording.__table__.c  # type: ignore[attr-defined]
_EARLIER = (
    core_select(
        _recording.id, _recording.call_id, _recording.created_at, _recording.duration_seconds
    )
    .where(_recording.customer_id == bindparam("customer_id"))
    .order_by(_recording.created_at.desc(), _recording.id.desc())
    .limit(bindparam("limit"))
)


def earlier_calls(
    session: Session, *, customer_ids: list[int], per_customer: int
) -> dict[int, list[EarlierCall]]:
    """The newest recordings of each customer's calls, newest first."""
    connection = session.connection()
    found: dict[int, list[EarlierCall]] = {}
    for customer_id in customer_ids:  # a pop has one card or a few
        rows = connection.execute(_EARLIER, {"customer_id": customer_id, "limit": per_customer})
        found[customer_id] = [
            EarlierCall(
                recording_id=row.id,
                call_id=row.call_id,
                at=row.created_at,
                duration_seconds=row.duration_seconds,
            )
            for row in rows
        ]
    return found
