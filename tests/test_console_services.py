"""The console's rules: SLA clocks, warranty days, whose call it is, notes, the wall's figures."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, func, select

from agent_console import services
from agent_console.config import ConsoleConfig
from agent_console.models import CallNote
from agent_console.pop import build_pop
from agent_console.schemas import CallNoteIn, CallOrderIn, NewCallerIn
from orders.enums import (
    ApplianceCategory,
    ComplaintStatus,
    Milestone,
    OrderStatus,
    Role,
    SlaState,
    Urgency,
)
from orders.enums import WarrantyStatus as W
from orders.exceptions import InvalidOrderData
from orders.models import Complaint
from orders.schemas import SYSTEM, Actor, AppliancePublic, OrderCreate, TransitionIn
from orders.services import complaints, work_orders
from orders.services.figures import complaints_by_level
from orders.services.lookup import lookup_caller
from orders.sla import attainment_by_hour, sla_figures
from orders.warranty import warranty_badge
from recordings.models import Recording
from telephony.enums import CallChannel, CallState, Direction, Disposition
from telephony.exceptions import CallNotFound
from telephony.figures import calls_per_hour, live_calls
from telephony.models import Call
from tests.conftest import TestClock, at, fixed_clock

pytestmark = pytest.mark.clock

NOW = at(2026, 11, 23, 2, 0)  # 10:00 in Shanghai
CONFIG = ConsoleConfig()


def _actor(user: Any) -> Actor:
    return Actor(id=user.id, name=user.username, role=user.role)


def _call(db: Session, **kw: Any) -> Call:
    fields: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "channel": CallChannel.TWILIO,
        "direction": Direction.INBOUND,
        "from_number": "+8613800138000",
        "to_number": "+864008001234",
        "ringing_at": NOW,
        **kw,
    }
    call = Call(**fields)
    db.add(call)
    db.commit()
    return call


# SLA clocks and warranty days


def _appliance(**kw: Any) -> AppliancePublic:
    fields: dict[str, Any] = {
        "id": 1,
        "customer_id": 1,
        "category": ApplianceCategory.TV,
        "brand": "海信",
        "model": "",
        "serial": "",
        "purchase_date": None,
        "manufacture_date": None,
        "has_invoice": True,
        "warranty_months": 12,
        "extended_warranty_until": None,
        "created_at": NOW,
        "updated_at": NOW,
        **kw,
    }
    return AppliancePublic(**fields)


def test_warranty_badge_counts_the_days_of_cover_left() -> None:
    today = date(2026, 11, 23)
    bought = _appliance(purchase_date=date(2026, 3, 1), warranty_status=W.IN_WARRANTY)
    assert warranty_badge(bought, today).model_dump() == {
        "status": W.IN_WARRANTY,
        "covered_until": date(2027, 2, 28),
        "days_left": 97,
    }
    # No invoice: cover starts three months after manufacture, so it ends three months later.
    made = _appliance(
        has_invoice=False, manufacture_date=date(2025, 11, 24), warranty_status=W.IN_WARRANTY
    )
    assert warranty_badge(made, today).covered_until == date(2027, 2, 23)
    last_day = _appliance(
        purchase_date=date(2019, 1, 1),
        extended_warranty_until=today,
        warranty_status=W.EXTENDED,
    )
    assert warranty_badge(last_day, today).days_left == 0
    gone = _appliance(purchase_date=date(2019, 1, 1), warranty_status=W.OUT_OF_WARRANTY)
    assert warranty_badge(gone, today).model_dump() == {
        "status": W.OUT_OF_WARRANTY,
        "covered_until": None,
        "days_left": None,
    }


# The pop


def test_pop_adds_sla_clocks_to_open_orders_and_each_customers_newest_recordings(
    db: Session, make_customer: Any, make_appliance: Any
) -> None:
    shared = "01065520000"
    first = make_customer(name="甲", phones=(shared,))
    second = make_customer(name="乙", phones=(shared,))
    washer = make_appliance(first.id)
    order = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=first.id, appliance_id=washer.id, urgency=Urgency.URGENT),
        actor=SYSTEM,
        clock=fixed_clock(NOW - timedelta(hours=121)),  # past the 5 days to repair
    )
    for index in range(7):
        call = _call(db, customer_ids=[first.id], state=CallState.ENDED)
        db.add(
            Recording(
                call_id=call.id,
                customer_id=first.id,
                path=f"/nowhere/{index}.wav",
                duration_seconds=float(index),
                sha256="0" * 64,
                created_at=NOW - timedelta(days=10 - index),
            )
        )
    db.commit()
    lookup = lookup_caller(db, phone=shared, clock=fixed_clock(NOW))
    pop = build_pop(db, lookup=lookup, call_id="c1", now=NOW, config=CONFIG)
    cards = {card.name: card for card in pop.customers}
    assert set(cards) == {"甲", "乙"}
    assert [o.sla.state for o in cards["甲"].open_orders if o.sla] == [SlaState.BREACHED]
    assert cards["甲"].open_orders[0].number == order.number
    durations = [call.duration_seconds for call in cards["甲"].earlier_calls]
    assert durations == [6.0, 5.0, 4.0, 3.0, 2.0]  # the newest five
    assert cards["乙"].earlier_calls == []
    assert second.id == cards["乙"].id


# Acting on a call


def test_only_the_agent_offered_the_call_or_a_supervisor_may_act_on_it(
    db: Session, make_user: Any, clock: TestClock
) -> None:
    mine, other = make_user(Role.AGENT), make_user(Role.AGENT)
    supervisor = make_user(Role.SUPERVISOR)
    call = _call(db, agent_id=mine.id, state=CallState.OFFERED)
    assert services.call_for(db, call_id=call.id, actor=_actor(mine)).id == call.id
    assert services.call_for(db, call_id=call.id, actor=_actor(supervisor)).id == call.id
    with pytest.raises(CallNotFound):
        services.call_for(db, call_id=call.id, actor=_actor(other))
    with pytest.raises(CallNotFound):
        services.save_note(
            db, call_id=call.id, data=CallNoteIn(notes="x"), actor=_actor(other), clock=clock
        )


def test_a_note_is_kept_per_agent_and_call_and_replaced_on_save(
    db: Session, make_user: Any, clock: TestClock
) -> None:
    agent = make_user(Role.AGENT)
    call = _call(db, agent_id=agent.id, state=CallState.BRIDGED)
    services.save_note(
        db, call_id=call.id, data=CallNoteIn(notes="first"), actor=_actor(agent), clock=clock
    )
    saved = services.save_note(
        db,
        call_id=call.id,
        data=CallNoteIn(disposition="resolved", notes="second"),
        actor=_actor(agent),
        clock=fixed_clock(NOW),
    )
    assert (saved.disposition, saved.notes, saved.updated_at) == ("resolved", "second", NOW)
    count = db.exec(select(func.count()).select_from(CallNote)).one()
    assert count == 1


def test_orders_from_the_pop_are_phone_orders_and_the_first_is_linked_to_the_call(
    db: Session, make_user: Any, make_customer: Any, make_appliance: Any, clock: TestClock
) -> None:
    agent = make_user(Role.AGENT)
    customer = make_customer()
    washer = make_appliance(customer.id)
    call = _call(db, agent_id=agent.id, state=CallState.BRIDGED, customer_ids=[customer.id])
    data = CallOrderIn(customer_id=customer.id, appliance_id=washer.id, fault_description="漏水")
    first = services.create_order_for_call(
        db, call_id=call.id, data=data, actor=_actor(agent), clock=clock
    )
    second = services.create_order_for_call(
        db, call_id=call.id, data=data, actor=_actor(agent), clock=clock
    )
    db.refresh(call)
    assert call.order_id == first.id != second.id
    assert (first.channel, first.address_id) == ("phone", customer.addresses[0].id)


def test_a_new_caller_gets_the_calls_number_or_none_when_it_is_withheld(
    db: Session, make_user: Any, clock: TestClock
) -> None:
    agent = make_user(Role.AGENT)
    known = _call(db, agent_id=agent.id, from_number="15912345678", state=CallState.BRIDGED)
    withheld = _call(db, agent_id=agent.id, from_number="anonymous", state=CallState.BRIDGED)
    data = NewCallerIn.model_validate(
        {"name": "钱多多", "appliance": {"category": "tv", "brand": "TCL"}}
    )
    card = services.add_caller(
        db, call_id=known.id, data=data, actor=_actor(agent), config=CONFIG, clock=clock
    )
    assert [p.e164 for p in card.phones] == ["+8615912345678"]
    assert [a.brand for a in card.appliances] == ["TCL"]
    assert card.appliances[0].warranty.status is W.OUT_OF_WARRANTY  # nothing proves cover
    nameless = services.add_caller(
        db, call_id=withheld.id, data=data, actor=_actor(agent), config=CONFIG, clock=clock
    )
    assert nameless.phones == []


def test_the_same_new_caller_added_twice_in_a_call_is_one_customer(
    db: Session, make_user: Any, make_customer: Any, clock: TestClock
) -> None:
    """Found: a double click on the quick form (or a browser's retry) made two customers
    with the caller's number, and both showed in the pop from then on. A namesake already
    on the number when the call came, and another name added in the call, stay apart."""
    agent = make_user(Role.AGENT)
    namesake = make_customer(name="钱多多", phones=("15912345678",))
    call = _call(
        db,
        agent_id=agent.id,
        from_number="15912345678",
        state=CallState.BRIDGED,
        customer_ids=[namesake.id],
    )
    data = NewCallerIn.model_validate({"name": "钱多多"})
    first, again = (
        services.add_caller(
            db, call_id=call.id, data=data, actor=_actor(agent), config=CONFIG, clock=clock
        )
        for _ in range(2)
    )
    assert first.id == again.id != namesake.id
    other = NewCallerIn.model_validate({"name": "钱少少"})
    spouse = services.add_caller(
        db, call_id=call.id, data=other, actor=_actor(agent), config=CONFIG, clock=clock
    )
    on_number = lookup_caller(db, phone="15912345678", clock=clock).customers
    assert sorted(c.id for c in on_number) == sorted([namesake.id, first.id, spouse.id])


def test_a_new_caller_whose_appliance_was_refused_gets_it_when_added_again(
    db: Session, make_user: Any, clock: TestClock
) -> None:
    """The first add wrote the customer, then refused the appliance (bought in two days); the
    agent mends the date and adds the caller again: the appliance joins that customer."""
    agent = make_user(Role.AGENT)
    call = _call(db, agent_id=agent.id, from_number="15912345678", state=CallState.BRIDGED)
    ahead = (clock() + timedelta(days=2)).date().isoformat()
    wrong = NewCallerIn.model_validate(
        {
            "name": "钱多多",
            "appliance": {"category": "tv", "brand": "TCL", "purchase_date": ahead},
        }
    )
    with pytest.raises(InvalidOrderData):
        services.add_caller(
            db, call_id=call.id, data=wrong, actor=_actor(agent), config=CONFIG, clock=clock
        )
    mended = NewCallerIn.model_validate(
        {"name": "钱多多", "appliance": {"category": "tv", "brand": "TCL"}}
    )
    card = services.add_caller(
        db, call_id=call.id, data=mended, actor=_actor(agent), config=CONFIG, clock=clock
    )
    assert [a.brand for a in card.appliances] == ["TCL"]
    again = services.add_caller(
        db, call_id=call.id, data=mended, actor=_actor(agent), config=CONFIG, clock=clock
    )
    assert (again.id, [a.brand for a in again.appliances]) == (card.id, ["TCL"])
    assert len(lookup_caller(db, phone="15912345678", clock=clock).customers) == 1


# The wall's figures


def test_inbound_calls_per_hour_are_counted_in_the_hotlines_day(db: Session) -> None:
    shanghai_midnight = at(2026, 11, 22, 16, 0)
    _call(db, ringing_at=shanghai_midnight - timedelta(seconds=1))  # yesterday there
    _call(db, ringing_at=shanghai_midnight)
    _call(db, ringing_at=NOW - timedelta(minutes=1))  # 09:59
    _call(db, ringing_at=NOW, disposition=Disposition.ABANDONED, state=CallState.ENDED)
    _call(db, ringing_at=NOW, direction=Direction.OUTBOUND)  # a callback: not a call in
    hours = calls_per_hour(db, now=NOW, zone=CONFIG.zone)
    assert [(h.hour, h.calls, h.abandoned) for h in hours if h.calls] == [
        (0, 1, 0),
        (9, 1, 0),
        (10, 1, 1),
    ]
    assert len(hours) == 24


def test_live_calls_leave_out_ended_and_forgotten_ones(db: Session, make_customer: Any) -> None:
    customer = make_customer(name="周")
    waiting = _call(db, state=CallState.QUEUED, queue="q", customer_ids=[customer.id])
    _call(db, state=CallState.ENDED)
    _call(db, state=CallState.QUEUED, ringing_at=NOW - timedelta(hours=5))
    calls = live_calls(db, since=NOW - timedelta(hours=4), limit=50)
    assert [(c.call_id, c.customer_name, c.state) for c in calls] == [(waiting.id, "周", "queued")]


def test_sla_figures_count_warnings_and_breaches_of_open_orders(
    db: Session, make_customer: Any, make_appliance: Any, clock: TestClock
) -> None:
    customer = make_customer()
    washer = make_appliance(customer.id)

    def order(hours: float, urgency: Urgency = Urgency.NORMAL) -> Any:
        return work_orders.create_order(
            db,
            data=OrderCreate(customer_id=customer.id, appliance_id=washer.id, urgency=urgency),
            actor=SYSTEM,
            clock=fixed_clock(NOW - timedelta(hours=hours)),
        )

    # Each order's 5-day repair clock (120 h from the report, warning from 90 h).
    order(1)  # fine
    close = order(92)  # warning
    late = order(125)  # breached
    soonest = order(100, Urgency.URGENT)  # warning, due first
    done = order(130)
    work_orders.transition_order(
        db, order_id=done.id, data=TransitionIn(to=OrderStatus.CANCELLED), actor=SYSTEM, clock=clock
    )
    figures = sla_figures(db, now=NOW, listed=10)
    assert (figures.warning, figures.breached) == (2, 1)
    # Worst first: the breach, then the clock that runs out soonest.
    assert [o.number for o in figures.orders] == [late.number, soonest.number, close.number]
    assert {o.sla.milestone for o in figures.orders} == {Milestone.REPAIR}


def test_sla_attainment_is_counted_hour_by_hour_in_the_hotlines_day(
    db: Session, make_customer: Any, make_appliance: Any, station: Any
) -> None:
    customer = make_customer()
    washer = make_appliance(customer.id)
    local = ZoneInfo("Asia/Shanghai")

    def hour(h: float) -> datetime:
        day = NOW.astimezone(local).replace(hour=0, minute=0)
        return (day + timedelta(hours=h)).astimezone(UTC)

    def order(dispatched: float, *steps: tuple[OrderStatus, float]) -> None:
        created = work_orders.create_order(
            db,
            data=OrderCreate(customer_id=customer.id, appliance_id=washer.id),
            actor=SYSTEM,
            clock=fixed_clock(hour(dispatched)),
        )
        moves = ((OrderStatus.ASSIGNED, dispatched), *steps)
        for to, when in moves:
            work_orders.transition_order(
                db,
                order_id=created.id,
                data=TransitionIn(to=to, station_id=station.id),
                actor=SYSTEM,
                clock=fixed_clock(hour(when)),
            )

    # Acknowledge within 2 h of dispatch; contact within 2 h of acknowledging.
    order(6, (OrderStatus.ACCEPTED, 7.5), (OrderStatus.CONTACTED, 8))  # both in time: 7h, 8h
    order(5, (OrderStatus.ACCEPTED, 8.2))  # acknowledged late: missed at 7h (contact due 10:12)
    order(6.5)  # never acknowledged: missed at 8:30
    order(9)  # due at 11:00, after now: not decided yet
    order(5, (OrderStatus.CANCELLED, 6))  # cancelled: no longer counts

    hours = {h.hour: (h.met, h.missed) for h in attainment_by_hour(db, now=NOW, zone=local)}

    assert {h: figures for h, figures in hours.items() if figures != (0, 0)} == {
        7: (1, 1),
        8: (1, 1),
    }
    assert len(hours) == 24


def test_open_complaints_are_counted_by_crisis_level(
    db: Session, make_customer: Any, clock: TestClock
) -> None:
    customer = make_customer()
    for level in (0, 2, 2, 3):
        complaints.log_complaint(
            db, customer_id=customer.id, topic="t", crisis_level=level, actor=SYSTEM, clock=clock
        )
    resolved = db.exec(select(Complaint).where(Complaint.crisis_level == 3)).one()
    resolved.status = ComplaintStatus.RESOLVED
    db.add(resolved)
    db.commit()
    assert complaints_by_level(db) == {0: 1, 1: 0, 2: 2, 3: 0}
