"""What keeps the demo's (and any hotline's) queue moving: waiting calls reach agents who come
back from wrap-up, with no request of their own to dispatch the queue."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

import pytest
import redis
from arq import create_pool
from arq.connections import RedisSettings
from sqlmodel import Session

from core.bus import EventBus
from orders.enums import Role
from telephony import calls
from telephony.acd import Acd, QueueConfig
from telephony.constants import OFFER, OFFERS, QUEUED_CALL, WAITING
from telephony.enums import CallState
from telephony.models import Call
from telephony.presence import AgentState, Presence
from telephony.repairs import Repair, repair_counts
from telephony.routing import LEFT_ON_CALL_AFTER_SECONDS, LOST_AFTER_SECONDS
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
    _offered_to(db, acd, call, agent)


def test_a_waiting_call_redis_lost_is_queued_again_and_offered(
    db: Session,
    bus: redis.Redis,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> None:
    """Redis failed over to a replica that was behind, and the ACD's record of a waiting
    caller was gone with it (as it is when a transfer is announced and Redis refuses the
    ACD's step). The call log still said waiting; the sweep dispatched the queue, which
    offered the free agent nothing, and the caller waited for nobody until they gave up.
    Left alone: a caller no longer heard waiting (gone, their hang-up lost with the rest),
    one still held by the ACD, and one whose end the ACD learnt."""
    agent, other = make_user(Role.AGENT).id, make_user(Role.AGENT).id
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    acd.configure(QueueConfig(name="q"))
    lost, gone, kept, ended = make_call(), make_call(), make_call(), make_call()
    for call in (lost, gone, kept, ended):
        acd.enqueue(call.id, "q")
    acd.withdraw(ended.id, reason="caller hung up", ended=True)  # its end not logged yet
    for call in (lost, gone):  # what the failover lost
        bus.delete(QUEUED_CALL.format(call_id=call.id))
        bus.zrem(WAITING.format(queue="q"), call.id)
    for call in (lost, kept):  # the callers still waiting ask about their wait
        assert not acd.overflow_if_waited(call.id)
    for agent_id in (agent, other):
        acd.presence.log_in(agent_id, queues=["q"], skills=[])

    # The kept caller reaches an agent; the lost one not yet, then once lost long enough.
    assert _sweep(redis_url, board, sessions, clock) == 1
    clock.advance(LOST_AFTER_SECONDS)
    assert acd.lost([lost.id, gone.id, kept.id, ended.id]) == {lost.id}
    assert _sweep(redis_url, board, sessions, clock) == 1

    for call in (lost, gone, kept, ended):
        db.refresh(call)
    assert {lost.state, kept.state} == {CallState.OFFERED}
    assert {lost.agent_id, kept.agent_id} == {agent, other}
    assert (gone.state, ended.state) == (CallState.QUEUED, CallState.QUEUED)
    assert acd.position(gone.id, "q") is None
    assert acd.position(ended.id, "q") is None  # the ACD refused it: its hang-up ends it


def test_a_lost_call_queued_again_keeps_its_wait(
    db: Session,
    bus: redis.Redis,
    make_call: Any,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> None:
    """A lost call queued again began its wait anew: a caller nobody could take waited
    the queue's maximum once more before the overflow offered them a callback."""
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    acd.configure(QueueConfig(name="q", max_wait_seconds=60))
    call = make_call()
    call.queued_at = clock()
    db.commit()
    acd.enqueue(call.id, "q")
    clock.advance(20)
    bus.delete(QUEUED_CALL.format(call_id=call.id))  # the failover's loss
    bus.zrem(WAITING.format(queue="q"), call.id)
    assert not acd.overflow_if_waited(call.id)
    _sweep(redis_url, board, sessions, clock)
    clock.advance(LOST_AFTER_SECONDS)
    _sweep(redis_url, board, sessions, clock)
    assert acd.position(call.id, "q") == 1  # queued again

    clock.advance(40 - LOST_AFTER_SECONDS)  # a minute since the caller began to wait
    assert acd.overflow_if_waited(call.id)


def test_a_ringing_call_redis_lost_is_queued_again_and_offered(
    db: Session,
    bus: redis.Redis,
    make_user: Any,
    ringing: Ringing,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> None:
    """Redis failed over while a waiting call rang an agent, and the replica had neither
    the call's record nor its offer: the agent's phone was left ringing for nothing, and
    the call log said the call was offered, so the sweep looked for it among the waiting
    calls in vain. The caller was never offered again and, with no record to time their
    wait, never left for the overflow either: they waited until they gave up."""
    board, call, agent = ringing
    acd, other = board.acd, make_user(Role.AGENT).id
    # What the failover lost: the call's record and its offer; the agent still rings.
    bus.delete(QUEUED_CALL.format(call_id=call.id), OFFER.format(call_id=call.id))
    bus.zrem(OFFERS, call.id)
    acd.presence.log_in(other, queues=["q"], skills=[])
    assert not acd.overflow_if_waited(call.id)  # the caller still asks about the wait

    _sweep(redis_url, board, sessions, clock)
    clock.advance(LOST_AFTER_SECONDS)
    assert not acd.overflow_if_waited(call.id)
    assert _sweep(redis_url, board, sessions, clock) == 1

    db.refresh(call)
    offer = acd.current_offer(call.id)
    assert offer is not None
    assert (call.state, call.agent_id) == (CallState.OFFERED, offer.agent_id)
    ringing = acd.presence.get(offer.agent_id)
    assert (ringing.state, ringing.call_id) == (AgentState.OFFERED, call.id)
    assert acd.presence.get(({agent, other} - {offer.agent_id}).pop()).state is (
        AgentState.AVAILABLE
    )
    # Counted for the operators (``callcenter_call_repairs_total``), each once.
    assert {k: v for k, v in repair_counts(bus).items() if v} == {
        Repair.LOST_CALL_REQUEUED: 1,
        Repair.STRAY_AGENT_FREED: 1,
    }


def test_an_answer_the_log_missed_is_offered_again_only_if_the_caller_still_waits(
    db: Session,
    make_user: Any,
    ringing: Ringing,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> None:
    """The ACD took an agent's answer, and the log's write of it failed: the log shows the
    call ringing, the ACD has no record of it, and the agent is on the call. The caller,
    never connected, still waits. Such a call is not taken for lost on the strength of a
    wait check made before the answer (it would ring a second agent each time a log's
    write of an answer is slow); once the caller is heard waiting after it, it is offered
    again, and the agent it never reached is let go."""
    board, call, agent = ringing
    acd, other = board.acd, make_user(Role.AGENT).id
    assert not acd.overflow_if_waited(call.id)  # heard waiting while it rings
    acd.accept(call.id, agent)  # the log's write that follows fails
    acd.presence.log_in(other, queues=["q"], skills=[])

    _sweep(redis_url, board, sessions, clock)
    clock.advance(LOST_AFTER_SECONDS)
    assert _sweep(redis_url, board, sessions, clock) == 0  # connected: nothing to do

    assert not acd.overflow_if_waited(call.id)  # not connected after all: still waiting
    _sweep(redis_url, board, sessions, clock)
    clock.advance(LOST_AFTER_SECONDS)
    assert _sweep(redis_url, board, sessions, clock) == 1
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.OFFERED, other)
    assert acd.presence.get(agent).state is AgentState.WRAP_UP  # no longer on this call


def test_an_agent_left_on_a_call_their_caller_has_left_is_released(
    bus: redis.Redis,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> None:
    """A process died between a blind transfer's announcement and the agent's release: the
    caller waited for the next agent, and the ACD still had the first on the call. Only
    calls that are over free their agents, so the agent stayed on it, offered nothing,
    until the caller's call ended. Left alone: an agent the log shows on their call, and
    one whose answer the log is still to write (it shows the call ringing them)."""
    clock.freeze(clock())  # 1 s short of the bound: no real time in between
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    acd.configure(QueueConfig(name="q"))
    left, talking, answering, late = (make_user(Role.AGENT).id for _ in range(4))
    calls = {
        left: make_call(state=CallState.QUEUED),  # transferred: waiting for the next agent
        talking: make_call(state=CallState.BRIDGED, agent_id=talking),
        answering: make_call(state=CallState.OFFERED, agent_id=answering),
        # Answered before its offer was written, and the answer's write failed: the log
        # shows the call ringing the agent offered it since.
        late: make_call(state=CallState.OFFERED, agent_id=talking),
    }
    for agent, call in calls.items():
        acd.presence.log_in(agent, queues=["q"], skills=[])
        for state in (AgentState.OFFERED, AgentState.ON_CALL):
            acd.presence.move(agent, state, call_id=call.id)

    _sweep(redis_url, board, sessions, clock)
    clock.advance(LEFT_ON_CALL_AFTER_SECONDS - 1)
    _sweep(redis_url, board, sessions, clock)
    assert acd.presence.get(left).state is AgentState.ON_CALL  # not yet: the log may lag
    clock.advance(1)
    _sweep(redis_url, board, sessions, clock)

    assert acd.presence.get(left).state is AgentState.WRAP_UP
    assert acd.presence.get(late).state is AgentState.WRAP_UP
    assert acd.presence.get(talking).state is AgentState.ON_CALL
    assert acd.presence.get(answering).state is AgentState.ON_CALL
    assert {k: v for k, v in repair_counts(bus).items() if v} == {
        Repair.AGENT_LEFT_ON_CALL_RELEASED: 2
    }


def test_a_lost_call_is_queued_again_only_while_the_acd_holds_no_record_of_it(
    bus: redis.Redis, make_call: Any, clock: TestClock
) -> None:
    """Two sweeps overlapping (or a request queueing the call between a sweep's check and
    its step) must not queue a call twice: an offered call put back as waiting would ring
    a second agent."""
    acd = hotline_switchboard(bus, clock).acd
    call = make_call()
    assert acd.enqueue(call.id, "q", priority=0, lost=True) is not None
    assert acd.enqueue(call.id, "q", priority=0, lost=True) is None
    assert acd.position(call.id, "q") == 1


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


def _offered_to(db: Session, acd: Acd, call: Call, agent: int) -> None:
    """The call log and the ACD both show the call ringing ``agent``."""
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.OFFERED, agent)
    assert acd.presence.get(agent).state is AgentState.OFFERED


class Ringing(NamedTuple):
    board: Switchboard
    call: Call
    agent: int


@pytest.fixture
def ringing(
    db: Session,
    bus: redis.Redis,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> Ringing:
    """A call the sweep has offered to the one agent logged in, and the log shows so."""
    agent = make_user(Role.AGENT).id
    board = hotline_switchboard(bus, clock)
    board.acd.configure(QueueConfig(name="q"))
    call = make_call()
    board.acd.enqueue(call.id, "q")
    board.acd.presence.log_in(agent, queues=["q"], skills=[])
    assert _sweep(redis_url, board, sessions, clock) == 1
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.OFFERED, agent)
    return Ringing(board, call, agent)


def test_an_offer_ringing_out_after_redis_lost_its_call_frees_the_agent_for_the_call_again(
    db: Session,
    bus: redis.Redis,
    make_user: Any,
    ringing: Ringing,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> None:
    """Redis lost a ringing call's queued record and kept its offer (a failover to a
    replica that was behind). The offer's expiry found no record to put back in the queue
    and gave up: the agent stayed "offered" for a call nobody would offer them again, and
    every sweep after found the offer due and gave up again."""
    board, call, agent = ringing
    acd = board.acd
    other = make_user(Role.AGENT).id
    acd.presence.log_in(other, queues=["q"], skills=[])
    bus.delete(QUEUED_CALL.format(call_id=call.id))
    # While the ring lasts, the call is not lost: it was queued again and offered to the
    # other agent over the ringing offer, which left the first ringing for it.
    ring = acd.config("q").offer_timeout_seconds
    rung = 0
    for _ in range(2):
        assert not acd.overflow_if_waited(call.id)  # the caller, still waiting, asks
        clock.advance(LOST_AFTER_SECONDS + 1)
        rung += LOST_AFTER_SECONDS + 1
        assert _sweep(redis_url, board, sessions, clock) == 0
    assert rung < ring  # long enough to be taken for lost, not yet rung out
    assert acd.presence.get(agent).state is AgentState.OFFERED
    assert acd.presence.get(other).state is AgentState.AVAILABLE
    acd.presence.choose(other, AgentState.BREAK)
    assert not acd.overflow_if_waited(call.id)
    clock.advance(ring + 1 - rung)  # the ring runs out

    _sweep(redis_url, board, sessions, clock)

    freed = acd.presence.get(agent)
    assert (freed.state, freed.call_id, freed.missed_offers) == (AgentState.AVAILABLE, None, 1)
    assert bus.zrange(OFFERS, 0, -1) == []
    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.QUEUED, None)

    # Lost long enough (seen by one sweep, then by a later one), the caller is queued
    # again and offered to the agent.
    offers = 0
    for _ in range(2):
        clock.advance(LOST_AFTER_SECONDS)
        assert not acd.overflow_if_waited(call.id)
        offers += _sweep(redis_url, board, sessions, clock)
    assert offers == 1
    _offered_to(db, acd, call, agent)


def test_an_agent_answering_a_call_redis_lost_the_record_of_talks_to_the_caller(
    db: Session,
    bus: redis.Redis,
    ringing: Ringing,
    sessions: Any,
    redis_url: str,
    clock: TestClock,
) -> None:
    """The agent picked up an offer whose call Redis had lost the record of: the answer was
    refused, their leg hung up on the caller, and the ring-out then counted it as their
    miss."""
    board, call, agent = ringing
    bus.delete(QUEUED_CALL.format(call_id=call.id))

    with sessions() as session:
        calls.agent_answered(session, board, call_id=call.id, agent_id=agent, clock=clock)

    db.refresh(call)
    assert (call.state, call.agent_id) == (CallState.BRIDGED, agent)
    answering = board.acd.presence.get(agent)
    assert (answering.state, answering.call_id) == (AgentState.ON_CALL, call.id)
    clock.advance(board.acd.config("q").offer_timeout_seconds + 1)  # past the ring: no miss
    _sweep(redis_url, board, sessions, clock)
    assert board.acd.presence.get(agent).state is AgentState.ON_CALL
