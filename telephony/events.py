"""The call events this package publishes (and only this module publishes them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from sqlmodel import Session

from core.bus import Event, EventBus
from orders import CallerLookup
from telephony.constants import POP, POP_TTL_SECONDS
from telephony.enums import CallChannel, Direction, Disposition
from telephony.models import Call


class CallRinging(Event):
    name = "call.ringing"
    call_id: str
    channel: CallChannel
    direction: Direction
    from_number: str
    to_number: str
    at: datetime
    pop: CallerLookup
    """The screen-pop payload, resolved once when the call arrives."""


class CallAnswered(Event):
    name = "call.answered"
    call_id: str
    at: datetime


class CallQueued(Event):
    name = "call.queued"
    call_id: str
    queue: str
    customer_ids: list[int]
    at: datetime


class CallBridged(Event):
    name = "call.bridged"
    call_id: str
    agent_id: int
    queue: str | None
    customer_ids: list[int]
    at: datetime


class CallHeld(Event):
    name = "call.held"
    call_id: str
    agent_id: int | None
    at: datetime


class CallResumed(Event):
    name = "call.resumed"
    call_id: str
    agent_id: int | None
    at: datetime


class CallConsultOffered(Event):
    """The call's agent rings a colleague (``agent_id``) to talk before handing it over;
    the caller is held meanwhile."""

    name = "call.consult_offered"
    call_id: str
    agent_id: int
    from_agent_id: int
    queue: str | None
    customer_ids: list[int]
    at: datetime
    expires_at: datetime
    changes: int = 0
    """The colleague's move to this offer, in presence's count of changes (see
    ``CallOffered.changes``)."""


class CallConsultAnswered(Event):
    """The colleague picked up: the two agents talk, the caller still held."""

    name = "call.consult_answered"
    call_id: str
    agent_id: int
    consultant_id: int
    consult_leg: str | None
    at: datetime


class CallConsultCompleted(Event):
    """The call is the colleague's now: caller and colleague talk, the agent is released."""

    name = "call.consult_completed"
    call_id: str
    agent_id: int
    from_agent_id: int
    agent_leg: str | None
    from_agent_leg: str | None
    at: datetime


class CallConsultEnded(Event):
    """The consultation ended without a handover (cancelled, missed, declined, hung up):
    the colleague's leg goes, the call stays with its agent."""

    name = "call.consult_ended"
    call_id: str
    agent_id: int | None
    consultant_id: int
    consult_leg: str | None
    at: datetime


class CallHangUp(Event):
    """The agent asked for the call to end; the channel carrying it hangs up."""

    name = "call.hang_up"
    call_id: str
    agent_id: int | None
    at: datetime


class CallTransferred(Event):
    name = "call.transferred"
    call_id: str
    from_agent_id: int
    agent_leg: str | None
    """The released agent's leg, where the channel names it (hung up on Twilio)."""
    at: datetime


class CallDtmf(Event):
    name = "call.dtmf"
    call_id: str
    digit: str


Speaker = Literal["customer", "agent"]


class CallTranscript(Event):
    """What is being said on a live call: partial text as it is heard (replaced by the
    next), final text once an utterance ends."""

    name = "call.transcript"
    call_id: str
    agent_id: int | None
    """The agent bridged to the call, whose console shows it; None before the bridge."""
    speaker: Speaker
    text: str
    final: bool
    at: datetime


class CallEnded(Event):
    name = "call.ended"
    call_id: str
    agent_id: int | None
    disposition: Disposition
    customer_ids: list[int]
    order_id: int | None
    duration_seconds: float
    at: datetime


PopPresenter = Callable[[Session, CallerLookup, str], str]
"""The screen pop as the consoles show it, as JSON, from the caller lookup of call ``str``:
given by the composition root (the console completes the lookup, with what it needs from
other packages), run once per call as it arrives."""


class CallNotifier:
    """One method per event, so what telephony says on the bus is written down in one place."""

    def __init__(self, bus: EventBus, present_pop: PopPresenter) -> None:
        self.bus = bus
        self.present_pop = present_pop

    def ringing(self, call: Call, pop: CallerLookup, shown: str) -> None:
        """``call.ringing``, and ``call.answered`` with it for a call answered as it came
        in: one round trip with the stored pop (``shown``: as :attr:`present_pop` made it)."""
        events: list[Event] = [
            CallRinging(
                call_id=call.id,
                channel=call.channel,
                direction=call.direction,
                from_number=call.from_number,
                to_number=call.to_number,
                at=call.ringing_at,
                pop=pop,
            )
        ]
        if call.answered_at is not None:
            events.append(CallAnswered(call_id=call.id, at=call.answered_at))
        # Kept for the length of a call so every offer of it carries the pop as it is,
        # without resolving the caller or completing the pop a second time.
        key = POP.format(call_id=call.id)
        self.bus.publish_many(events, along=lambda pipe: pipe.set(key, shown, ex=POP_TTL_SECONDS))

    def answered(self, call: Call) -> str:
        assert call.answered_at is not None
        return self.bus.publish(CallAnswered(call_id=call.id, at=call.answered_at))

    def queued(self, call: Call) -> str:
        return self.bus.publish(_queued(call))

    def bridged(self, call: Call) -> str:
        assert call.agent_id is not None and call.bridged_at is not None
        return self.bus.publish(
            CallBridged(
                call_id=call.id,
                agent_id=call.agent_id,
                queue=call.queue,
                customer_ids=call.customer_ids,
                at=call.bridged_at,
            )
        )

    def held(self, call: Call, at: datetime) -> str:
        return self.bus.publish(CallHeld(call_id=call.id, agent_id=call.agent_id, at=at))

    def resumed(self, call: Call, at: datetime) -> str:
        return self.bus.publish(CallResumed(call_id=call.id, agent_id=call.agent_id, at=at))

    def consult_offered(
        self, call: Call, *, consultant_id: int, at: datetime, expires_at: datetime, changes: int
    ) -> str:
        assert call.agent_id is not None
        return self.bus.publish(
            CallConsultOffered(
                call_id=call.id,
                agent_id=consultant_id,
                from_agent_id=call.agent_id,
                queue=call.queue,
                customer_ids=call.customer_ids,
                at=at,
                expires_at=expires_at,
                changes=changes,
            )
        )

    def consult_answered(self, call: Call, at: datetime) -> str:
        assert call.agent_id is not None and call.consult_agent_id is not None
        return self.bus.publish(
            CallConsultAnswered(
                call_id=call.id,
                agent_id=call.agent_id,
                consultant_id=call.consult_agent_id,
                consult_leg=call.consult_leg,
                at=at,
            )
        )

    def consult_completed(
        self, call: Call, *, from_agent_id: int, from_agent_leg: str | None, at: datetime
    ) -> str:
        assert call.agent_id is not None
        return self.bus.publish(
            CallConsultCompleted(
                call_id=call.id,
                agent_id=call.agent_id,
                from_agent_id=from_agent_id,
                agent_leg=call.agent_leg,
                from_agent_leg=from_agent_leg,
                at=at,
            )
        )

    def consult_ended(
        self, call: Call, *, consultant_id: int, consult_leg: str | None, at: datetime
    ) -> str:
        return self.bus.publish(
            CallConsultEnded(
                call_id=call.id,
                agent_id=call.agent_id,
                consultant_id=consultant_id,
                consult_leg=consult_leg,
                at=at,
            )
        )

    def hang_up(self, call: Call, at: datetime) -> str:
        return self.bus.publish(CallHangUp(call_id=call.id, agent_id=call.agent_id, at=at))

    def transferred(
        self, call: Call, *, previous_agent_id: int, agent_leg: str | None, at: datetime
    ) -> None:
        """``call.queued`` and ``call.transferred``, both or neither: a SIP call's caller
        leaves the agent on the first, a Twilio caller's agent leg is hung up on the second,
        so one without the other would move the caller on one channel and not the other."""
        transferred = CallTransferred(
            call_id=call.id, from_agent_id=previous_agent_id, agent_leg=agent_leg, at=at
        )
        self.bus.publish_many([_queued(call), transferred], together=True)

    def dtmf(self, call: Call, digit: str) -> str:
        return self.bus.publish(CallDtmf(call_id=call.id, digit=digit))

    def transcript(
        self,
        call_id: str,
        agent_id: int | None,
        *,
        speaker: Speaker,
        text: str,
        final: bool,
        at: datetime,
    ) -> str:
        return self.bus.publish(
            CallTranscript(
                call_id=call_id, agent_id=agent_id, speaker=speaker, text=text, final=final, at=at
            )
        )

    def ended(self, call: Call) -> str:
        assert call.ended_at is not None and call.disposition is not None
        return self.bus.publish(
            CallEnded(
                call_id=call.id,
                agent_id=call.agent_id,
                disposition=call.disposition,
                customer_ids=call.customer_ids,
                order_id=call.order_id,
                duration_seconds=(call.ended_at - call.ringing_at).total_seconds(),
                at=call.ended_at,
            )
        )


def _queued(call: Call) -> CallQueued:
    assert call.queue is not None and call.queued_at is not None
    return CallQueued(
        call_id=call.id, queue=call.queue, customer_ids=call.customer_ids, at=call.queued_at
    )
