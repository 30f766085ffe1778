"""The screen pop as the console shows it: the caller lookup plus what an agent acts on.

``telephony`` resolves the caller once when the call rings and keeps that payload for the
call; here it is completed with warranty days left and SLA clocks of open orders (both
judged by ``orders``) and the recordings of earlier calls (found by ``recordings``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from agent_console.config import ConsoleConfig
from agent_console.schemas import PopAppliance, PopCard, PopOrder, ScreenPop
from billing import BasicFee, fee_card
from core.types import Clock
from orders import (
    AppliancePublic,
    CallerCard,
    CallerLookup,
    OrderSummary,
    SlaClock,
    WarrantyStatus,
    next_deadlines,
    warranty_badge,
)
from recordings import EarlierCall, earlier_calls
from telephony import PopPresenter


def build_pop(
    session: Session,
    *,
    lookup: CallerLookup,
    call_id: str | None,
    now: datetime,
    config: ConsoleConfig,
) -> ScreenPop:
    calls = earlier_calls(
        session,
        customer_ids=[c.id for c in lookup.customers],
        per_customer=config.earlier_calls,
        excluding_call=call_id,
    )
    deadlines = next_deadlines(
        session, order_ids=[o.id for c in lookup.customers for o in c.open_orders], now=now
    )
    today = now.astimezone(UTC).date()
    unwarranted = {
        a.category.value
        for c in lookup.customers
        for a in c.appliances
        if warranty_badge(a, today).status == WarrantyStatus.OUT_OF_WARRANTY
    }
    fees = fee_card(session, unwarranted) if unwarranted else {}
    cards = [
        card_for(card, now=now, deadlines=deadlines, calls=calls.get(card.id, []), fees=fees)
        for card in lookup.customers
    ]
    return ScreenPop(call_id=call_id, phone=lookup.phone, customers=cards)


def pop_presenter(config: ConsoleConfig, clock: Clock) -> PopPresenter:
    """The pop as offers carry it, completed once as the call arrives (telephony keeps it
    with the call): a call offered to several agents in turn is not completed each time,
    and the gateway sends it as it is stored. A page reloaded later completes it afresh
    (:func:`agent_console.services.pop_for_call`)."""

    def present(session: Session, lookup: CallerLookup, call_id: str) -> str:
        pop = build_pop(session, lookup=lookup, call_id=call_id, now=clock(), config=config)
        return pop.model_dump_json()

    return present


def card_for(
    card: CallerCard,
    *,
    now: datetime,
    deadlines: dict[int, SlaClock],
    calls: list[EarlierCall],
    fees: dict[str, list[BasicFee]] | None = None,
) -> PopCard:
    # The day the lookup judged the warranty on (UTC), so status and days left agree.
    today = now.astimezone(UTC).date()

    def order(summary: OrderSummary, is_open: bool) -> PopOrder:
        clock = deadlines.get(summary.id) if is_open else None
        # Validated already (the lookup's payload): constructed, not validated again.
        return PopOrder.model_construct(**dict(summary), sla=clock)

    def appliance(public: AppliancePublic) -> PopAppliance:
        badge = warranty_badge(public, today)
        out = badge.status == WarrantyStatus.OUT_OF_WARRANTY
        charges = (fees or {}).get(public.category.value, []) if out else []
        return PopAppliance.model_construct(**dict(public), warranty=badge, fees=charges)

    open_ids = {o.id for o in card.open_orders}
    fields = {k: v for k, v in card if k not in {"appliances", "open_orders", "recent_orders"}}
    return PopCard.model_construct(
        **fields,
        appliances=[appliance(a) for a in card.appliances],
        open_orders=[order(o, True) for o in card.open_orders],
        recent_orders=[order(o, o.id in open_ids) for o in card.recent_orders],
        earlier_calls=calls,
    )
