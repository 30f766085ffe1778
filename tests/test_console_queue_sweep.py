"""What keeps the demo's (and any hotline's) queue moving: waiting calls reach agents who come
back from wrap-up, with no request of their own to dispatch the queue."""

from __future__ import annotations

import asyncio
from typing import Any

import redis
from arq import create_pool
from arq.connections import RedisSettings
from sqlmodel import Session

from core.bus import EventBus
from orders.enums import Role
from telephony.acd import Acd, QueueConfig
from telephony.enums import CallState
from telephony.presence import AgentState, Presence
from telephony.twilio.jobs import sweep_offers
from tests.conftest import TestClock, hotline_switchboard


def test_a_call_waiting_through_a_wrap_up_is_offered_when_it_ends(
    db: Session,
    bus: redis.Redis,
    redis_url: str,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    clock: TestClock,
) -> None:
    agent = make_user(Role.AGENT).id
    events = EventBus(bus)
    acd = Acd(bus, events, Presence(bus, events, clock=clock), clock=clock)
    acd.configure(QueueConfig(name="q", wrap_up_seconds=0))
    acd.presence.log_in(agent, queues=["q"], skills=[])
    for state in (AgentState.OFFERED, AgentState.ON_CALL):
        acd.presence.move(agent, state, call_id="earlier")
    acd.end_call(agent, "q", "earlier")  # wrap-up, over at once
    call = make_call()
    acd.enqueue(call.id, "q")  # nobody free: it waits, and nothing dispatches it

    async def sweep() -> int:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            board = hotline_switchboard(bus, clock)
            context = {"switchboard": board, "sessions": sessions, "redis": jobs, "clock": clock}
            return await sweep_offers(context)
        finally:
            await jobs.aclose()

    assert asyncio.run(sweep()) == 1
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.OFFERED, agent)
    assert acd.presence.get(agent).state is AgentState.OFFERED
