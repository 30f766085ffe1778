"""An offer made by one request for a caller who hangs up before it is recorded."""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy import update
from sqlmodel import Session, col

from core.bus import EventBus
from orders.enums import Role
from telephony.acd import Acd
from telephony.enums import CallState, Disposition
from telephony.models import Call
from telephony.presence import Presence
from telephony.routing import record_offers
from tests.conftest import TestClock


def test_an_offer_for_a_call_that_ended_meanwhile_is_not_recorded(
    db: Session,
    bus: redis.Redis,
    make_user: object,
    make_call: Any,
    clock: TestClock,
) -> None:
    """Found by the screen-pop benchmark at 30 calls/s: /twilio/voice answered 409
    ("cannot go from ended to offered") for another caller who had just hung up."""
    events = EventBus(bus)
    acd = Acd(bus, events, Presence(bus, events, clock=clock), clock=clock)
    agent = make_user(Role.AGENT).id  # type: ignore[operator]
    acd.presence.log_in(agent, queues=["q"], skills=[])
    call = make_call()
    acd.enqueue(call.id, "q")
    offers = acd.dispatch("q")
    # The caller hangs up on another request before this one records the offer: written
    # past this session, whose copy of the row still says "queued".
    db.connection().execute(
        update(Call)
        .where(col(Call.id) == call.id)
        .values(state=CallState.ENDED, disposition=Disposition.ABANDONED, ended_at=clock())
    )
    db.commit()
    assert call.state is CallState.QUEUED
    assert record_offers(db, acd, offers) == []
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.ENDED, None)
