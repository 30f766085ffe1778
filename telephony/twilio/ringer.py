"""Twilio agents are rung from ``call.offered`` on the bus, as SIP agents are: whoever
made an offer (a webhook, a console, a sweep, another process) only publishes it. Holds,
resumes, transfers and hang-ups of Twilio calls steer its legs from the bus the same way."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import redis
import structlog
from pydantic import ValidationError
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from core.bus import Envelope, EventBus
from telephony.acd import CallOffered
from telephony.enums import CallChannel
from telephony.events import (
    CallConsultAnswered,
    CallConsultCompleted,
    CallConsultEnded,
    CallConsultOffered,
    CallHangUp,
    CallHeld,
    CallResumed,
    CallTransferred,
)
from telephony.models import Call
from telephony.twilio.jobs import steer_agent_leg, steer_consultation

log = structlog.get_logger(__name__)

RINGER_GROUP = "twilio-ringer"
"""One consumer group over all workers: each offer is rung by one of them."""
STALE_MS = 10_000
"""Offers a worker read and did not get queued for this long (it died) are taken over."""


def ring_job_id(offer: CallOffered | CallConsultOffered) -> str:
    return f"twilio-ring:{offer.call_id}:{offer.agent_id}:{offer.at.isoformat()}"


CONSULTATION = {
    event.name: event for event in (CallConsultAnswered, CallConsultCompleted, CallConsultEnded)
}
STEERING = {
    event.name: event for event in (CallHeld, CallResumed, CallTransferred, CallHangUp)
} | CONSULTATION
"""Events after which a Twilio call's legs get new instructions."""
OFFERS: dict[str, type[CallOffered] | type[CallConsultOffered]] = {
    CallOffered.name: CallOffered,
    CallConsultOffered.name: CallConsultOffered,
}
"""Events that ring an agent: a queue's offer, or a colleague's consultation."""


def _offers(envelopes: list[Envelope]) -> list[CallOffered | CallConsultOffered]:
    offers: list[CallOffered | CallConsultOffered] = []
    for envelope in envelopes:
        kind = OFFERS.get(envelope.name)
        if kind is None:
            continue
        try:
            offers.append(kind.model_validate(envelope.data))
        except ValidationError as exc:  # skipped, never retried: it would stall the group
            log.warning("unreadable call.offered skipped", event_id=envelope.id, error=str(exc))
    return offers


def _steering(envelopes: list[Envelope]) -> list[tuple[Envelope, str]]:
    """The steering events among ``envelopes``, with their call's id."""
    found = []
    for envelope in envelopes:
        event = STEERING.get(envelope.name)
        if event is None:
            continue
        try:
            found.append((envelope, event.model_validate(envelope.data).call_id))
        except ValidationError as exc:
            log.warning("unreadable event skipped", event_id=envelope.id, error=str(exc))
    return found


async def ring_offered_agents(ctx: dict[str, Any], *, consumer: str) -> int:
    """One pass of the worker named ``consumer`` over new ``call.offered`` events (and
    consultations, ``call.consult_offered``): a ring job for each offer of a Twilio call,
    the events acknowledged once their jobs are queued. What a dead worker read and left
    is taken over; the job id makes a second enqueue of one offer a no-op."""
    events: EventBus = ctx["switchboard"].events

    Read = tuple[list[Envelope], list[CallOffered | CallConsultOffered], list[tuple[Envelope, str]]]

    def read() -> Read:
        try:
            envelopes = events.claim_stale(
                RINGER_GROUP, consumer, min_idle_ms=STALE_MS
            ) or events.read_group(RINGER_GROUP, consumer, count=200)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            events.ensure_group(RINGER_GROUP)  # gone with Redis's data; new offers from now
            return [], [], []
        offers, steering = _offers(envelopes), _steering(envelopes)
        if not offers and not steering:
            return envelopes, [], []
        ids = {o.call_id for o in offers} | {call_id for _e, call_id in steering}
        with ctx["sessions"]() as session:
            twilio = set(
                session.exec(
                    select(Call.id).where(col(Call.id).in_(ids), Call.channel == CallChannel.TWILIO)
                ).all()
            )
        return (
            envelopes,
            [o for o in offers if o.call_id in twilio],
            [(e, call_id) for e, call_id in steering if call_id in twilio],
        )

    envelopes, offers, steering = await run_in_threadpool(read)
    # Steered here, in the bus's order, not in jobs that may run in any order: a
    # transferred caller's old agent leg is hung up before the next agent is rung.
    for envelope, call_id in steering:
        steer: Callable[[], object]
        if envelope.name in CONSULTATION:
            steer = partial(
                steer_consultation, ctx, call_id=call_id, event=envelope.name, data=envelope.data
            )
        else:
            steer = partial(
                steer_agent_leg,
                ctx,
                call_id=call_id,
                event=envelope.name,
                agent_leg=envelope.data.get("agent_leg"),
            )
        await run_in_threadpool(steer)
    for offer in offers:
        consult = isinstance(offer, CallConsultOffered)
        await ctx["redis"].enqueue_job(
            "ring_twilio_consultant" if consult else "ring_twilio_agent",
            call_id=offer.call_id,
            agent_id=offer.agent_id,
            offered_at=offer.at.isoformat(),
            _job_id=ring_job_id(offer),
        )
    if envelopes:
        await run_in_threadpool(events.ack, RINGER_GROUP, *(e.id for e in envelopes))
    return len(offers) + len(steering)
