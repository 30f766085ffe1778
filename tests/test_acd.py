"""Queues and presence against the real Redis, with a clock the test moves."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from core.bus import EventBus
from telephony.acd import Acd, QueueConfig, Strategy
from telephony.constants import (
    ACD_LOCK,
    AVAILABLE,
    OFFERS,
    PRESENCE_CHANGES,
    QUEUED_CALL,
    WAITING,
)
from telephony.exceptions import InvalidAgentState, NoSuchOffer
from telephony.presence import Agent, AgentState, Presence
from tests.conftest import TestClock, at

Clock = TestClock


@pytest.fixture
def clock() -> Clock:
    """Stopped: only the test moves it."""
    return TestClock(at(2026, 11, 23, 9, 0), frozen=True)


@pytest.fixture
def presence(bus: redis.Redis, clock: Clock) -> Presence:
    return Presence(bus, EventBus(bus), clock=clock)


@pytest.fixture
def acd(bus: redis.Redis, presence: Presence, clock: Clock) -> Acd:
    return Acd(bus, EventBus(bus), presence, clock=clock)


def _agents(
    presence: Presence, clock: Clock, *ids: int, queue: str = "q", skills: tuple[str, ...] = ()
) -> None:
    for agent_id in ids:
        presence.log_in(agent_id, queues=[queue], skills=list(skills))
        clock.advance(1)


def test_longest_idle_agent_gets_the_call(acd: Acd, presence: Presence, clock: Clock) -> None:
    _agents(presence, clock, 3, 1, 2)
    acd.enqueue("c1", "q")
    [offer] = acd.dispatch("q")
    assert offer.agent_id == 3
    assert presence.get(3).state is AgentState.OFFERED


def test_round_robin_goes_around(acd: Acd, presence: Presence, clock: Clock) -> None:
    acd.configure(QueueConfig(name="q", strategy=Strategy.ROUND_ROBIN))
    _agents(presence, clock, 1, 2, 3)
    served = []
    for index in range(4):
        acd.enqueue(f"c{index}", "q")
        [offer] = acd.dispatch("q")
        served.append(offer.agent_id)
        acd.accept(offer.call_id, offer.agent_id)
        acd.end_call(offer.agent_id, "q", offer.call_id)
        presence.choose(offer.agent_id, AgentState.AVAILABLE)
    assert served == [1, 2, 3, 1]


def test_skills_based_only_offers_to_skilled_agents(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    acd.configure(QueueConfig(name="q", strategy=Strategy.SKILLS, skill="air_conditioner"))
    _agents(presence, clock, 1)
    _agents(presence, clock, 2, skills=("air_conditioner",))
    acd.enqueue("c1", "q")
    assert [o.agent_id for o in acd.dispatch("q")] == [2]
    acd.enqueue("c2", "q")
    assert acd.dispatch("q") == []


def test_priority_callers_go_first(acd: Acd, presence: Presence, clock: Clock) -> None:
    acd.enqueue("ordinary", "q", priority=1)
    clock.advance(5)
    acd.enqueue("urgent-order", "q", priority=0)
    assert acd.position("urgent-order", "q") == 1
    _agents(presence, clock, 1)
    assert [o.call_id for o in acd.dispatch("q")] == ["urgent-order"]


def test_the_calls_waiting_in_their_queues_are_told_apart_in_one_read(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    acd.configure(QueueConfig(name="other"))
    acd.enqueue("offered", "q")
    _agents(presence, clock, 1)
    acd.dispatch("q")
    acd.enqueue("waits", "q")
    acd.enqueue("waits-elsewhere", "other")
    acd.enqueue("gone", "q")
    acd.abandon("gone")
    asked = [("offered", "q"), ("waits", "q"), ("waits-elsewhere", "other"), ("gone", "q")]
    # A call is asked about in the queue the log names: not found in another one.
    asked.append(("waits-elsewhere", "q"))
    assert acd.waiting_of(asked) == {"waits", "waits-elsewhere"}
    assert acd.waiting_of([]) == set()


def test_offer_timeout_moves_on_and_two_misses_make_not_ready(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1, 2)
    acd.enqueue("c1", "q")
    assert acd.dispatch("q")[0].agent_id == 1
    clock.advance(16)
    acd.expire_offers()
    acd.dispatch("q")
    assert presence.get(1).state is AgentState.AVAILABLE
    assert presence.get(1).missed_offers == 1
    assert presence.get(2).state is AgentState.OFFERED
    clock.advance(16)
    acd.expire_offers()  # agent 2 misses too; the call returns to agent 1
    acd.dispatch("q")
    assert presence.get(1).state is AgentState.OFFERED
    clock.advance(16)
    acd.expire_offers()
    acd.dispatch("q")
    one = presence.get(1)
    assert one.state is AgentState.BREAK
    assert "missed 2 offers" in one.reason
    assert acd.position("c1", "q") is None  # offered to agent 2 again
    assert presence.get(2).state is AgentState.OFFERED


def test_a_miss_redis_fails_midway_through_leaves_the_call_to_be_offered_again(
    acd: Acd, presence: Presence, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis failed as a missed offer's call went back to its queue, once the offer was
    dropped: the ACD held the call, neither offered nor waiting, so it was never offered
    again, never taken for lost and never overflowed. Its caller waited for nobody."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    assert acd.dispatch("q")[0].agent_id == 1
    waiting = WAITING.format(queue="q")
    zadd, execute = acd.client.zadd, redis.client.Pipeline.execute

    def back_in_the_queue(args: tuple[Any, ...]) -> bool:
        return str(args[0]).upper() == "ZADD" and args[1] == waiting

    def zadd_fails(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == waiting:
            raise redis.ConnectionError("Redis went away")
        return zadd(name, *args, **kwargs)

    def execute_fails(pipe: redis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        if any(back_in_the_queue(command) for command, _options in pipe.command_stack):
            raise redis.ConnectionError("Redis went away")
        return execute(pipe, *args, **kwargs)

    monkeypatch.setattr(acd.client, "zadd", zadd_fails)
    monkeypatch.setattr(redis.client.Pipeline, "execute", execute_fails)
    clock.advance(16)
    with pytest.raises(redis.ConnectionError):
        acd.expire_offers()
    assert acd.current_offer("c1") is not None or acd.position("c1", "q") is not None

    monkeypatch.undo()  # Redis is back: the offer rings out, and the call is offered again
    clock.advance(16)
    acd.expire_offers()
    assert [offer.call_id for offer in acd.dispatch("q")] == ["c1"]


def test_accept_clears_missed_count_and_counts_service_level(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1)
    acd.enqueue("fast", "q")
    clock.advance(5)
    [offer] = acd.dispatch("q")
    acd.accept("fast", 1)
    acd.end_call(1, "q", "fast")
    assert presence.get(1).state is AgentState.WRAP_UP
    clock.advance(31)
    assert [a.agent_id for a in presence.finish_wrap_ups()] == [1]
    acd.enqueue("slow", "q")
    clock.advance(25)
    acd.dispatch("q")
    acd.accept("slow", 1)
    acd.enqueue("gone", "q")
    clock.advance(3)
    assert acd.abandon("gone")
    figures = acd.figures("q")
    assert (figures.answered, figures.answered_in_service_level, figures.abandoned) == (2, 1, 1)
    assert figures.service_level == pytest.approx(1 / 3)
    assert offer.agent_id == 1
    with pytest.raises(NoSuchOffer):
        acd.accept("fast", 1)


def test_waiting_figures_and_overflow(acd: Acd, clock: Clock) -> None:
    acd.configure(QueueConfig(name="q", max_wait_seconds=60))
    acd.enqueue("a", "q")
    clock.advance(40)
    acd.enqueue("b", "q")
    clock.advance(10)
    figures = acd.figures("q")
    assert (figures.waiting, figures.longest_wait_seconds) == (2, 50)
    clock.advance(15)
    assert [c.call_id for c in acd.overflow("q")] == ["a"]
    assert acd.figures("q").waiting == 1
    assert acd.figures("q").overflowed == 1


def test_figures_leave_out_a_call_taken_from_the_queue_while_they_are_read(
    acd: Acd, bus: redis.Redis, clock: Clock
) -> None:
    """The wall reads a queue's calls, then each call's record: a call answered or hung up
    between the two reads has no record left. Read one by one, such a call failed the
    whole wall, every time, under load."""
    acd.enqueue("a", "q")
    clock.advance(40)
    acd.enqueue("b", "q")
    clock.advance(10)
    # What the second read finds once "a" left the queue after the first.
    bus.delete(QUEUED_CALL.format(call_id="a"))
    figures = acd.figures("q")
    assert (figures.waiting, figures.longest_wait_seconds) == (1, 10)


def test_abandon_during_offer_frees_the_agent(acd: Acd, presence: Presence, clock: Clock) -> None:
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    assert acd.abandon("c1")
    assert presence.get(1).state is AgentState.AVAILABLE
    assert not acd.abandon("c1")


def test_presence_rules_and_events(presence: Presence, bus: redis.Redis) -> None:
    presence.log_in(7, queues=["q"], skills=[])
    presence.choose(7, AgentState.BREAK, reason="lunch")
    with pytest.raises(InvalidAgentState):
        presence.choose(7, AgentState.ON_CALL)
    with pytest.raises(InvalidAgentState):
        presence.move(7, AgentState.WRAP_UP)
    changes = [e.data for e in EventBus(bus).read_after("0") if e.name == "agent.state_changed"]
    assert [(c["previous"], c["state"]) for c in changes] == [
        ("logged_out", "available"),
        ("available", "break"),
    ]
    assert changes[-1]["reason"] == "lunch"


def test_reconcile_frees_agents_whose_call_is_gone(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1, 2)
    acd.enqueue("alive", "q")
    acd.enqueue("dead", "q")
    acd.dispatch("q")
    acd.accept("alive", 1)
    acd.accept("dead", 2)
    repaired = presence.reconcile(live_call_ids=lambda: {"alive"})
    assert [a.agent_id for a in repaired] == [2]
    assert presence.get(1).state is AgentState.ON_CALL
    assert presence.get(2).state is AgentState.WRAP_UP
    clock.advance(1)
    presence.finish_wrap_ups()
    assert presence.get(2).state is AgentState.AVAILABLE


def test_reconciling_leaves_an_agent_whose_call_ended_meanwhile(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1)
    acd.enqueue("ending", "q")
    acd.dispatch("q")
    acd.accept("ending", 1)
    seen = presence.all()  # read by the sweep while the agent is on the call ...
    acd.end_call(1, "q", "ending")  # ... which then hangs up before the sweep moves the agent
    assert _sweep_that_read(seen, presence).reconcile(live_call_ids=set) == []
    assert presence.get(1).state is AgentState.WRAP_UP


def _answered_and_hung_up(acd: Acd, call_id: str) -> None:
    """The call is offered to agent 1 (the only one available), answered and hung up."""
    acd.enqueue(call_id, "q")
    acd.dispatch("q")
    acd.accept(call_id, 1)
    acd.end_call(1, "q", call_id)


def _sweep_that_read(seen: list[Agent], presence: Presence) -> Presence:
    """Presence whose sweeps act on agents as they were read earlier (``seen``): the
    moment between a sweep's reading and its moves, where an agent can move on."""

    class Stale(Presence):
        def all(self) -> list[Agent]:
            return seen

    return Stale(presence.client, presence.bus, clock=presence.clock)


def test_reconciling_leaves_an_agent_offered_a_newer_call(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """Read ringing for a call since gone, the agent was offered the next caller before the
    sweep moved them: "available" then would leave that caller ringing for nobody."""
    _agents(presence, clock, 1)
    acd.enqueue("gone", "q")
    acd.dispatch("q")
    seen = presence.all()
    acd.miss("gone", 1, declined=True)
    acd.abandon("gone")
    acd.enqueue("next", "q")
    acd.dispatch("q")
    assert _sweep_that_read(seen, presence).reconcile(live_call_ids=lambda: {"next"}) == []
    agent = presence.get(1)
    assert (agent.state, agent.call_id) == (AgentState.OFFERED, "next")


def test_reconciling_counts_a_call_that_came_in_as_the_agents_were_read(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """The sweep reads the live calls and the agents; a call logged and offered between the
    two reads looked gone, and the agent it rang for was freed, the caller left ringing for
    nobody. Here the call arrives just before the agents are read."""
    _agents(presence, clock, 1)
    logged: set[str] = set()

    class Arriving(Presence):
        def all(self) -> list[Agent]:
            logged.add("new")
            acd.enqueue("new", "q")
            acd.dispatch("q")
            return super().all()

    sweep = Arriving(presence.client, presence.bus, clock=clock)
    assert sweep.reconcile(live_call_ids=lambda: set(logged)) == []
    agent = presence.get(1)
    assert (agent.state, agent.call_id) == (AgentState.OFFERED, "new")


@pytest.mark.parametrize(
    "choice", [AgentState.BREAK, AgentState.LOGGED_OUT], ids=["break", "log_out"]
)
def test_a_choice_made_as_the_wrap_up_runs_out_stands(
    acd: Acd, presence: Presence, clock: Clock, choice: AgentState
) -> None:
    """The agent picks a break (or logs out) just as their wrap-up's time is up, after the
    worker's sweep read them in wrap-up: the sweep must not put them back to available,
    where the ACD would offer them calls."""
    _agents(presence, clock, 1)
    _answered_and_hung_up(acd, "c1")
    clock.advance(31)
    seen = presence.all()
    presence.choose(1, choice, reason="lunch")
    assert _sweep_that_read(seen, presence).finish_wrap_ups() == []
    assert presence.get(1).state is choice
    acd.enqueue("c2", "q")
    assert acd.dispatch("q") == []


def test_a_newer_wrap_up_is_not_cut_short_by_a_sweep_that_read_the_older(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1)
    _answered_and_hung_up(acd, "c1")
    clock.advance(31)
    seen = presence.all()
    presence.choose(1, AgentState.AVAILABLE)
    _answered_and_hung_up(acd, "c2")  # a new wrap-up, 30 s from now
    assert _sweep_that_read(seen, presence).finish_wrap_ups() == []
    agent = presence.get(1)
    assert (agent.state, agent.call_id) == (AgentState.WRAP_UP, "c2")


# An agent's own moves while a call rings for it


def test_an_offered_agent_can_neither_take_a_break_nor_go_available(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """Found: Break while ringing, then answering, lost the caller (409 on the answer)."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    [offer] = acd.dispatch("q")
    for pressed in (AgentState.BREAK, AgentState.AVAILABLE, AgentState.LOGGED_OUT):
        with pytest.raises(InvalidAgentState) as refused:
            presence.choose(1, pressed)
        assert refused.value.details["allowed"] == []
    assert acd.dispatch("q") == []  # no second offer for the same agent
    assert acd.current_offer("c1") == offer
    acd.accept("c1", 1)
    assert presence.get(1).state is AgentState.ON_CALL
    assert acd.figures("q").answered == 1


def test_a_miss_reported_twice_counts_once_and_an_expired_offer_of_an_agent_on_another_call(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """Found: the sweep crashed ("cannot go from on_call to available") on such an offer."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    acd.miss("c1", 1)
    with pytest.raises(NoSuchOffer):
        acd.miss("c1", 1)
    assert presence.get(1).missed_offers == 1
    [again] = acd.dispatch("q")
    # The agent's state is moved behind the ACD's back (a lost write): the offer is stale.
    presence.move(1, AgentState.ON_CALL, call_id="other")
    clock.advance(16)
    [expired] = acd.expire_offers()
    assert expired.call_id == again.call_id
    assert presence.get(1).state is AgentState.ON_CALL
    assert acd.position("c1", "q") == 1


def test_the_sweep_leaves_a_new_offer_of_a_call_whose_old_offer_it_found_due(
    acd: Acd, presence: Presence, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep lists the offers due, then reads each. The first agent's ring timing out
    between the two had the call offered to the next agent, and the sweep counted that new
    offer, its phone just ringing, as the next agent's miss."""
    _agents(presence, clock, 1, 2)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    clock.advance(16)
    listed = acd.client.zrangebyscore(OFFERS, "-inf", clock().timestamp())
    acd.miss("c1", 1)  # the channel's ring ran out first
    [offer] = acd.dispatch("q")
    assert offer.agent_id == 2
    monkeypatch.setattr(acd.client, "zrangebyscore", lambda *args, **kwargs: listed)
    assert acd.expire_offers() == []
    agent = presence.get(2)
    assert (agent.state, agent.call_id, agent.missed_offers) == (AgentState.OFFERED, "c1", 0)


def test_choosing_available_clears_the_missed_offers(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    for _ in range(2):
        [offer] = acd.dispatch("q")
        acd.miss(offer.call_id, 1)
    assert (presence.get(1).state, presence.get(1).missed_offers) == (AgentState.BREAK, 2)
    presence.choose(1, AgentState.AVAILABLE)
    assert presence.get(1).missed_offers == 0
    [offer] = acd.dispatch("q")
    acd.miss(offer.call_id, 1)
    assert presence.get(1).state is AgentState.AVAILABLE  # one miss since, not three


def test_an_agent_left_offered_without_an_offer_is_freed(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1)
    presence.move(1, AgentState.OFFERED, call_id="vanished")  # the offer's write was lost
    [freed] = acd.release_stray_agents()
    assert (freed.agent_id, freed.state) == (1, AgentState.AVAILABLE)


def test_concurrent_breaks_and_dispatches_never_strand_a_call(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """Agents press Break while the ACD offers them calls, from many threads at once."""
    _agents(presence, clock, *range(1, 9))
    for index in range(8):
        acd.enqueue(f"c{index}", "q")

    def press(agent_id: int) -> None:
        with contextlib.suppress(InvalidAgentState):
            presence.choose(agent_id, AgentState.BREAK)

    with ThreadPoolExecutor(max_workers=16) as pool:
        jobs = [pool.submit(press, i) for i in range(1, 9)]
        jobs += [pool.submit(acd.dispatch, "q") for _ in range(8)]
        for job in jobs:
            job.result()
    offered = {a.call_id: a.agent_id for a in presence.all() if a.state is AgentState.OFFERED}
    waiting = {f"c{i}" for i in range(8)} - set(offered)
    assert all(acd.current_offer(c).agent_id == a for c, a in offered.items())  # type: ignore[union-attr]
    assert all(acd.position(c, "q") is not None for c in waiting)
    assert all(a.state in {AgentState.OFFERED, AgentState.BREAK} for a in presence.all())


def test_logging_in_again_while_offered_is_refused_and_changes_nothing(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """Found by the state machine: a second login while ringing left a live offer for an
    agent shown available, who was then offered a second call."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    with pytest.raises(InvalidAgentState):
        presence.log_in(1, queues=["q", "other"], skills=["tv"])
    agent = presence.get(1)
    assert (agent.state, agent.call_id, agent.queues, agent.skills) == (
        AgentState.OFFERED,
        "c1",
        ["q"],
        [],
    )
    acd.enqueue("c2", "q")
    assert acd.dispatch("q") == []


def test_a_withdrawn_call_leaves_queue_and_offer_without_counting_as_abandoned(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    _agents(presence, clock, 1)
    acd.enqueue("offered", "q")
    acd.enqueue("waiting", "q")
    acd.dispatch("q")
    assert acd.withdraw("offered", reason="line died")
    assert acd.withdraw("waiting", reason="line died")
    assert presence.get(1).state is AgentState.AVAILABLE
    assert presence.get(1).reason == "line died"
    assert acd.dispatch("q") == [] and acd.current_offer("offered") is None
    assert (acd.figures("q").waiting, acd.figures("q").abandoned) == (0, 0)
    assert not acd.withdraw("offered", reason="again")


def test_a_call_that_ended_before_the_acd_had_it_is_never_queued_and_counts_once(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """The caller hangs up between the call log's "waiting" and the ACD's taking the call:
    the hang-up finds nothing to take out, and the queueing that follows must not ring the
    free agent for a caller who has gone. A call only taken out (not ended) may come back."""
    _agents(presence, clock, 1)
    assert not acd.abandon("gone")  # not waiting yet
    assert acd.enqueue("gone", "q") is None
    assert not acd.abandon("gone")  # the end learnt again (a provider's retry)
    assert acd.enqueue("gone", "q") is None
    assert not acd.withdraw("elsewhere", reason="the log shows it in the IVR")
    assert acd.enqueue("elsewhere", "q") is not None
    [offer] = acd.dispatch("q")
    assert offer.call_id == "elsewhere"
    assert (acd.figures("q").waiting, acd.figures("q").abandoned) == (0, 1)


def test_a_queues_day_of_figures_is_the_hotlines_day(
    bus: redis.Redis, presence: Presence, clock: Clock
) -> None:
    shanghai = Acd(bus, EventBus(bus), presence, clock=clock, zone=ZoneInfo("Asia/Shanghai"))
    clock.set(at(2026, 11, 22, 16, 30))  # 00:30 on the 23rd in Shanghai, still the 22nd in UTC
    shanghai.enqueue("early", "q")
    assert shanghai.abandon("early")
    clock.set(at(2026, 11, 23, 15, 59))  # 23:59 in Shanghai: the same day there
    assert shanghai.figures("q").abandoned == 1
    clock.set(at(2026, 11, 23, 16, 1))  # the next day in Shanghai
    assert shanghai.figures("q").abandoned == 0


def test_agents_available_before_the_index_existed_get_calls_once_it_is_built(
    bus: redis.Redis, acd: Acd, presence: Presence, clock: Clock
) -> None:
    """An upgrade: agents logged in under a release without the index of available agents
    (their records only) are found once a process starts and builds it."""
    _agents(presence, clock, 1, 2)
    bus.delete(AVAILABLE.format(queue="q"))
    acd.enqueue("c1", "q")
    assert acd.dispatch("q") == []
    presence.index_available()
    [offer] = acd.dispatch("q")
    assert offer.agent_id == 1


def test_an_indexed_agent_whose_record_moved_on_is_passed_over(
    bus: redis.Redis, acd: Acd, presence: Presence, clock: Clock
) -> None:
    """A stale entry (a move racing the index's rebuild) offers nothing to that agent."""
    _agents(presence, clock, 1, 2)
    presence.choose(1, AgentState.BREAK)
    bus.zadd(AVAILABLE.format(queue="q"), {"1": 0.0})
    acd.enqueue("c1", "q")
    [offer] = acd.dispatch("q")
    assert offer.agent_id == 2
    assert presence.get(1).state is AgentState.BREAK


def test_a_dispatch_waits_for_a_decision_that_holds_the_lock(
    bus: redis.Redis, acd: Acd, presence: Presence, clock: Clock
) -> None:
    """A decision of several steps (a miss, a hang-up) holds the ACD's lock: a dispatch
    meanwhile changes nothing until the lock is released, then offers."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    held = bus.lock(ACD_LOCK, timeout=10)
    assert held.acquire(blocking=False)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(acd.dispatch, "q")
        time.sleep(0.3)
        assert not waiting.done()
        assert presence.get(1).state is AgentState.AVAILABLE
        assert acd.position("c1", "q") == 1
        held.release()
        [offer] = waiting.result(timeout=5)
    assert offer.agent_id == 1
    assert acd.current_offer("c1") == offer


def test_many_dispatches_and_misses_at_once_offer_each_call_to_one_agent(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """Dispatches (lock-free scripts) and misses (under the lock) from many threads: no
    agent is offered two calls, no call two agents, and every call is somewhere."""
    _agents(presence, clock, *range(1, 7))
    calls = [f"c{index}" for index in range(12)]
    for call_id in calls:
        acd.enqueue(call_id, "q")

    def miss_whatever_rings() -> None:
        for agent in presence.all():
            if agent.state is AgentState.OFFERED and agent.call_id is not None:
                with contextlib.suppress(NoSuchOffer):
                    acd.miss(agent.call_id, agent.agent_id)

    with ThreadPoolExecutor(max_workers=12) as pool:
        jobs = [pool.submit(acd.dispatch, "q") for _ in range(12)]
        jobs += [pool.submit(miss_whatever_rings) for _ in range(6)]
        jobs += [pool.submit(acd.dispatch, "q") for _ in range(12)]
        for job in jobs:
            job.result()
    offered = [a for a in presence.all() if a.state is AgentState.OFFERED]
    assert len({a.call_id for a in offered}) == len(offered)
    for agent in offered:
        offer = acd.current_offer(agent.call_id or "")
        assert offer is not None and offer.agent_id == agent.agent_id
    ringing = {a.call_id for a in offered}
    assert all((acd.position(c, "q") is None) == (c in ringing) for c in calls)


def test_withdrawing_a_call_whose_agent_moved_on_leaves_the_agent_as_it_is(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """The offer's agent is no longer offered this call (a lost write): the call leaves
    the ACD, the agent is not touched."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    presence.move(1, AgentState.ON_CALL, call_id="other")
    assert acd.withdraw("c1", reason="caller left", count="abandoned")
    assert presence.get(1).state is AgentState.ON_CALL
    assert acd.current_offer("c1") is None
    assert acd.position("c1", "q") is None
    assert acd.figures("q").abandoned == 1
    assert not acd.withdraw("c1", reason="caller left", count="abandoned")


# The count of presence changes, which orders an agent's states wherever they are shown


def test_each_move_s_event_carries_the_agent_s_number_in_the_count_of_changes(
    acd: Acd, presence: Presence, bus: redis.Redis, clock: Clock
) -> None:
    """Consoles show the newest state they hear of, as events or as replies: the event of
    each move, by presence or by the ACD's scripts, carries the number the agent's record
    has, and the numbers follow the moves' order."""
    _agents(presence, clock, 1)
    numbers = [presence.get(1).changes]
    acd.enqueue("c1", "q")
    acd.dispatch("q")  # the dispatch script
    numbers.append(presence.get(1).changes)
    acd.withdraw("c1", reason="caller left")  # the withdrawal script
    numbers.append(presence.get(1).changes)
    presence.choose(1, AgentState.BREAK)
    numbers.append(presence.get(1).changes)
    events = [e.data for e in EventBus(bus).read_after("0") if e.name == "agent.state_changed"]
    assert [(e["state"], e["changes"]) for e in events] == list(
        zip(["available", "offered", "available", "break"], numbers, strict=True)
    )
    assert numbers == sorted(set(numbers))


@pytest.mark.parametrize("count", ["lost", "older"])
@pytest.mark.parametrize("mover", ["presence", "acd_script"])
def test_a_count_of_changes_lost_or_set_back_with_redis_s_data_goes_on_above_the_old_numbers(
    acd: Acd, presence: Presence, bus: redis.Redis, clock: Clock, mover: str, count: str
) -> None:
    """Redis restarted without its data, or with older data (a snapshot, a replica behind):
    a console still holds the numbers of the moves it showed. Counted on from below them,
    every new move would look older to it, and the agent's screen would stop following
    their state."""
    _agents(presence, clock, 1)
    shown = presence.get(1).changes
    if count == "lost":
        bus.delete(PRESENCE_CHANGES)
    else:
        bus.set(PRESENCE_CHANGES, shown - 200)
    clock.advance(1)
    if mover == "presence":
        presence.choose(1, AgentState.BREAK)
    else:
        acd.enqueue("c1", "q")
        acd.dispatch("q")
    assert presence.get(1).changes > shown


def _lose_the_record(acd: Acd, call_id: str) -> None:
    """Redis loses the call's queued record and keeps the rest (a failover to a replica
    that was behind, a key evicted): the call's offer still rings its agent."""
    acd.client.delete(QUEUED_CALL.format(call_id=call_id))


def test_an_offer_whose_call_redis_lost_frees_its_agent_when_it_rings_out(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """The offer's expiry missed it (no queued record to put back in the queue) and left
    it, and its agent rang for the lost call until they logged out: offered nothing else,
    the offers' index holding the call for every sweep after."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    _lose_the_record(acd, "c1")
    clock.advance(16)

    [expired] = acd.expire_offers()

    assert expired.call_id == "c1"
    agent = presence.get(1)
    assert (agent.state, agent.call_id, agent.missed_offers) == (AgentState.AVAILABLE, None, 1)
    assert acd.client.zrange(OFFERS, 0, -1) == []
    # The lost-call sweep queues the caller again; the agent is offered the call.
    acd.enqueue("c1", "q", priority=0, lost=True)
    assert [(o.call_id, o.agent_id) for o in acd.dispatch("q")] == [("c1", 1)]


def test_a_caller_leaving_as_an_offer_of_their_lost_call_rings_frees_the_agent(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """The caller hangs up while the agent's phone rings for them, the ACD having lost
    the call's record: the withdrawal found no call queued and left the offer, its agent
    ringing for nobody."""
    _agents(presence, clock, 1, 2)
    acd.enqueue("c1", "q")
    acd.enqueue("c2", "q")
    assert [o.agent_id for o in acd.dispatch("q")] == [1, 2]
    _lose_the_record(acd, "c1")

    assert acd.abandon("c1")  # ringing an agent

    assert presence.get(1).state is AgentState.AVAILABLE
    # What the agent's console and the wall hear of it:
    [freed] = [
        e.data
        for e in EventBus(acd.client).read_after("0", count=1000)
        if e.name == "agent.state_changed" and e.data["agent_id"] == 1
    ][-1:]
    assert (freed["state"], freed["call_id"]) == (AgentState.AVAILABLE.value, None)
    assert presence.get(2).state is AgentState.OFFERED  # another call's offer stays
    assert acd.current_offer("c1") is None
    assert acd.client.zrange(OFFERS, 0, -1) == ["c2"]
    # Counted once, in the offer's queue: not again when the call comes back.
    assert acd.figures("q").abandoned == 1
    assert acd.enqueue("c1", "q", lost=True) is None
    assert not acd.abandon("c1")
    assert acd.figures("q").abandoned == 1


def test_a_consultation_ringing_is_no_queued_call_to_miss_or_withdraw(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """A consultation's offer has no queued record (its call was answered): taken for a
    call whose record Redis lost, its ring running out freed the colleague behind the
    consultation's back, and the call's end dropped it before the consultation's end."""
    _agents(presence, clock, 1, 2)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    acd.accept("c1", 1)
    acd.consult_offer("c1", "q", 2)

    with pytest.raises(NoSuchOffer):
        acd.miss("c1", 2)
    assert not acd.withdraw("c1", reason="call completed", ended=True)

    assert presence.get(2).state is AgentState.OFFERED
    assert acd.current_offer("c1") is not None


def test_the_overflow_passes_over_a_waiting_call_redis_lost_the_record_of(
    acd: Acd, clock: Clock
) -> None:
    """A waiting call without its record stopped the queue's overflow with an error:
    every caller past the longest wait stayed, on every sweep."""
    acd.configure(QueueConfig(name="q", max_wait_seconds=60))
    acd.enqueue("a", "q")
    acd.enqueue("b", "q")
    _lose_the_record(acd, "a")
    clock.advance(65)

    assert [c.call_id for c in acd.overflow("q")] == ["b"]


def test_an_agent_answering_a_call_redis_lost_the_record_of_gets_the_caller(
    acd: Acd, presence: Presence, clock: Clock
) -> None:
    """The answer was refused (no queued record), the agent's leg hung up on the caller,
    and the ring then ran out as the agent's miss: two such answers sent them on a break."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    acd.dispatch("q")
    _lose_the_record(acd, "c1")

    acd.accept("c1", 1)

    agent = presence.get(1)
    assert (agent.state, agent.call_id, agent.missed_offers) == (AgentState.ON_CALL, "c1", 0)
    assert acd.current_offer("c1") is None
    assert acd.figures("q").answered == 1


def test_an_agents_release_from_a_missed_offer_is_announced_once_the_offer_is_over(
    bus: redis.Redis, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Twilio ringer, told that an agent left an offer, stops the phone legs of offers
    that are over. The ACD announced the release before it dropped the offer: a ringer that
    read the offer at once found it live and left the phone ringing until the offer sweep's
    next pass. Each announcement is read here at the moment it is published, on the real
    bus: declined, then rung out, the offer is over and the call waits again by then."""
    events = EventBus(bus)
    presence = Presence(bus, events, clock=clock)
    acd = Acd(bus, events, presence, clock=clock)
    publish = events.publish
    announced: list[tuple[AgentState, bool, int | None]] = []

    def read_as_published(event: Any) -> str:
        if getattr(event, "left_call_id", None) == "c1":
            live = acd.current_offer("c1") is not None
            announced.append((event.state, live, acd.position("c1", "q")))
        return publish(event)

    monkeypatch.setattr(events, "publish", read_as_published)
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    [offer] = acd.dispatch("q")
    acd.miss(offer.call_id, 1, declined=True)
    [offer] = acd.dispatch("q")
    clock.advance(offer.expires_at.timestamp() - clock().timestamp() + 1)
    [expired] = acd.expire_offers()
    assert expired.call_id == "c1"
    assert announced == [(AgentState.AVAILABLE, False, 1), (AgentState.BREAK, False, 1)]


def test_redis_failing_as_a_missed_offers_agent_is_released_leaves_them_to_the_sweep(
    acd: Acd, presence: Presence, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offer is dropped and its call waits again before the agent's release from it is
    written. Redis failing between the two left the agent offered a call that rings
    nobody: the sweep's stray-agent pass frees them, and the call is offered again."""
    _agents(presence, clock, 1)
    acd.enqueue("c1", "q")
    [offer] = acd.dispatch("q")

    def move_fails(*args: Any, **kwargs: Any) -> Agent:
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(presence, "move", move_fails)
    with pytest.raises(redis.ConnectionError):
        acd.miss(offer.call_id, 1, declined=True)
    monkeypatch.undo()
    assert (acd.current_offer("c1"), acd.position("c1", "q")) == (None, 1)
    assert presence.get(1).state is AgentState.OFFERED

    [freed] = acd.release_stray_agents()
    assert (freed.agent_id, freed.state) == (1, AgentState.AVAILABLE)
    assert [o.agent_id for o in acd.dispatch("q")] == [1]
