"""An offer made by one request for a caller who hangs up before it is recorded."""

from __future__ import annotations

import uuid

import redis
from sqlmodel import Session

from callcenter.bus import EventBus
from orders.enums import Role
from telephony.acd import Acd
from telephony.enums import CallChannel, CallState, Direction, Disposition
from telephony.models import Call
from telephony.presence import Presence
from telephony.routing import record_offers
from tests.conftest import TestClock


def test_an_offer_for_a_call_that_ended_meanwhile_is_not_recorded(
    db: Session, bus: redis.Redis, make_user: object, clock: TestClock
) -> None:
    """Found by the screen-pop benchmark at 30 calls/s: /twilio/voice answered 409
    ("cannot go from ended to offered") for another caller who had just hung up."""
    events = EventBus(bus)
    acd = Acd(bus, events, Presence(bus, events, clock=clock), clock=clock)
    agent = make_user(Role.AGENT).id  # type: ignore[operator]
    acd.presence.log_in(agent, queues=["q"], skills=[])
    call = Call(
        id=uuid.uuid4().hex,
        channel=CallChannel.TWILIO,
        direction=Direction.INBOUND,
        from_number="+8613800138000",
        to_number="+864008001234",
        state=CallState.QUEUED,
        queue="q",
        ringing_at=clock(),
    )
    db.add(call)
    db.commit()
    acd.enqueue(call.id, "q")
    offers = acd.dispatch("q")
    # The caller hangs up on another request before this one records the offer.
    call.state, call.disposition, call.ended_at = CallState.ENDED, Disposition.ABANDONED, clock()
    db.commit()
    assert record_offers(db, offers) == []
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.ENDED, None)
