"""Presence and the ACD under random agent actions, arrivals, timeouts, hang-ups and sweeps.

Hypothesis drives the real Redis-backed ACD and checks after every step that no call is
offered to two agents, no agent is offered two calls, no agent is ``offered`` without a
live offer, no caller is lost, and after a sweep no call waits while an agent of its
queue is available.
"""

from __future__ import annotations

import contextlib

import hypothesis.strategies as st
import redis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.bus import EventBus
from telephony.acd import Acd, QueueConfig
from telephony.constants import AVAILABLE
from telephony.exceptions import InvalidAgentState, NoSuchOffer
from telephony.presence import CHOSEN, AgentState, Presence
from tests.conftest import TestClock, at

AGENTS = (1, 2, 3, 4)
QUEUE = "q"
QUEUE_SETS = ([QUEUE], ["other"], [QUEUE, "other"], [])


class AcdMachine(RuleBasedStateMachine):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.client.flushdb()
        self.clock = TestClock(at(2026, 11, 23, 2, 0), frozen=True)
        events = EventBus(self.client)
        self.presence = Presence(self.client, events, clock=self.clock)
        self.acd = Acd(self.client, events, self.presence, clock=self.clock)
        self.acd.configure(QueueConfig(name=QUEUE, offer_timeout_seconds=15, wrap_up_seconds=5))
        self.live: set[str] = set()
        """Callers who have neither been answered nor hung up: each must be somewhere."""
        self.arrivals = 0
        self.swept = False
        self.talked: list[tuple[int, str]] = []
        """(agent, call) of each answered call whose end is over: its end may be learnt again."""

    def teardown(self) -> None:
        self.client.flushdb()
        self.client.close()

    def _step(self) -> None:
        self.swept = False

    # Agents

    @rule(agent=st.sampled_from(AGENTS))
    def log_in(self, agent: int) -> None:
        self._step()
        with contextlib.suppress(InvalidAgentState):
            self.presence.log_in(agent, queues=[QUEUE], skills=[])

    @rule(agent=st.sampled_from(AGENTS), queues=st.sampled_from(QUEUE_SETS))
    def log_in_to(self, agent: int, queues: list[str]) -> None:
        """Logging in again with other queues moves the agent between queues."""
        self._step()
        with contextlib.suppress(InvalidAgentState):
            self.presence.log_in(agent, queues=queues, skills=[])
            self.acd.dispatch(QUEUE)

    @rule(agent=st.sampled_from(AGENTS), state=st.sampled_from(sorted(CHOSEN)))
    def choose(self, agent: int, state: AgentState) -> None:
        self._step()
        with contextlib.suppress(InvalidAgentState):
            chosen = self.presence.choose(agent, state)
            if chosen.state is AgentState.AVAILABLE:
                self.acd.dispatch(QUEUE)

    @rule(agent=st.sampled_from(AGENTS))
    def answer(self, agent: int) -> None:
        self._step()
        offered = self.presence.get(agent)
        if offered.state is not AgentState.OFFERED or offered.call_id is None:
            return
        with contextlib.suppress(NoSuchOffer):
            self.acd.accept(offered.call_id, agent)
            self.live.discard(offered.call_id)

    @rule(agent=st.sampled_from(AGENTS))
    def decline(self, agent: int) -> None:
        self._step()
        offered = self.presence.get(agent)
        if offered.call_id is None:
            return
        with contextlib.suppress(NoSuchOffer):
            self.acd.miss(offered.call_id, agent)
            self.acd.dispatch(QUEUE)

    @rule(agent=st.sampled_from(AGENTS))
    def hang_up_with_agent(self, agent: int) -> None:
        self._step()
        talking = self.presence.get(agent)
        if talking.state is AgentState.ON_CALL and talking.call_id is not None:
            self.acd.end_call(agent, QUEUE, talking.call_id)
            self.talked.append((agent, talking.call_id))

    @precondition(lambda self: bool(self.talked))
    @rule(data=st.data())
    def hang_up_learnt_again(self, data: st.DataObject) -> None:
        """The channel tells of a call's end again (a callback retried, a second step
        learning of the same hang-up), whatever its agent is doing by then."""
        self._step()
        agent, call = data.draw(st.sampled_from(self.talked))
        before = self.presence.get(agent)
        assert self.acd.end_call(agent, QUEUE, call) is None
        after = self.presence.get(agent)
        assert (after.state, after.call_id, after.since) == (
            before.state,
            before.call_id,
            before.since,
        )

    # Callers

    @precondition(lambda self: len(self.live) < 6)
    @rule()
    def arrive(self) -> None:
        self._step()
        self.arrivals += 1
        call = f"c{self.arrivals}"
        self.acd.enqueue(call, QUEUE)
        self.live.add(call)
        self.acd.dispatch(QUEUE)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        self._step()
        call = data.draw(st.sampled_from(sorted(self.live)))
        assert self.acd.abandon(call)
        self.live.discard(call)

    # Time

    @rule(seconds=st.sampled_from((1, 6, 16)))
    def time_passes(self, seconds: int) -> None:
        self._step()
        self.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        """What the worker's sweep does every two seconds."""
        self.presence.finish_wrap_ups()
        self.acd.release_stray_agents()
        self.acd.expire_offers()
        self.acd.dispatch(QUEUE)
        self.swept = True

    # What must always hold

    @invariant()
    def one_call_per_agent_and_one_agent_per_call(self) -> None:
        offered = [a for a in self.presence.all() if a.state is AgentState.OFFERED]
        calls = [a.call_id for a in offered]
        assert len(calls) == len(set(calls)), "a call offered to two agents"
        for agent in offered:
            assert agent.call_id is not None
            offer = self.acd.current_offer(agent.call_id)
            assert offer is not None and offer.agent_id == agent.agent_id, (
                f"agent {agent.agent_id} offered {agent.call_id} without a live offer"
            )

    @invariant()
    def every_live_offer_rings_its_agent(self) -> None:
        for call in self.live:
            offer = self.acd.current_offer(call)
            if offer is not None:
                agent = self.presence.get(offer.agent_id)
                assert (agent.state, agent.call_id) == (AgentState.OFFERED, call)

    @invariant()
    def no_caller_is_lost(self) -> None:
        for call in self.live:
            waiting = self.acd.position(call, QUEUE) is not None
            offered = self.acd.current_offer(call) is not None
            assert waiting != offered, f"{call}: waiting={waiting} offered={offered}"

    @invariant()
    def after_a_sweep_nobody_waits_beside_a_free_agent(self) -> None:
        if not self.swept or self.acd.figures(QUEUE).waiting == 0:
            return
        free = [
            a.agent_id
            for a in self.presence.all()
            if a.state is AgentState.AVAILABLE and QUEUE in a.queues
        ]
        assert free == [], f"calls wait while agents {free} are available"

    @invariant()
    def the_index_of_available_agents_is_the_agents_available(self) -> None:
        agents = self.presence.all()
        for queue in (QUEUE, "other"):
            indexed = self.client.zrange(AVAILABLE.format(queue=queue), 0, -1, withscores=True)
            expected = sorted(
                (a.since.timestamp(), a.agent_id)
                for a in agents
                if a.state is AgentState.AVAILABLE and queue in a.queues
            )
            assert sorted((since, int(a)) for a, since in indexed) == expected, queue


def test_presence_and_the_acd_keep_their_invariants(redis_url: str) -> None:
    run_state_machine_as_test(
        lambda: AcdMachine(redis_url),
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
