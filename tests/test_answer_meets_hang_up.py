"""An agent answering and the caller hanging up at the same moment, on a database whose
sessions meet as the served app's do (each step in its own session and thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import redis
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from callcenter.settings import Settings
from callcenter.wiring import build_switchboard
from core.bus import BusUnavailable, EventBus, bus_unavailable
from core.db import ServiceSession, make_engine, writer
from ivr import BUILTIN_FLOWS, CallerInput, load_flows, store
from orders import SYSTEM
from orders.enums import Role
from orders.schemas import UserCreate
from orders.services import users
from telephony import calls, routing, services
from telephony.acd import Acd
from telephony.enums import CallChannel, CallState, Disposition, ProviderStatus
from telephony.exceptions import NoSuchOffer, TransferInvalid
from telephony.models import Call
from telephony.presence import AgentState
from telephony.switchboard import Switchboard
from tests.conftest import TestClock, hotline_switchboard
from tests.outbound_data import survey_due

QUEUE = "hotline-zh-CN"
CALLER_SID = "CA" + "c" * 32


@pytest.fixture
def sessions(fresh_database: str) -> Iterator[Callable[[], Session]]:
    engine = make_engine(fresh_database)
    writes = writer(engine)
    yield lambda: ServiceSession(writes, expire_on_commit=False)
    engine.dispose()


def _finished(board: Switchboard, call_id: str, clock: TestClock) -> Callable[[Session], object]:
    """The caller hangs up, as the call's endpoint or the console tells it."""
    return lambda s: calls.finish(s, board, call_id=call_id, clock=clock)


def _twilio_says(status: ProviderStatus) -> Callable[..., Callable[[Session], object]]:
    """Twilio's status callback tells the call's ``status``."""

    def step(board: Switchboard, _call_id: str, clock: TestClock) -> Callable[[Session], object]:
        return lambda s: calls.provider_status(
            s, board, provider_id=CALLER_SID, status=status, sequence_number=None, clock=clock
        )

    return step


_completed = _twilio_says(ProviderStatus.COMPLETED)
"""The caller hangs up, as Twilio's status callback tells it."""
_in_progress = _twilio_says(ProviderStatus.IN_PROGRESS)


@pytest.mark.parametrize("hang_up", [_finished, _completed])
def test_a_caller_hanging_up_as_the_agent_answers_leaves_the_agent_in_wrap_up(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
    hang_up: Callable[[Switchboard, str, TestClock], Callable[[Session], object]],
) -> None:
    """The hang-up comes while the ACD hands the call to the agent who picked up. Before
    the call was held through the hand-over, the hang-up ended it as abandoned in between,
    the answer then failed on the ended call, and the agent stayed "on call" for a call
    that no longer existed, offered nothing ever again."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)

    failures = _meet(
        sessions,
        first=lambda s: calls.agent_answered(
            s, board, call_id=call_id, agent_id=agent_id, clock=clock
        ),
        pausing_after=_pause_after(board.acd, "accept", monkeypatch),
        second=hang_up(board, call_id, clock),
    )

    assert failures == []
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None
        assert (ended.state, ended.disposition) == (CallState.ENDED, Disposition.COMPLETED)
        assert ended.agent_id == agent_id and ended.bridged_at is not None
    assert board.acd.presence.get(agent_id).state is AgentState.WRAP_UP


def test_an_answer_after_the_hang_up_takes_no_agent(
    sessions: Callable[[], Session], bus: redis.Redis, clock: TestClock
) -> None:
    """The other order: the caller is gone when the agent's pick-up arrives. The answer is
    refused as an offer no longer there (Twilio's leg hears that the caller left), and the
    agent is free for the next call."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        calls.finish(session, board, call_id=call_id, clock=clock)
    with sessions() as session, pytest.raises(NoSuchOffer):
        calls.agent_answered(session, board, call_id=call_id, agent_id=agent_id, clock=clock)
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None
        assert (ended.disposition, ended.bridged_at) == (Disposition.ABANDONED, None)
    assert board.acd.presence.get(agent_id).state is AgentState.AVAILABLE


@pytest.mark.parametrize("again", [_finished, _completed])
@pytest.mark.parametrize("hang_up", [_finished, _completed])
def test_a_call_ended_twice_sends_its_agent_to_wrap_up_once(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    hang_up: Callable[[Switchboard, str, TestClock], Callable[[Session], object]],
    again: Callable[[Switchboard, str, TestClock], Callable[[Session], object]],
) -> None:
    """Two steps learn of the same hang-up: Twilio's status callback and the call's own end
    (the demo's Ctrl-C ending its calls, as a caller's "completed" was on its way; or
    Twilio sending the callback again). The second found the agent already in wrap-up,
    tried to send them there again and failed with 409: the demo stopped with "agent 18
    cannot go from wrap_up to wrap_up", and Twilio retried the callback in vain."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        calls.agent_answered(session, board, call_id=call_id, agent_id=agent_id, clock=clock)

    with sessions() as session:
        hang_up(board, call_id, clock)(session)
    with sessions() as session:
        again(board, call_id, clock)(session)

    assert board.acd.presence.get(agent_id).state is AgentState.WRAP_UP
    wrap_ups = [
        e for e in _events(bus, "agent.state_changed") if e["state"] == AgentState.WRAP_UP.value
    ]
    assert len(wrap_ups) == 1


@pytest.mark.parametrize("late", [_finished, _completed])
def test_a_late_word_of_an_earlier_hang_up_leaves_the_agent_on_their_next_call(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    late: Callable[[Switchboard, str, TestClock], Callable[[Session], object]],
) -> None:
    """The agent has wrapped up and is talking to the next caller when word of the first
    call's end comes again (Twilio retrying its callback). It must not send them to
    wrap-up in the middle of that conversation, where no call would be offered to them and
    the wall would show them idle while they talk."""
    board = hotline_switchboard(bus, clock)
    agent_id, first = _offered(sessions, board, clock)
    with sessions() as session:
        calls.agent_answered(session, board, call_id=first, agent_id=agent_id, clock=clock)
        calls.finish(session, board, call_id=first, clock=clock)
    board.acd.presence.choose(agent_id, AgentState.AVAILABLE)
    with sessions() as session:
        second = _arrived(session, board, clock, provider_id="CA" + "d" * 32)
        [offer] = calls.enqueue(session, board, call=second, queue=QUEUE, clock=clock)
        assert offer.agent_id == agent_id
        calls.agent_answered(session, board, call_id=second.id, agent_id=agent_id, clock=clock)

    with sessions() as session:
        late(board, first, clock)(session)

    agent = board.acd.presence.get(agent_id)
    assert (agent.state, agent.call_id) == (AgentState.ON_CALL, second.id)


def test_a_call_offered_by_another_request_as_it_joins_the_queue_is_offered(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A caller joins the queue while no agent is free, and in that moment an agent becomes
    free and the worker's sweep dispatches the queue, in a session of its own. The sweep's
    offer must find the call queued. When the queued state was committed only with the
    offers of the caller's own request, the sweep found the call still ringing (PostgreSQL
    does not wait for a row lock when the committed row does not match the update) and
    failed with 409 invalid_call_transition: 2 of 1,200 new calls at 60 calls/s."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        agent_id = _agent(session, "agent", clock)
        call_id = _arrived(session, board, clock).id

    failures = _meet(
        sessions,
        first=_joins_the_queue(board, call_id, clock),
        pausing_after=_pause_after(board.acd, "enqueue", monkeypatch),
        second=_frees_up(board, agent_id),
    )

    assert failures == []
    with sessions() as session:
        offered = session.get(Call, call_id)
        assert offered is not None
        assert (offered.state, offered.agent_id) == (CallState.OFFERED, agent_id)
    agent = board.acd.presence.get(agent_id)
    assert (agent.state, agent.call_id) == (AgentState.OFFERED, call_id)


@pytest.mark.parametrize("missed", ["declined", "rang_out"])
def test_a_missed_call_offered_by_another_request_on_its_way_back_is_offered(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
    missed: str,
) -> None:
    """An agent declines, or lets the call ring out (the worker's sweep); as the call goes
    back to the front of the queue, another agent frees up and the sweep offers it, in a
    session of its own. The log must follow the ACD: offered to whoever it rings for. The
    sweep's conditional update looked for a queued call only, found it still offered to the
    first agent ("queued" was not written yet) and failed with 409; and the miss, going on,
    wrote "queued" over an offer made meanwhile, so the answer to it would find a call
    never offered."""
    board = hotline_switchboard(bus, clock)
    first_agent, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        second_agent = _agent(session, "second", clock)

    def ring_out(session: Session) -> object:
        clock.advance(board.acd.config(QUEUE).offer_timeout_seconds + 1)
        return routing.expire_offers(session, acd=board.acd)

    failures = _meet(
        sessions,
        first=_declines(board, call_id, first_agent) if missed == "declined" else ring_out,
        pausing_after=_pause_after(
            board.acd, "miss" if missed == "declined" else "expire_offers", monkeypatch
        ),
        second=_frees_up(board, second_agent),
    )

    assert failures == []
    offer = board.acd.current_offer(call_id)
    assert offer is not None
    assert _logged(sessions, call_id) == (CallState.OFFERED, offer.agent_id)
    ringing = board.acd.presence.get(offer.agent_id)
    assert (ringing.state, ringing.call_id) == (AgentState.OFFERED, call_id)


def test_a_late_record_of_an_offer_already_missed_leaves_the_next_offer_logged(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A caller joins the queue and the ACD rings the first agent; before that request
    writes the offer down, the agent declines, and the decline rings the second agent and
    writes that down. The first request's late record wrote the first agent over the
    second: the log then named an agent the call no longer rang for, and the second agent's
    answer would be checked against it."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        first_agent = _agent(session, "agent", clock)
        second_agent = _agent(session, "second", clock)
        call_id = _arrived(session, board, clock).id
    _log_in_in_turn(board, clock, first_agent, second_agent)

    failures = _meet(
        sessions,
        first=_joins_the_queue(board, call_id, clock),
        pausing_after=_pause_after(board.acd, "dispatch", monkeypatch),
        second=_declines(board, call_id, first_agent),
    )

    assert failures == []
    offer = board.acd.current_offer(call_id)
    assert offer is not None and offer.agent_id == second_agent
    assert _logged(sessions, call_id) == (CallState.OFFERED, second_agent)
    ringing = board.acd.presence.get(second_agent)
    assert (ringing.state, ringing.call_id) == (AgentState.OFFERED, call_id)


def test_a_call_offered_by_the_sweep_while_a_decline_holds_it_is_logged_as_ringing(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first agent declines; the decline holds the call and finds the ACD ringing
    nobody. Meanwhile a second agent frees up and the sweep offers them the call. When the
    offer was written with two conditional updates, the one for an offered call waited for
    the decline, which wrote the call back as queued, then matched nothing: the log said
    queued while the ACD rang the second agent, and their answer failed (queued to bridged)
    with the agent left on a call."""
    board = hotline_switchboard(bus, clock)
    first_agent, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        second_agent = _agent(session, "second", clock)
    board.acd.presence.log_in(second_agent, queues=[QUEUE], skills=[])

    failures = _meet(
        sessions,
        first=_declines(board, call_id, first_agent),
        pausing_after=_pause_after(board.acd, "current_offer", monkeypatch),
        second=lambda session: routing.offer_waiting_calls(session, acd=board.acd),
    )

    assert failures == []
    offer = board.acd.current_offer(call_id)
    assert offer is not None
    assert _logged(sessions, call_id) == (CallState.OFFERED, offer.agent_id)
    with sessions() as session:
        calls.agent_answered(session, board, call_id=call_id, agent_id=offer.agent_id, clock=clock)
    talking = board.acd.presence.get(offer.agent_id)
    assert (talking.state, talking.call_id) == (AgentState.ON_CALL, call_id)


def test_a_late_record_of_an_offer_whose_agent_left_leaves_the_call_waiting(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ACD rings the only agent; before the request writes the offer down, the agent
    leaves (logged out, deactivated), and nobody else can take the call. The leave found
    the call still queued in the log and wrote nothing; the late record then wrote it
    offered to the agent who had left, while the ACD had it waiting."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _caller_and_a_free_agent(sessions, board, clock)

    failures = _meet(
        sessions,
        first=_joins_the_queue(board, call_id, clock),
        pausing_after=_pause_after(board.acd, "dispatch", monkeypatch),
        second=_leaves(board, call_id, agent_id),
    )

    assert failures == []
    assert board.acd.current_offer(call_id) is None
    assert _logged(sessions, call_id) == (CallState.QUEUED, None)


def test_an_offer_being_written_as_its_agent_leaves_is_followed_by_the_next_offer(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep writes down an offer to the second agent (the first has just missed the
    call); it has asked the ACD, which still rings that agent. Then the second agent
    leaves, and their leave rings a third agent and writes that down. When the record did
    not hold the call while it asked the ACD, it went on to write the second agent over
    the third."""
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    first_agent, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        second_agent = _agent(session, "second", clock)
        third_agent = _agent(session, "third", clock)
    acd.presence.log_in(second_agent, queues=[QUEUE], skills=[])
    acd.miss(call_id, first_agent, leaving=True)  # the miss's own record comes later
    offers = acd.dispatch(QUEUE)
    assert [offer.agent_id for offer in offers] == [second_agent]
    acd.presence.log_in(third_agent, queues=[QUEUE], skills=[])

    failures = _meet(
        sessions,
        first=lambda session: routing.record_offers(session, acd, offers),
        pausing_after=_pause_after(acd, "current_offer", monkeypatch),
        second=_leaves(board, call_id, second_agent),
    )

    assert failures == []
    offer = acd.current_offer(call_id)
    assert offer is not None and offer.agent_id == third_agent
    assert _logged(sessions, call_id) == (CallState.OFFERED, third_agent)


def test_offers_of_two_calls_written_by_two_requests_do_not_wait_on_each_other(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep offers two waiting callers, A and B, to two agents, and writes A's offer
    down. Both agents decline at once; B's decline holds B, and its dispatch offers both
    calls to two other agents and goes to write them down. When a request held every call
    it had written until its end, the sweep waited for B, B's decline waited for A, and
    PostgreSQL broke the deadlock by failing one of them: a call the ACD rang for one agent
    stayed logged for another."""
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    with sessions() as session:
        first, second, third, fourth = (
            _agent(session, name, clock) for name in ("first", "second", "third", "fourth")
        )
    call_a, call_b = _two_callers_waiting(sessions, board, clock)
    _log_in_in_turn(board, clock, first, second)

    def both_decline(session: Session) -> object:
        rang = {call_id: acd.current_offer(call_id) for call_id in (call_a, call_b)}
        assert {o.agent_id for o in rang.values() if o is not None} == {first, second}
        acd.presence.log_in(third, queues=[QUEUE], skills=[])
        acd.presence.log_in(fourth, queues=[QUEUE], skills=[])
        declined_a, declined_b = rang[call_a], rang[call_b]
        assert declined_a is not None and declined_b is not None
        acd.miss(call_a, declined_a.agent_id, declined=True)  # its log's part comes later
        return _declines(board, call_b, declined_b.agent_id)(session)

    failures = _meet(
        sessions,
        first=lambda session: routing.offer_waiting_calls(session, acd=acd),
        pausing_after=_pause_after(acd, "current_offer", monkeypatch),
        second=both_decline,
    )

    assert failures == []
    for call_id in (call_a, call_b):
        offer = acd.current_offer(call_id)
        assert offer is not None and offer.agent_id in (third, fourth)
        assert _logged(sessions, call_id) == (CallState.OFFERED, offer.agent_id)


def test_a_late_record_of_an_offer_of_a_call_answered_since_leaves_the_others_written(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep offers callers A and B to two agents. Before it writes them down, A's
    agent declines, A rings a third agent, who answers. The sweep's record of A's old
    offer found A bridged and failed with 409, and took B's offer down with it: B was
    left logged as queued while the ACD rang its agent."""
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    with sessions() as session:
        first, second, third = (
            _agent(session, name, clock) for name in ("first", "second", "third")
        )
    call_a, call_b = _two_callers_waiting(sessions, board, clock)
    _log_in_in_turn(board, clock, first, second)

    def answered_elsewhere(session: Session) -> object:
        declined = acd.current_offer(call_a)
        assert declined is not None
        acd.presence.log_in(third, queues=[QUEUE], skills=[])
        [offer] = calls.agent_missed(
            session, board, call_id=call_a, agent_id=declined.agent_id, declined=True
        )
        assert offer.agent_id == third
        return calls.agent_answered(session, board, call_id=call_a, agent_id=third, clock=clock)

    failures = _meet(
        sessions,
        first=lambda session: routing.offer_waiting_calls(session, acd=acd),
        pausing_after=_pause_after(acd, "dispatch", monkeypatch),
        second=answered_elsewhere,
    )

    assert failures == []
    assert _logged(sessions, call_a) == (CallState.BRIDGED, third)
    offer_b = acd.current_offer(call_b)
    assert offer_b is not None
    assert _logged(sessions, call_b) == (CallState.OFFERED, offer_b.agent_id)


def test_an_answer_to_an_offer_not_yet_written_down_bridges_the_call(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ACD rings the agent, and the agent answers before the request that made the
    offer has written it down (an auto-answering phone, a request held up under load).
    The answer failed (queued to bridged) after the ACD had already handed the call over:
    the agent was left on a call the log showed waiting, and nobody else was offered it."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _caller_and_a_free_agent(sessions, board, clock)

    def answer(session: Session) -> object:
        return calls.agent_answered(session, board, call_id=call_id, agent_id=agent_id, clock=clock)

    failures = _meet(
        sessions,
        first=_joins_the_queue(board, call_id, clock),
        pausing_after=_pause_after(board.acd, "dispatch", monkeypatch),
        second=answer,
    )

    assert failures == []
    assert _logged(sessions, call_id) == (CallState.BRIDGED, agent_id)
    talking = board.acd.presence.get(agent_id)
    assert (talking.state, talking.call_id) == (AgentState.ON_CALL, call_id)


def test_an_offer_of_a_call_the_log_shows_elsewhere_is_withdrawn_and_the_others_written(
    sessions: Callable[[], Session], bus: redis.Redis, clock: TestClock
) -> None:
    """The call log and the ACD disagree: the log shows caller A back in the IVR while the
    ACD still has A waiting (a log restored from a backup, a hand edit, a fault not yet
    known). The sweep offered A and B; A's record failed with 409 (in_ivr to offered) and
    took B's down with it: B's agent rang for a call logged as waiting, and A's agent rang
    for a caller who was not in the queue, until the offer timed out and went round the
    floor again."""
    board = hotline_switchboard(bus, clock)
    acd = board.acd
    with sessions() as session:
        first, second = (_agent(session, name, clock) for name in ("first", "second"))
    call_a, call_b = _two_callers_waiting(sessions, board, clock)
    with sessions() as session:
        drifted = session.get(Call, call_a)
        assert drifted is not None
        drifted.state = CallState.IN_IVR
        session.add(drifted)
        session.commit()
    _log_in_in_turn(board, clock, first, second)

    with sessions() as session:
        offers = routing.offer_waiting_calls(session, acd=acd)

    assert [o.call_id for o in offers] == [call_b]
    offer_b = acd.current_offer(call_b)
    assert offer_b is not None
    assert _logged(sessions, call_b) == (CallState.OFFERED, offer_b.agent_id)
    assert _logged(sessions, call_a) == (CallState.IN_IVR, None)
    assert acd.current_offer(call_a) is None
    assert acd.position(call_a, QUEUE) is None
    rung_for_a = acd.presence.get(first if offer_b.agent_id == second else second)
    assert (rung_for_a.state, rung_for_a.call_id) == (AgentState.AVAILABLE, None)


def _two_callers_waiting(
    sessions: Callable[[], Session], board: Switchboard, clock: TestClock
) -> tuple[str, str]:
    """Two callers in the agents' queue, A ahead of B, with nobody logged in yet."""
    waiting = []
    for sid in ("CA" + "a" * 32, "CA" + "b" * 32):
        with sessions() as session:
            call_id = _arrived(session, board, clock, provider_id=sid).id
            _joins_the_queue(board, call_id, clock)(session)
        waiting.append(call_id)
    return waiting[0], waiting[1]


def _log_in_in_turn(board: Switchboard, clock: TestClock, *agents: int) -> None:
    """The agents log in one after another: the first has waited longest, and is offered
    the first call."""
    for agent_id in agents:
        board.acd.presence.log_in(agent_id, queues=[QUEUE], skills=[])
        clock.advance(1)


def _joins_the_queue(
    board: Switchboard, call_id: str, clock: TestClock
) -> Callable[[Session], object]:
    """The caller joins the agents' queue (the IVR's last step)."""

    def join(session: Session) -> object:
        call = services.get_call(session, call_id=call_id)
        return calls.enqueue(session, board, call=call, queue=QUEUE, clock=clock)

    return join


def _declines(board: Switchboard, call_id: str, agent_id: int) -> Callable[[Session], object]:
    """The agent declines the call in the console."""
    return lambda s: calls.agent_missed(s, board, call_id=call_id, agent_id=agent_id, declined=True)


def _leaves(board: Switchboard, call_id: str, agent_id: int) -> Callable[[Session], object]:
    """The agent ringing for the call leaves (logged out, deactivated): nobody is rung in
    their place unless another agent is free."""
    return lambda s: routing.agent_missed(
        s, acd=board.acd, call_id=call_id, agent_id=agent_id, leaving=True
    )


def _logged(sessions: Callable[[], Session], call_id: str) -> tuple[CallState, int | None]:
    """The call's state and agent as the call log shows them."""
    with sessions() as session:
        logged = session.get(Call, call_id)
        assert logged is not None
        return logged.state, logged.agent_id


def _abandoned_with_agent_free(
    sessions: Callable[[], Session], board: Switchboard, call_id: str, agent_id: int
) -> None:
    """The call is logged as given up, rings nobody, and the agent is free."""
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None
        assert (ended.state, ended.disposition) == (CallState.ENDED, Disposition.ABANDONED)
    assert board.acd.current_offer(call_id) is None
    assert board.acd.presence.get(agent_id).state is AgentState.AVAILABLE


def _caller_and_a_free_agent(
    sessions: Callable[[], Session], board: Switchboard, clock: TestClock
) -> tuple[int, str]:
    """A caller in the IVR, and an agent logged in and free: (agent, call)."""
    with sessions() as session:
        agent_id = _agent(session, "agent", clock)
        call_id = _arrived(session, board, clock).id
    board.acd.presence.log_in(agent_id, queues=[QUEUE], skills=[])
    return agent_id, call_id


def _frees_up(board: Switchboard, agent_id: int) -> Callable[[Session], object]:
    """The agent becomes available, and the worker's sweep offers them what waits."""

    def sweep(session: Session) -> object:
        board.acd.presence.log_in(agent_id, queues=[QUEUE], skills=[])
        return routing.offer_waiting_calls(session, acd=board.acd)

    return sweep


def _offered(
    sessions: Callable[[], Session], board: Switchboard, clock: TestClock
) -> tuple[int, str]:
    """An agent logged in, and a caller waiting who is offered to them: (agent, call)."""
    with sessions() as session:
        agent_id = _agent(session, "agent", clock)
        board.acd.presence.log_in(agent_id, queues=[QUEUE], skills=[])
        call = _arrived(session, board, clock)
        [offer] = calls.enqueue(session, board, call=call, queue=QUEUE, clock=clock)
        assert offer.agent_id == agent_id
        return agent_id, call.id


@pytest.mark.parametrize("to_agent", [False, True], ids=["to_the_queue", "to_an_agent"])
@pytest.mark.parametrize(
    "pausing", ["held", "committed"], ids=["while_it_holds_the_call", "before_the_acd_has_it"]
)
def test_a_caller_hanging_up_as_the_agent_transfers_the_call_ends_it_for_good(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
    pausing: str,
    to_agent: bool,
) -> None:
    """The hang-up comes while a blind transfer is under way: the call not yet written as
    waiting (the transfer holds it), or written but not yet in the ACD's queue. Before the
    transfer held the call, it wrote the ended call back into the queue, and the hang-up
    failed releasing the first agent a second time. Later the hang-up could still come
    between the write and the ACD: it found nothing to take out of the ACD, which then
    queued the ended call and rang the next agent for a caller who had gone (seen in CI on
    PostgreSQL)."""
    board = hotline_switchboard(bus, clock)
    first, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        calls.agent_answered(session, board, call_id=call_id, agent_id=first, clock=clock)
        second = _agent(session, "second", clock)
    board.acd.presence.log_in(second, queues=[QUEUE], skills=[])
    target = {"agent_id": second} if to_agent else {"queue": QUEUE}

    failures = _meet(
        sessions,
        first=lambda s: calls.transfer(s, board, call_id=call_id, clock=clock, **target),
        pausing_after=(
            _pause_after(services.Bridged, "of", monkeypatch)
            if pausing == "held"
            else _pause_after(services, "enqueue_call", monkeypatch)
        ),
        second=_finished(board, call_id, clock),
    )

    assert failures == []
    assert _logged(sessions, call_id)[0] is CallState.ENDED
    assert board.acd.current_offer(call_id) is None
    assert board.acd.position(call_id, QUEUE) is None
    assert board.acd.presence.get(second).state is AgentState.AVAILABLE
    assert board.acd.presence.get(first).state is AgentState.WRAP_UP


def test_a_caller_hanging_up_as_they_join_the_queue_rings_nobody(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caller asks for an agent and hangs up after the call is written as waiting, but
    before the ACD has it. The hang-up found nothing to take out of the ACD, which then
    queued the caller who had gone and rang the free agent for them; the agent, rung for
    nobody, was counted as missing the call when the ring ran out."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _caller_and_a_free_agent(sessions, board, clock)

    failures = _meet(
        sessions,
        first=_joins_the_queue(board, call_id, clock),
        pausing_after=_pause_after(services, "enqueue_call", monkeypatch),
        second=_finished(board, call_id, clock),
    )

    assert failures == []
    _abandoned_with_agent_free(sessions, board, call_id, agent_id)
    figures = board.acd.figures(QUEUE)
    assert (figures.waiting, figures.abandoned) == (0, 1)


@pytest.mark.parametrize(
    ("disposition", "abandoned"),
    [(Disposition.COMPLETED, 1), (Disposition.FAILED, 0)],
    ids=["hung_up", "line_failed"],
)
def test_a_caller_whose_hang_up_missed_the_acd_is_taken_out_when_offered(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    disposition: Disposition,
    abandoned: int,
) -> None:
    """The caller hangs up while waiting: the call log says so, but the hang-up's own step
    in the ACD has not run (Redis failed it, or it is still on its way). The next agent to
    come free was rung for the caller who had gone until the ring ran out, and counted as
    missing the call. A line that failed is taken out without counting as abandoned, as
    its own step would."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        agent_id = _agent(session, "agent", clock)
        call = _arrived(session, board, clock)
        assert calls.enqueue(session, board, call=call, queue=QUEUE, clock=clock) == []
    with sessions() as session:  # the hang-up, as far as the call log
        services.end_call(
            session,
            notifier=board.notifier,
            call_id=call.id,
            disposition=disposition,
            clock=clock,
        )

    with sessions() as session:
        assert _frees_up(board, agent_id)(session) == []

    assert board.acd.current_offer(call.id) is None
    assert board.acd.presence.get(agent_id).state is AgentState.AVAILABLE
    figures = board.acd.figures(QUEUE)
    assert (figures.waiting, figures.abandoned) == (0, abandoned)


def test_an_ended_call_redis_fails_to_take_out_leaves_the_next_offers_written(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As above, with Redis failing the ended call's withdrawal: the other caller offered
    in the same batch is still written as ringing their agent, not left unwritten with the
    whole request failed."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        first, second = _agent(session, "first", clock), _agent(session, "second", clock)
        gone = _arrived(session, board, clock)
        calls.enqueue(session, board, call=gone, queue=QUEUE, clock=clock)
        waiting = _arrived(session, board, clock, provider_id="CA" + "d" * 32)
        calls.enqueue(session, board, call=waiting, queue=QUEUE, clock=clock)
    with sessions() as session:  # the hang-up, as far as the call log
        services.end_call(session, notifier=board.notifier, call_id=gone.id, clock=clock)

    def redis_fails(*_args: Any, **_kwargs: Any) -> None:
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(board.acd, "abandon", redis_fails)
    for agent_id in (first, second):
        board.acd.presence.log_in(agent_id, queues=[QUEUE], skills=[])
    with sessions() as session:
        offers = routing.offer_waiting_calls(session, acd=board.acd)

    assert [offer.call_id for offer in offers] == [waiting.id]
    assert _logged(sessions, waiting.id)[0] is CallState.OFFERED


@pytest.mark.parametrize(
    ("held", "read_after"),
    [(True, False), (True, True), (False, False)],
    ids=["held_then_let_go", "held_then_let_go_and_read_on", "read"],
)
def test_a_turn_that_let_go_of_the_call_does_not_queue_a_caller_who_hung_up_meanwhile(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    held: bool,
    read_after: bool,
) -> None:
    """An IVR turn that commits on its way to the queue (it creates the caller's order)
    lets go of the call, and the caller hangs up then. The turn wrote its copy of the call,
    "waiting", over the hang-up's "ended", and the ACD rang the free agent for a caller who
    had gone; the hang-up's own check could not see it. A turn holds the call from its
    start (``held``): the queueing must not take that hold for still there, also when the
    turn has begun another transaction since (``read_after``: it read on)."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _caller_and_a_free_agent(sessions, board, clock)
    with sessions() as turn:
        read = services.lock_call if held else services.get_call
        call = read(turn, call_id=call_id)
        turn.commit()  # the order's commit: the call is no longer held
        with sessions() as other:
            calls.finish(other, board, call_id=call_id, clock=clock)
        if read_after:
            turn.exec(select(Call.id)).first()
        assert calls.enqueue(turn, board, call=call, queue=QUEUE, clock=clock) == []

    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None
        assert (ended.state, ended.disposition) == (CallState.ENDED, Disposition.COMPLETED)
    assert board.acd.current_offer(call_id) is None
    assert board.acd.position(call_id, QUEUE) is None
    assert board.acd.presence.get(agent_id).state is AgentState.AVAILABLE


def test_a_transferred_call_that_fails_while_ringing_the_next_agent_frees_them(
    sessions: Callable[[], Session], bus: redis.Redis, clock: TestClock
) -> None:
    """A call transferred to the queue rings a colleague, and the caller's leg fails (the
    endpoint lost it). The call, answered once, was taken for one ending its talk with the
    colleague, who was not talking: they were left offered a call that had ended, which
    came back to the queue on each miss and was offered again, for good."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id, colleague = _talking_with_a_colleague_free(sessions, board, clock)
    with sessions() as session:
        [offer] = calls.transfer(session, board, call_id=call_id, queue=QUEUE, clock=clock)
    assert offer.agent_id == colleague

    with sessions() as session:
        calls.finish(session, board, call_id=call_id, disposition=Disposition.FAILED, clock=clock)

    assert board.acd.current_offer(call_id) is None
    assert board.acd.position(call_id, QUEUE) is None
    assert board.acd.presence.get(colleague).state is AgentState.AVAILABLE
    assert board.acd.presence.get(agent_id).state is AgentState.WRAP_UP


def test_a_caller_hanging_up_as_the_agent_declines_stays_ended(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hang-up comes while a declined offer goes back to the queue (the call read as
    offered, not yet written back as waiting). Before the decline held the call, it wrote
    "queued" over the hang-up's "ended": the call log showed a caller who had gone still
    waiting, for good."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)

    failures = _meet(
        sessions,
        first=lambda s: calls.agent_missed(
            s, board, call_id=call_id, agent_id=agent_id, declined=True
        ),
        pausing_after=_pause_after(board.acd, "current_offer", monkeypatch),
        second=_finished(board, call_id, clock),
    )

    assert failures == []
    _abandoned_with_agent_free(sessions, board, call_id, agent_id)


def test_a_caller_hanging_up_as_the_queue_overflows_stays_ended(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hang-up comes as a caller who waited too long leaves the queue for the IVR's
    overflow. Before the overflow held the call, it wrote "in the IVR" over the hang-up's
    "ended": the call log showed a caller who had gone still in the IVR, for good."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        call = _arrived(session, board, clock)
        assert calls.enqueue(session, board, call=call, queue=QUEUE, clock=clock) == []
    clock.advance(board.acd.config(QUEUE).max_wait_seconds + 1)
    assert calls.take_for_overflow(board, call_id=call.id)

    failures = _meet(
        sessions,
        first=lambda s: calls.overflow(s, board, call_id=call.id, clock=clock),
        pausing_after=_pause_after(services, "check_call_transition", monkeypatch),
        second=_finished(board, call.id, clock),
    )

    assert failures == []
    with sessions() as session:
        ended = session.get(Call, call.id)
        assert ended is not None and ended.state is CallState.ENDED


def test_a_caller_leaving_the_queue_as_their_agent_declines_is_logged_in_the_ivr(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A caller who has waited past the queue's maximum is offered, and the agent declines.
    The decline puts the call back in the ACD's queue before the log says so, and the
    caller's next wait check takes it out for the overflow at once (it has waited too
    long). The overflow found the call logged as offered and left it so; the decline then
    wrote it back as queued. The log showed a caller waiting who was leaving a voicemail,
    and their hang-up counted as abandoned."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)
    clock.advance(board.acd.config(QUEUE).max_wait_seconds + 1)

    def overflows(session: Session) -> object:
        assert calls.take_for_overflow(board, call_id=call_id)
        return calls.overflow(session, board, call_id=call_id, clock=clock)

    failures = _meet(
        sessions,
        first=_declines(board, call_id, agent_id),
        pausing_after=_pause_after(board.acd, "miss", monkeypatch),
        second=overflows,
    )

    assert failures == []
    assert _logged(sessions, call_id) == (CallState.IN_IVR, None)
    assert board.acd.position(call_id, QUEUE) is None
    assert board.acd.presence.get(agent_id).state is AgentState.AVAILABLE
    with sessions() as session:
        calls.finish(session, board, call_id=call_id, clock=clock)
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None
        assert (ended.state, ended.disposition) == (CallState.ENDED, Disposition.COMPLETED)


def test_a_call_ended_again_is_let_go_at_once(
    sessions: Callable[[], Session], bus: redis.Redis, clock: TestClock
) -> None:
    """The crash recovery ends the calls of a dead endpoint one after another in one
    session; a call among them whose hang-up came in meanwhile is found ended. It was held
    (a row lock on PostgreSQL, the database's write lock on SQLite) until the recovery's
    session ended, so a late word about that call, and on SQLite every other write, waited
    for the whole loop."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        call_id = _arrived(session, board, clock).id
        calls.finish(session, board, call_id=call_id, clock=clock)
    let_go = threading.Event()

    def late_word() -> None:
        with sessions() as session:
            services.lock_call(session, call_id=call_id)
            session.commit()
        let_go.set()

    with sessions() as recovery:
        routing.finish_call(
            recovery,
            acd=board.acd,
            notifier=board.notifier,
            call_id=call_id,
            disposition=Disposition.FAILED,
            recording=None,
            clock=clock,
        )
        waiting = threading.Thread(target=late_word)
        waiting.start()
        assert let_go.wait(5), "the call stayed held by a step that had nothing to write"
    waiting.join(30)
    assert _logged(sessions, call_id)[0] is CallState.ENDED


@pytest.mark.parametrize(
    ("learnt", "logged_as"),
    [
        (_completed, (CallState.ENDED, ProviderStatus.COMPLETED, Disposition.COMPLETED)),
        (_in_progress, (CallState.IN_IVR, ProviderStatus.IN_PROGRESS, None)),
    ],
    ids=["hang_up", "in_progress"],
)
def test_a_status_learnt_while_the_ivr_greets_the_caller_is_kept(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
    learnt: Callable[[Switchboard, str, TestClock], Callable[[Session], object]],
    logged_as: tuple[CallState, ProviderStatus, Disposition | None],
) -> None:
    """Twilio's ``completed`` reaches the other worker while ``/twilio/voice`` is between
    logging the call and the IVR's first step. That step then wrote its own copy of the
    call over the hang-up: the log showed a caller in the IVR who had gone, for good.
    ``in-progress`` at the same point moves no state: the turn goes on from its own copy
    of the call, and must write only what it changed, not the copy's older status."""
    board = hotline_switchboard(bus, clock)

    def voice(session: Session) -> object:
        call = _arrived(session, board, clock)
        return calls.begin(session, board, call=call, clock=clock)

    failures = _meet(
        sessions,
        first=voice,
        pausing_after=_pause_after(services, "start_inbound_call", monkeypatch),
        second=learnt(board, "", clock),
    )

    assert failures == []
    with sessions() as session:
        [logged] = session.exec(select(Call)).all()
        assert (logged.state, logged.provider_status, logged.disposition) == logged_as


@pytest.mark.parametrize(
    "pausing", ["get_call", "enter_ivr"], ids=["read_before_the_hang_up", "answered"]
)
def test_a_customer_hanging_up_as_the_survey_begins_leaves_the_call_ended(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
    pausing: str,
) -> None:
    """The customer picks up the survey call and hangs up at once: Twilio's ``completed``
    reaches the other worker while ``/twilio/survey`` starts the survey. The survey's first
    turn then wrote its own copy of the call over the hang-up: the log showed a survey
    under way on a call that was over, for good. An answer learnt once the call is over
    is not logged after its end."""
    flows = load_flows(BUILTIN_FLOWS)
    board = build_switchboard(Settings(), bus, flow=flows["hotline"], flows=flows, clock=clock)
    with sessions() as session:
        _, task = survey_due(session, clock)
        assert task.id is not None
        placed = services.start_outbound_call(
            session,
            channel=CallChannel.TWILIO,
            to_number=task.phone,
            from_number="+864008001234",
            task_id=task.id,
            clock=clock,
        )
        services.adopt_provider_id(session, call_id=placed.id, provider_id=CALLER_SID)
        call_id = placed.id

    def survey(session: Session) -> object:
        call = services.get_call(session, call_id=call_id)
        return calls.begin_survey(session, board, call=call, flow="survey", clock=clock)

    failures = _meet(
        sessions,
        first=survey,
        pausing_after=_pause_after(services, pausing, monkeypatch),
        second=_completed(board, call_id, clock),
    )

    assert failures == []
    with sessions() as session:
        logged = session.get(Call, call_id)
        assert logged is not None
        assert (logged.state, logged.disposition) == (CallState.ENDED, Disposition.COMPLETED)
        assert logged.ended_at is not None
        assert logged.answered_at is None or logged.answered_at <= logged.ended_at


def test_a_hang_up_learnt_while_the_caller_asks_for_an_agent_leaves_nobody_waiting(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caller presses 0 for an agent and hangs up; Twilio's ``completed`` reaches the
    other worker while ``/twilio/gather`` runs the IVR's turn. The turn then wrote its copy
    of the call over the hang-up and queued it: a caller who had gone waited in the ACD,
    and the first free agent was rung for nobody."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        call = _arrived(session, board, clock)
        calls.begin(session, board, call=call, clock=clock)

    failures = _meet(
        sessions,
        first=lambda s: calls.caller_input(
            s, board, call_id=call.id, given=CallerInput(digits="0"), clock=clock
        ),
        pausing_after=_pause_after(store, "load", monkeypatch),
        second=_completed(board, call.id, clock),
    )

    assert failures == []
    assert _logged(sessions, call.id)[0] is CallState.ENDED
    assert board.acd.position(call.id, QUEUE) is None
    assert board.acd.figures(QUEUE).waiting == 0


def test_a_caller_transferred_to_an_agent_taken_meanwhile_waits_in_the_queue(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The agent transfers their caller to a colleague who is free, and before the ACD
    rings the colleague another caller is offered to them. The transfer had already moved
    the call (written as waiting, its agent sent to wrap-up), then failed: the caller was
    in no queue of the ACD, and waited in silence for nobody until they gave up."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id, colleague = _talking_with_a_colleague_free(sessions, board, clock)

    def another_caller(session: Session) -> object:
        other = _arrived(session, board, clock, provider_id="CA" + "e" * 32)
        return calls.enqueue(session, board, call=other, queue=QUEUE, clock=clock)

    failures = _meet(
        sessions,
        first=lambda s: calls.transfer(s, board, call_id=call_id, agent_id=colleague, clock=clock),
        pausing_after=_pause_after(services, "enqueue_call", monkeypatch),
        second=another_caller,
    )

    assert failures == []
    assert _logged(sessions, call_id) == (CallState.QUEUED, None)
    assert board.acd.position(call_id, QUEUE) == 1
    assert board.acd.presence.get(agent_id).state is AgentState.WRAP_UP


def test_a_transfer_the_database_fails_to_write_is_not_announced_and_can_be_tried_again(
    sessions: Callable[[], Session], bus: redis.Redis, clock: TestClock
) -> None:
    """The database dropped the connection as a blind transfer was written. The transfer
    had been announced already: the caller's channel moved them back to waiting (Twilio
    hung up the agent's leg) while the call log still showed them with the agent, in no
    queue of the ACD."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id, colleague = _talking_with_a_colleague_free(sessions, board, clock)

    def connection_lost() -> None:
        raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

    with sessions() as session, pytest.raises(OperationalError):
        session.commit = connection_lost  # type: ignore[method-assign]
        calls.transfer(session, board, call_id=call_id, agent_id=colleague, clock=clock)

    assert _published(board, "call.transferred", call_id) == []
    assert _logged(sessions, call_id) == (CallState.BRIDGED, agent_id)
    assert board.acd.position(call_id, QUEUE) is None

    with sessions() as session:  # the agent tries again
        calls.transfer(session, board, call_id=call_id, agent_id=colleague, clock=clock)
    assert [e["from_agent_id"] for e in _published(board, "call.transferred", call_id)] == [
        agent_id
    ]
    assert _logged(sessions, call_id) == (CallState.OFFERED, colleague)
    assert board.acd.presence.get(agent_id).state is AgentState.WRAP_UP


LEG = "CA" + "f" * 32
"""The agent's own leg, where the channel names it (Twilio)."""


@pytest.mark.parametrize(
    ("held", "leg_ended"),
    [(False, False), (True, False), (True, True)],
    ids=["transfer", "transfer_of_a_held_caller", "held_callers_agent_leg_ended"],
)
def test_a_transfer_redis_fails_to_announce_is_taken_back_and_can_be_tried_again(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
    held: bool,
    leg_ended: bool,
) -> None:
    """Redis went away as a blind transfer was announced, after the call log had written
    the caller as waiting, with no agent: the agent's try again (or Twilio's retry of the
    agent leg's end, for a held caller whose agent's phone went away) was refused, the call
    no longer being with an agent. No channel had been told to move the caller, and the
    ACD did not hold the call: it was never offered to anyone. Written back as it was, the
    transfer completes when tried again. The agent, released before the announcement, went
    to wrap-up and then to the next call while still talking with this caller: now they
    are released only once the move is announced."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        calls.agent_answered(
            session, board, call_id=call_id, agent_id=agent_id, agent_leg=LEG, clock=clock
        )
        colleague = _agent(session, "colleague", clock)
    board.acd.presence.log_in(colleague, queues=[QUEUE], skills=[])
    clock.advance(1)
    if held:
        with sessions() as session:
            calls.hold(session, board, call_id=call_id, held=True, clock=clock)
    before = _call(sessions, call_id)

    def transfer(session: Session) -> object:
        if leg_ended:
            return calls.agent_leg_ended(
                session, board, call_id=call_id, agent_id=agent_id, leg=LEG, clock=clock
            )
        return calls.transfer(session, board, call_id=call_id, agent_id=colleague, clock=clock)

    publish_many = board.events.publish_many

    def redis_fails_for_transfers(events: list[Any], **options: Any) -> None:
        if any(event.name == "call.transferred" for event in events):
            raise bus_unavailable(redis.ConnectionError("Redis went away"))
        publish_many(events, **options)

    monkeypatch.setattr(board.events, "publish_many", redis_fails_for_transfers)
    with sessions() as session, pytest.raises(BusUnavailable):
        transfer(session)

    assert _published(board, "call.transferred", call_id) == []
    assert len(_published(board, "call.queued", call_id)) == 1  # its first wait only
    after = _call(sessions, call_id)
    kept = ("state", "agent_id", "agent_leg", "queue", "queued_at", "held_at")
    assert [getattr(after, name) for name in kept] == [getattr(before, name) for name in kept]
    assert (after.state, after.held_at is not None) == (CallState.BRIDGED, held)
    assert board.acd.position(call_id, QUEUE) is None
    # Still talking with the caller: in wrap-up, the agent would be offered the next call.
    talking = board.acd.presence.get(agent_id)
    assert (talking.state, talking.call_id) == (AgentState.ON_CALL, call_id)

    monkeypatch.setattr(board.events, "publish_many", publish_many)  # Redis is back
    with sessions() as session:
        transfer(session)
    assert [e["from_agent_id"] for e in _published(board, "call.transferred", call_id)] == [
        agent_id
    ]
    assert len(_published(board, "call.queued", call_id)) == 2  # waited once before
    assert _logged(sessions, call_id) == (CallState.OFFERED, colleague)
    assert board.acd.presence.get(agent_id).state is AgentState.WRAP_UP


def test_an_agent_whose_transfer_the_acd_fails_to_queue_is_released_all_the_same(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis failed at the ACD's step of a blind transfer, after the move was announced:
    the caller had left the agent, and the agent must not stay on a call they no longer
    have (the lost-call sweep queues the caller again)."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        calls.agent_answered(session, board, call_id=call_id, agent_id=agent_id, clock=clock)

    def redis_fails(*_args: Any, **_kwargs: Any) -> None:
        raise bus_unavailable(redis.ConnectionError("Redis went away"))

    monkeypatch.setattr(board.acd, "enqueue", redis_fails)
    with sessions() as session, pytest.raises(BusUnavailable):
        calls.transfer(session, board, call_id=call_id, queue=QUEUE, clock=clock)

    assert len(_published(board, "call.transferred", call_id)) == 1
    assert _logged(sessions, call_id) == (CallState.QUEUED, None)
    assert board.acd.presence.get(agent_id).state is AgentState.WRAP_UP


def test_an_answer_slow_to_be_written_is_not_taken_for_a_lost_call(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ACD took an agent's answer, and the log's write of it was held up for seconds
    (a database stall), while the caller's wait was checked once more as they were being
    connected. The lost-call sweep, working from what it had read, queued the call again
    and sent the agent to wrap-up: the agent, talking with the caller, was offered the
    next call after it, and the caller rang a second agent."""
    board = hotline_switchboard(bus, clock)
    agent_id, call_id = _offered(sessions, board, clock)
    board.acd.overflow_if_waited(call_id)  # heard waiting while it rings

    def sweeps_meanwhile(session: Session) -> None:
        board.acd.overflow_if_waited(call_id)  # a wait check that read the call first
        routing.requeue_lost_calls(session, acd=board.acd, clock=clock)
        clock.advance(routing.LOST_AFTER_SECONDS)
        routing.requeue_lost_calls(session, acd=board.acd, clock=clock)

    failures = _meet(
        sessions,
        first=lambda s: calls.agent_answered(
            s, board, call_id=call_id, agent_id=agent_id, clock=clock
        ),
        pausing_after=_pause_after(board.acd, "accept", monkeypatch),
        second=sweeps_meanwhile,
    )

    assert failures == []
    assert _logged(sessions, call_id) == (CallState.BRIDGED, agent_id)
    talking = board.acd.presence.get(agent_id)
    assert (talking.state, talking.call_id) == (AgentState.ON_CALL, call_id)
    assert board.acd.position(call_id, QUEUE) is None


def _call(sessions: Callable[[], Session], call_id: str) -> Call:
    with sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        return call


def _talking_with_a_colleague_free(
    sessions: Callable[[], Session], board: Switchboard, clock: TestClock
) -> tuple[int, str, int]:
    """An agent talking with a caller, and a colleague free a second later: (agent, call,
    colleague)."""
    agent_id, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        calls.agent_answered(session, board, call_id=call_id, agent_id=agent_id, clock=clock)
        colleague = _agent(session, "colleague", clock)
    board.acd.presence.log_in(colleague, queues=[QUEUE], skills=[])
    clock.advance(1)
    return agent_id, call_id, colleague


def _published(board: Switchboard, name: str, call_id: str) -> list[dict[str, Any]]:
    return [
        e.data
        for e in board.events.read_after("0", count=10_000)
        if e.name == name and e.data.get("call_id") == call_id
    ]


def test_a_status_that_comes_with_the_hang_up_is_not_written_over_it(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twilio's ``in-progress`` and ``completed`` for one call reach the two workers at the
    same moment. The first read the call without holding it, the second ended it, and the
    first then wrote its older status over the newer one: the log said the call was in
    progress after it had ended."""
    board = hotline_switchboard(bus, clock)
    with sessions() as session:
        call_id = _arrived(session, board, clock).id

    failures = _meet(
        sessions,
        first=_in_progress(board, call_id, clock),
        pausing_after=_pause_after(services, "find_by_provider_id", monkeypatch),
        second=_completed(board, call_id, clock),
    )

    assert failures == []
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None
        assert (ended.state, ended.provider_status) == (
            CallState.ENDED,
            ProviderStatus.COMPLETED,
        )


COLLEAGUE_LEG = "CA" + "d" * 32


def test_a_caller_hanging_up_as_a_consulted_colleague_picks_up_hangs_up_their_leg_too(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hang-up comes while the ACD puts the colleague on the consultation. Before the
    pick-up held the call, the hang-up ended the consultation without the colleague's leg
    (not yet written), so nothing hung that leg up: the colleague was left alone on the
    line, and the pick-up then wrote the leg onto the ended call and failed (a 500 to
    Twilio's consult webhook)."""
    board = hotline_switchboard(bus, clock)
    call_id, colleague = _consulting(sessions, board, clock)

    failures = _meet(
        sessions,
        first=lambda s: calls.consult_answered(
            s, board, call_id=call_id, agent_id=colleague, leg=COLLEAGUE_LEG, clock=clock
        ),
        pausing_after=_pause_after(board.acd, "consult_answered", monkeypatch),
        second=_finished(board, call_id, clock),
    )

    assert failures == []
    [over] = _events(bus, "call.consult_ended")
    assert (over["consultant_id"], over["consult_leg"]) == (colleague, COLLEAGUE_LEG)
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None and ended.state is CallState.ENDED
        assert (ended.consult_agent_id, ended.consult_leg) == (None, None)
    assert board.acd.presence.get(colleague).state is AgentState.WRAP_UP


def test_a_colleague_picking_up_after_the_hang_up_is_refused(
    sessions: Callable[[], Session], bus: redis.Redis, clock: TestClock
) -> None:
    """The other order: the caller is gone when the colleague picks up; the pick-up is
    refused (Twilio's leg hears that the caller left) and the colleague is free."""
    board = hotline_switchboard(bus, clock)
    call_id, colleague = _consulting(sessions, board, clock)
    with sessions() as session:
        calls.finish(session, board, call_id=call_id, clock=clock)
    with sessions() as session, pytest.raises(NoSuchOffer):
        calls.consult_answered(
            session, board, call_id=call_id, agent_id=colleague, leg=COLLEAGUE_LEG, clock=clock
        )
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None and ended.consult_leg is None
    assert board.acd.presence.get(colleague).state is AgentState.AVAILABLE


def test_a_blind_transfer_during_a_consultation_is_refused(
    sessions: Callable[[], Session], bus: redis.Redis, clock: TestClock
) -> None:
    """A supervisor (or a second tab) transferred a caller whose agent was consulting a
    colleague who had picked up: the caller went back to the queue with the colleague
    still on the call, bridged on SIP to whoever took the caller next, and the consulted
    colleague's state named a call that was no longer theirs."""
    board = hotline_switchboard(bus, clock)
    call_id, colleague = _consulting(sessions, board, clock)
    with sessions() as session:
        calls.consult_answered(
            session, board, call_id=call_id, agent_id=colleague, leg=COLLEAGUE_LEG, clock=clock
        )
    with sessions() as session, pytest.raises(TransferInvalid):
        calls.transfer(session, board, call_id=call_id, queue=QUEUE, clock=clock)

    assert _logged(sessions, call_id)[0] is CallState.BRIDGED
    assert board.acd.presence.get(colleague).state is AgentState.ON_CALL
    assert _published(board, "call.transferred", call_id) == []


@pytest.mark.parametrize("hang_up", [_finished, _completed])
def test_a_caller_hanging_up_during_a_consultation_frees_the_colleague(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    hang_up: Callable[[Switchboard, str, TestClock], Callable[[Session], object]],
) -> None:
    """The caller hangs up while the agent's colleague is still ringing: the consultation
    ends with the call, on both channels. Before, Twilio's status callback ended the call
    alone, and the colleague rang on, offered nothing else, for a caller who had gone."""
    board = hotline_switchboard(bus, clock)
    call_id, colleague = _consulting(sessions, board, clock)
    with sessions() as session:
        hang_up(board, call_id, clock)(session)

    [over] = _events(bus, "call.consult_ended")
    assert over["consultant_id"] == colleague
    assert board.acd.presence.get(colleague).state is AgentState.AVAILABLE
    assert board.acd.current_offer(call_id) is None


@pytest.mark.parametrize(
    ("hang_up", "ending"), [(_finished, "end_call"), (_completed, "apply_provider_status")]
)
def test_a_caller_hanging_up_as_the_colleagues_leg_ends_ends_the_consultation_once(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
    hang_up: Callable[[Switchboard, str, TestClock], Callable[[Session], object]],
    ending: str,
) -> None:
    """The colleague's leg reports its end between the hang-up's end of the call and its
    end of the consultation. Before the hang-up read the consultation again under the
    hold, it ended it a second time: a second ``call.consult_ended``, and Twilio told
    twice to hang up the colleague."""
    board = hotline_switchboard(bus, clock)
    call_id, colleague = _consulting(sessions, board, clock)

    failures = _meet(
        sessions,
        first=hang_up(board, call_id, clock),
        pausing_after=_pause_after(services, ending, monkeypatch),
        second=lambda s: calls.end_consult(
            s, board, call_id=call_id, consultant=colleague, clock=clock
        ),
    )

    assert failures == []
    assert len(_events(bus, "call.consult_ended")) == 1
    assert board.acd.presence.get(colleague).state is AgentState.AVAILABLE
    with sessions() as session:
        ended = session.get(Call, call_id)
        assert ended is not None and ended.state is CallState.ENDED
        assert ended.consult_agent_id is None


def test_a_colleague_hanging_up_as_the_call_is_handed_to_them_keeps_the_call(
    sessions: Callable[[], Session],
    bus: redis.Redis,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The colleague's leg reports its end (Twilio's consult status) while the agent hands
    the call over to them. Before the end of a consultation held the call, it read the
    consultation as still under way and ended it: the colleague, now the one talking to
    the caller, was sent to wrap-up (and offered new calls after it), and their leg, now
    the call's own, was hung up."""
    board = hotline_switchboard(bus, clock)
    call_id, colleague = _consulting(sessions, board, clock)
    with sessions() as session:
        calls.consult_answered(
            session, board, call_id=call_id, agent_id=colleague, leg=COLLEAGUE_LEG, clock=clock
        )

    failures = _meet(
        sessions,
        first=lambda s: calls.complete_consult(s, board, call_id=call_id, clock=clock),
        pausing_after=_pause_after(board.acd, "end_call", monkeypatch),
        second=lambda s: calls.end_consult(
            s, board, call_id=call_id, consultant=colleague, clock=clock
        ),
    )

    assert failures == []
    assert _events(bus, "call.consult_ended") == []
    with sessions() as session:
        handed = session.get(Call, call_id)
        assert handed is not None
        assert (handed.agent_id, handed.agent_leg) == (colleague, COLLEAGUE_LEG)
    assert board.acd.presence.get(colleague).state is AgentState.ON_CALL


def _consulting(
    sessions: Callable[[], Session], board: Switchboard, clock: TestClock
) -> tuple[str, int]:
    """A call answered by an agent, who rings a colleague to consult: (call, colleague)."""
    agent_id, call_id = _offered(sessions, board, clock)
    with sessions() as session:
        calls.agent_answered(session, board, call_id=call_id, agent_id=agent_id, clock=clock)
        colleague = _agent(session, "colleague", clock)
    board.acd.presence.log_in(colleague, queues=[QUEUE], skills=[])
    with sessions() as session:
        calls.consult(session, board, call_id=call_id, agent_id=colleague, clock=clock)
    return call_id, colleague


def _events(bus: redis.Redis, name: str) -> list[dict[str, Any]]:
    return [e.data for e in EventBus(bus).read_after("0", count=1000) if e.name == name]


def _pause_after(
    owner: Acd | ModuleType | type, method: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Event, threading.Event]:
    """The first call of ``owner``'s ``method`` pauses once it has done its work, until
    told to go on: (paused, go on)."""
    paused, go_on = threading.Event(), threading.Event()
    original = getattr(owner, method)

    def then_pause(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not paused.is_set():
            paused.set()
            go_on.wait(10)
        return result

    monkeypatch.setattr(owner, method, then_pause)
    return paused, go_on


def _meet(
    sessions: Callable[[], Session],
    *,
    first: Callable[[Session], object],
    pausing_after: tuple[threading.Event, threading.Event],
    second: Callable[[Session], object],
) -> list[BaseException]:
    """Run ``first`` until it pauses, then ``second`` beside it, each in its own session
    and thread; what either raised."""
    first_paused, go_on = pausing_after
    failures: list[BaseException] = []

    def step(work: Callable[[Session], object]) -> threading.Thread:
        def run() -> None:
            try:
                with sessions() as session:
                    work(session)
            except BaseException as exc:  # reported by the test, not lost in the thread
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    running = step(first)
    assert first_paused.wait(10)
    meeting = step(second)
    meeting.join(0.5)  # long enough for a step nothing holds back to go first
    go_on.set()
    running.join(15)
    meeting.join(15)
    return failures


def _arrived(
    session: Session, board: Switchboard, clock: TestClock, *, provider_id: str = CALLER_SID
) -> Call:
    """A caller's Twilio call, logged as it arrives."""
    return calls.arrive(
        session,
        board,
        channel=CallChannel.TWILIO,
        provider_id=provider_id,
        from_number="+8613800138000",
        to_number="+864008001234",
        answered=True,
        clock=clock,
    )


def _agent(session: Session, username: str, clock: TestClock) -> int:
    data = UserCreate(username=username, role=Role.AGENT, password="a long password")
    agent = users.create_user(session, data=data, actor=SYSTEM, clock=clock)
    assert agent.id is not None
    return agent.id
