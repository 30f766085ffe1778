"""Agents of Twilio calls are rung from ``call.offered`` on the bus, whoever made the offer;
offers of SIP calls are left to their endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import redis
from arq import create_pool
from arq.connections import RedisSettings
from sqlmodel import Session

from ivr.flow import BUILTIN_FLOWS, load_flows
from orders.enums import Role
from telephony.enums import CallChannel
from telephony.routing import record_offers
from telephony.switchboard import Switchboard
from telephony.twilio.ringer import RINGER_GROUP, ring_offered_agents
from tests.conftest import TestClock

HOTLINE = load_flows(BUILTIN_FLOWS)["hotline"]


def _ring_passes(redis_url: str, context: dict[str, Any], workers: int) -> list[str]:
    """``workers`` ring passes at once, as that many workers would run them; returns the
    ring jobs queued."""

    async def run() -> list[str]:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            await jobs.delete("arq:queue")
            await asyncio.gather(
                *(ring_offered_agents({**context, "redis": jobs}) for _ in range(workers))
            )
            return sorted(job.job_id for job in await jobs.queued_jobs())
        finally:
            await jobs.aclose()

    return asyncio.run(run())


def test_each_offer_of_a_twilio_call_is_rung_once_and_sip_offers_not_at_all(
    db: Session,
    bus: redis.Redis,
    redis_url: str,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    clock: TestClock,
) -> None:
    board = Switchboard.over(bus, flow=HOTLINE, region="CN", clock=clock)
    board.events.ensure_group(RINGER_GROUP)
    agents = [make_user(Role.AGENT).id for _ in range(3)]
    for agent in agents:
        board.acd.presence.log_in(agent, queues=["q"], skills=[])
    twilio = [make_call(channel=CallChannel.TWILIO) for _ in range(2)]
    sip = make_call(channel=CallChannel.SIP)
    for call in (*twilio, sip):
        board.acd.enqueue(call.id, "q")

    # The offers are made and recorded as any producer does; nobody asks for a ring.
    offers = record_offers(db, board.acd.dispatch("q"))
    assert {o.call_id for o in offers} == {c.id for c in (*twilio, sip)}

    context = {"switchboard": board, "sessions": sessions}
    rung = _ring_passes(redis_url, context, workers=2)

    assert len(rung) == 2
    assert {job.split(":")[1] for job in rung} == {c.id for c in twilio}
    assert _ring_passes(redis_url, context, workers=2) == []  # each offer once
