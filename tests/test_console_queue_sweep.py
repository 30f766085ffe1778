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
from telephony.constants import QUEUED_CALL, WAITING
from telephony.enums import CallState
from telephony.presence import AgentState, Presence
from telephony.routing import LOST_AFTER_SECONDS
from telephony.switchboard import Switchboard
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

    assert _sweep(redis_url, hotline_switchboard(bus, clock), sessions, clock) == 1
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.OFFERED, agent)
    assert acd.presence.get(agent).state is AgentState.OFFERED


def test_a_waiting_call_redis_lost_is_queued_again_and_offered(
    db: Session,
    bus: redis.Redis,
    redis_url: str,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    clock: TestClock,
) -> None:
    """Redis failed over to a replica that was behind, and the ACD's record of a waiting
    caller was gone with it (as it is when a transfer is announced and Redis refuses the
    ACD's step). The call log still said waiting; the sweep dispatched the queue, which
    offered the free agent nothing, and the caller waited for nobody until they gave up.
    A caller waiting elsewhere (an answered call's record is gone too, as the log moves
    on) and one whose end the ACD learnt are left alone."""
    agent = make_user(Role.AGENT).id
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    acd.configure(QueueConfig(name="q"))
    lost, kept, ended = make_call(), make_call(), make_call()
    for call in (lost, kept, ended):
        acd.enqueue(call.id, "q")
    acd.withdraw(ended.id, reason="caller hung up", ended=True)  # its end not logged yet
    bus.delete(QUEUED_CALL.format(call_id=lost.id))  # what the failover lost
    bus.zrem(WAITING.format(queue="q"), lost.id)
    acd.presence.log_in(agent, queues=["q"], skills=[])
    other = make_user(Role.AGENT).id
    acd.presence.log_in(other, queues=["q"], skills=[])

    # The kept caller reaches an agent; the lost one not yet, then once lost long enough.
    assert _sweep(redis_url, board, sessions, clock) == 1
    clock.advance(LOST_AFTER_SECONDS)
    assert _sweep(redis_url, board, sessions, clock) == 1

    for call in (lost, kept, ended):
        db.refresh(call)
    assert {lost.state, kept.state} == {CallState.OFFERED}
    assert {lost.agent_id, kept.agent_id} == {agent, other}
    assert ended.state is CallState.QUEUED  # the ACD refused it: its hang-up ends it
    assert acd.position(ended.id, "q") is None


def _sweep(redis_url: str, board: Switchboard, sessions: Any, clock: TestClock) -> int:
    """The worker's offer sweep, run once: how many offers it made."""

    async def sweep() -> int:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            context = {"switchboard": board, "sessions": sessions, "redis": jobs, "clock": clock}
            return await sweep_offers(context)
        finally:
            await jobs.aclose()

    return asyncio.run(sweep())
