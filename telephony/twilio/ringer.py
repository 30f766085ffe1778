"""Twilio agents are rung from ``call.offered`` on the bus, as SIP agents are: whoever
made an offer (a webhook, a console, a sweep, another process) only publishes it."""

from __future__ import annotations

from typing import Any

import structlog
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from core.bus import Envelope, EventBus
from telephony.enums import CallChannel
from telephony.models import Call

log = structlog.get_logger(__name__)

RINGER_GROUP = "twilio-ringer"
"""One consumer group over all workers: each offer is rung by one of them."""
RINGER_CONSUMER = "ringer"
BLOCK_MS = 500


def ring_job_id(call_id: str, agent_id: int, offered_at: str) -> str:
    return f"twilio-ring:{call_id}:{agent_id}:{offered_at}"


async def ring_offered_agents(ctx: dict[str, Any], *, block_ms: int | None = None) -> int:
    """One pass over new ``call.offered`` events: a ring job for each offer of a Twilio
    call, acknowledged once queued (a worker that dies first leaves it to the next pass;
    the job id makes a second enqueue of the same offer a no-op)."""
    events: EventBus = ctx["switchboard"].events

    def read() -> tuple[list[Envelope], set[str]]:
        events.ensure_group(RINGER_GROUP)  # gone when Redis lost its data
        envelopes = events.read_group(RINGER_GROUP, RINGER_CONSUMER, count=200, block_ms=block_ms)
        offered = {e.data["call_id"] for e in envelopes if e.name == "call.offered"}
        if not offered:
            return envelopes, set()
        with ctx["sessions"]() as session:
            twilio = session.exec(
                select(Call.id).where(col(Call.id).in_(offered), Call.channel == CallChannel.TWILIO)
            ).all()
        return envelopes, set(twilio)

    envelopes, twilio_calls = await run_in_threadpool(read)
    rung = 0
    for envelope in envelopes:
        data = envelope.data
        if envelope.name == "call.offered" and data["call_id"] in twilio_calls:
            await ctx["redis"].enqueue_job(
                "ring_twilio_agent",
                call_id=data["call_id"],
                agent_id=data["agent_id"],
                offered_at=data["at"],
                _job_id=ring_job_id(data["call_id"], data["agent_id"], data["at"]),
            )
            rung += 1
    await run_in_threadpool(events.ack, RINGER_GROUP, *(e.id for e in envelopes))
    return rung
