"""Calls meet agents: the call log kept in step with the ACD, on any channel."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import redis
import structlog
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from core.bus import BusUnavailable
from core.types import Clock
from orders import CallerLookup, Urgency, User
from recordings import FinishedWav
from telephony import services
from telephony.acd import Acd, Offer
from telephony.enums import CallState, Disposition, OfferLogged
from telephony.events import CallNotifier
from telephony.exceptions import (
    AgentUnavailable,
    CallStillConnected,
    ConsultationNotReady,
    InvalidAgentState,
    InvalidCallTransition,
    NoSuchOffer,
    TransferInvalid,
)
from telephony.models import LIVE, Call
from telephony.presence import Agent, AgentState

log = structlog.get_logger(__name__)


def caller_priority(pop: CallerLookup) -> int:
    """0 for a returning customer with an open urgent order, who is served first; else 1."""
    urgent = any(o.urgency is Urgency.URGENT for c in pop.customers for o in c.open_orders)
    return 0 if urgent else 1


def queue_call(
    session: Session,
    *,
    acd: Acd,
    notifier: CallNotifier,
    call: Call,
    queue: str,
    priority: int,
    clock: Clock,
) -> list[Offer]:
    if call.state is CallState.QUEUED and call.queue == queue:
        return []
    if not services.enqueue_call(session, notifier=notifier, call=call, queue=queue, clock=clock):
        return []
    # Refused when the caller hung up since the call was written as waiting: that hang-up
    # found nothing in the ACD to take out, and the ACD would ring a free agent for them.
    if acd.enqueue(call.id, queue, priority=priority, customer_ids=call.customer_ids) is None:
        return []
    return record_offers(session, acd, acd.dispatch(queue))


def record_offers(session: Session, acd: Acd, offers: list[Offer]) -> list[Offer]:
    """Mirror fresh offers in the call log; only those of calls still live are returned.

    A caller offered by another request may hang up before that request gets here: an
    ended call is left ended, instead of failing this request with 409, and taken out of
    the ACD as its hang-up takes it out (which may not have run yet, or have failed). An
    offer its agent has already missed is left as it is.
    Each is committed on its own, so that no more than one call is held at a time: holding
    several, in whatever order the ACD offered them, two requests could each hold a call
    the other waits for.
    """

    def rings(offer: Offer) -> bool:
        return acd.rings(offer.call_id, offer.agent_id)

    recorded = []
    for offer in offers:
        try:
            logged = services.mark_offered(session, offer, rings=rings)
        except InvalidCallTransition as exc:
            # The ACD rings an agent for a caller the log shows elsewhere (in the IVR,
            # talking to someone): the log is what the caller is doing, so the stale offer
            # goes and its agent is freed, instead of failing this request and leaving the
            # rest of the batch unwritten.
            session.commit()  # nothing was written: only lets go of the call
            acd.withdraw(offer.call_id, reason=f"the call log shows the call {exc.details['from']}")
            log.error(
                "offer of a call the log shows elsewhere withdrawn",
                call=offer.call_id,
                agent=offer.agent_id,
                logged=exc.details["from"],
            )
            continue
        session.commit()
        if logged is OfferLogged.WRITTEN:
            recorded.append(offer)
        elif logged is OfferLogged.CALL_ENDED:
            # The caller has gone, and the ACD still rings an agent for them: their
            # hang-up's own step in the ACD has not run yet, or never will (it failed). The
            # agent is freed now, not rung for nobody until the offer runs out; whichever
            # of the two steps comes second finds nothing to take out, nor to count.
            disposition = services.call_disposition(session, call_id=offer.call_id)
            session.commit()  # only read
            try:
                _unanswered_end(acd, offer.call_id, disposition)
            except (redis.RedisError, BusUnavailable) as exc:
                # The hang-up's own step does it too: the offers after this one are
                # written all the same.
                log.warning("offer of an ended call left to its hang-up", error=str(exc))
    return recorded


def agent_answered(
    session: Session,
    *,
    acd: Acd,
    notifier: CallNotifier,
    call_id: str,
    agent_id: int,
    agent_leg: str | None = None,
    clock: Clock,
) -> Call:
    """The offered agent picked up (on ``agent_leg``, where the channel names the agent's
    leg): the call is bridged to them.

    The call is held while the ACD hands it over: a hang-up at the same moment waits, then
    finds the call bridged and sends its agent to wrap-up; one that came first leaves the
    call ended, and the agent is not taken (the hang-up has freed them)."""
    call = services.lock_call(session, call_id=call_id)
    if call.state is CallState.ENDED:
        raise NoSuchOffer(
            f"call {call_id} is over", details={"call_id": call_id, "agent_id": agent_id}
        )
    acd.accept(call_id, agent_id)
    if call.state is CallState.QUEUED:
        # The ACD rang the agent, and they answered before the request that made the offer
        # wrote it down (an auto-answering phone, a request held up under load): the ACD
        # has just vouched for the offer, so it is written now. That request then finds
        # the offer taken and writes nothing.
        services.move_call(session, call, CallState.OFFERED)
    services.move_call(session, call, CallState.BRIDGED)
    call.agent_id = agent_id
    call.agent_leg = agent_leg
    call.bridged_at = clock()
    session.commit()
    notifier.bridged(call)
    return call


def agent_missed(
    session: Session,
    *,
    acd: Acd,
    call_id: str,
    agent_id: int,
    leaving: bool = False,
    declined: bool = False,
    offered_at: datetime | None = None,
) -> list[Offer]:
    """The offered agent declined or did not answer: back to the queue, on to the next
    (a call the agent took in the console rings them again instead). The call is held
    while it goes back (see :func:`services.lock_call`): a hang-up meanwhile must not be
    written over with "queued". ``offered_at``: see :meth:`Acd.miss`."""
    offer = acd.miss(call_id, agent_id, leaving=leaving, declined=declined, offered_at=offered_at)
    call = services.lock_call(session, call_id=call_id)
    current = acd.current_offer(call_id)
    if current == offer:
        session.commit()  # nothing to write: only lets go of the call
        return [offer]
    if _still_logged_as_offered(call, current):
        services.move_call(session, call, CallState.QUEUED)
        call.agent_id = None
    session.commit()  # lets go of the call before offers of other calls are written
    return record_offers(session, acd, acd.dispatch(offer.queue))


def _still_logged_as_offered(call: Call, current: Offer | None) -> bool:
    """The log still shows an offer, and the ACD rings nobody for the call: it is written
    back as queued. Once the call is back in the ACD's queue another request may offer it
    at once (to anyone, the same agent too), and that offer's record is not to be written
    over. The offer the log shows may be another missed one's than the agent's at hand:
    the late record of a missed offer writes nothing (``record_offers``), so its miss
    found the call still queued, and left it to this one."""
    return current is None and call.state is CallState.OFFERED


def expire_offers(session: Session, *, acd: Acd) -> list[Offer]:
    """Offers nobody answered in time move on (run every few seconds by the worker)."""
    fresh: list[Offer] = []
    for expired in acd.expire_offers():
        call = services.lock_call(session, call_id=expired.call_id)  # as in agent_missed
        current = acd.current_offer(expired.call_id)
        if _still_logged_as_offered(call, current):
            services.move_call(session, call, CallState.QUEUED)
            call.agent_id = None
        session.commit()
        fresh.extend(record_offers(session, acd, acd.dispatch(expired.queue)))
    return fresh


def offer_waiting_calls(session: Session, *, acd: Acd) -> list[Offer]:
    """Offer waiting calls to agents who became free without a dispatch of their own.

    An agent back from wrap-up, or freed because the caller it was offered hung up, has no
    request that would dispatch the queue; the worker's sweep runs this every few seconds.
    """
    offers: list[Offer] = []
    for queue in acd.queues():
        offers.extend(record_offers(session, acd, acd.dispatch(queue)))
    return offers


def withdraw_ended_calls(session: Session, *, acd: Acd) -> list[str]:
    """Calls the ACD still has waiting, or ringing an agent, that the log shows ended
    leave it, counted as their end counts (a caller who gave up waiting has abandoned).

    A call's end is written to the log, then taken out of the ACD. When the second step
    fails (Redis away for a moment), nothing else takes the caller out: the provider does
    not send the hang-up twice, and a call that is no longer live is not settled again. The
    caller stayed waiting on the wall, and was offered to the next agent free (see
    :func:`record_offers`). The log's end is written first and is final, so whichever of
    this sweep and the end's own step comes second finds nothing to take out, nor to
    count. The worker's offer sweep runs this; the ids of the calls taken out."""
    in_acd = acd.calls_in_queues()
    rows = (
        session.connection().execute(
            core_select(col(Call.id), col(Call.disposition)).where(
                col(Call.id).in_(in_acd), col(Call.state) == CallState.ENDED
            )
        )
        if in_acd
        else ()
    )
    ended = {row.id: row.disposition for row in rows}
    session.commit()  # read only: ends the transaction, as every read of a sweep does
    taken = []
    for call_id, disposition in sorted(ended.items()):
        try:
            if not _unanswered_end(acd, call_id, disposition):
                continue  # the end's own step came first
        except (redis.RedisError, BusUnavailable) as exc:
            # Redis again: the rest of the sweep (its own steps say so) and the next one.
            log.warning("calls that ended left in the ACD for the next sweep", error=str(exc))
            break
        log.warning("a call that ended was still in the ACD, and is taken out", call=call_id)
        taken.append(call_id)
    return taken


LOST_AFTER_SECONDS = 5
"""How long the ACD must have had no record of a call the log shows waiting before the
call is queued again: far longer than any step between the two takes (a queueing between
its commit and the ACD, an overflow between the ACD and its commit)."""
LOST_WITHIN_HOURS = 24
"""Only calls that rang within this long are checked: no caller waits longer."""


def requeue_lost_calls(session: Session, *, acd: Acd, clock: Clock) -> list[str]:
    """Calls the log shows waiting or ringing an agent that the ACD has lost, while their
    callers are still heard waiting (see ``Acd.lost``), go back to the front of their
    queue, longest waiting first: else nobody is ever offered them, and their callers wait
    until they give up (with no record to time their wait, not even the overflow takes
    them).

    The ACD loses a call when Redis loses its data (a failover to a replica that was
    behind), or when a step fails between the log's write and the ACD's (a transfer
    announced to the caller's channel, then refused by Redis; an answer the ACD took and
    the log failed to write). A call only counts as lost once it has been for
    ``LOST_AFTER_SECONDS``, seen by one sweep and again by a later one. The worker's offer
    sweep runs this; the queued calls are offered by its dispatch, and an agent left
    ringing for a lost offer is freed by ``Acd.release_stray_agents``.
    """
    now = clock()
    waiting = list(
        session.connection()
        .execute(
            core_select(col(Call.id))
            .where(
                LIVE,
                col(Call.state).in_((CallState.QUEUED, CallState.OFFERED)),
                col(Call.ringing_at) >= now - timedelta(hours=LOST_WITHIN_HOURS),
            )
            .order_by(col(Call.queued_at), col(Call.id))
        )
        .scalars()
    )
    session.commit()  # read only: ends the transaction, as every read of a sweep does
    since = acd.lost_since(acd.lost(waiting))
    requeued = []
    for call_id in waiting:
        lost_at = since.get(call_id)
        if lost_at is None or (now - lost_at).total_seconds() < LOST_AFTER_SECONDS:
            continue
        if _let_go_after(session, partial(_requeue_lost, session, acd, call_id)):
            log.warning("a call the ACD had lost is queued again", call=call_id)
            requeued.append(call_id)
    return requeued


def _requeue_lost(session: Session, acd: Acd, call_id: str) -> bool:
    """One lost call back to the front of its queue, held meanwhile (see
    ``services.lock_call``): a request that holds it now, an answer being written, goes
    first, and the call is taken only if the log and the ACD still show it lost."""
    call = services.lock_call(session, call_id=call_id)
    if call.state not in (CallState.QUEUED, CallState.OFFERED) or call.queue is None:
        return False
    if call_id not in acd.lost([call_id]):
        return False
    if call.agent_id is not None:
        # The log shows it ringing this agent, whose answer the ACD may have taken before
        # the log's write of it failed: the caller never reached them, and they would stay
        # on the call until it ends. Before the queueing: a failure of that leaves both to
        # the next sweep.
        acd.end_call(call.agent_id, call.queue, call_id)
    # The front of the queue, their wait counted from when it began: they have waited
    # already. None: the ACD learnt the call ended (its hang-up was not logged yet), and
    # it stays out; or another sweep, or another request, queued it meanwhile.
    queued = acd.enqueue(
        call_id,
        call.queue,
        priority=0,
        customer_ids=list(call.customer_ids),
        lost=True,
        waiting_since=call.queued_at,
    )
    return queued is not None


LEFT_ON_CALL_AFTER_SECONDS = 30
"""How long an agent must have been left on a call their caller has left before they are
released: well past the longest a step may hold the log behind the ACD (a Redis timeout
in a transfer's announcement, a database stall in an answer's commit)."""


def choose_state(
    session: Session,
    acd: Acd,
    agent_id: int,
    state: AgentState,
    *,
    reason: str = "",
    supervisor: bool = False,
) -> Agent:
    """A state the agent, or a supervisor for them, picks. Wrap-up is not the agent's to
    pick while the call is still connected to them (theirs, or one they were consulted
    on): free of it, they would be offered the next caller while still talking. Picked on
    a call the log shows over, or with someone else, it frees an agent the ACD still has
    on it. A supervisor may force it: the log can show a call connected that is long over
    (a Twilio hang-up never told, on a service with no REST credentials to ask), and
    nothing else would free that agent."""
    if state is AgentState.WRAP_UP and not supervisor:
        _refuse_wrap_up_while_connected(session, acd, agent_id)
    return acd.presence.choose(agent_id, state, reason=reason)


def _refuse_wrap_up_while_connected(session: Session, acd: Acd, agent_id: int) -> None:
    agent = acd.presence.get(agent_id)
    if agent.state is not AgentState.ON_CALL or agent.call_id is None:
        return
    call = session.get(Call, agent.call_id)
    session.commit()  # read only: ends the transaction
    if (
        call is not None
        and call.state is not CallState.ENDED
        and agent_id in (call.agent_id, call.consult_agent_id)
    ):
        raise CallStillConnected(
            "the call is still connected: it goes to wrap-up when it ends",
            details={"call_id": call.id},
        )


def release_agents_left_on_calls(session: Session, *, acd: Acd, clock: Clock) -> list[int]:
    """Agents the ACD still has on a call that the log shows waiting, or ringing another
    agent, go to wrap-up once they have been so for ``LEFT_ON_CALL_AFTER_SECONDS``, seen by
    one sweep and again by a later one: the caller has left them. The orphan check frees
    only agents whose call is over, and these would stay on the call until it ends,
    offered nothing. A process that died between a transfer's announcement and the agent's
    release leaves an agent so; so does an answer the ACD took for a call not yet written
    as offered to them, when the log's write of the answer then failed.

    The log lags the ACD by design (each such step writes it after the ACD's move), so the
    call is held and read again before its agent is released, and a call the log shows
    connected, to anyone, is left alone."""
    on_calls = {
        agent.agent_id: agent.call_id
        for agent in acd.presence.all()
        if agent.state is AgentState.ON_CALL and agent.call_id is not None
    }
    query = core_select(col(Call.id), col(Call.state), col(Call.agent_id))
    rows = (
        session.connection().execute(query.where(col(Call.id).in_(set(on_calls.values()))))
        if on_calls
        else ()
    )
    logged = {row.id: (row.state, row.agent_id) for row in rows}
    session.commit()  # read only: ends the transaction, as every read of a sweep does
    left = {
        f"{agent_id}:{call_id}"
        for agent_id, call_id in on_calls.items()
        if call_id in logged and _left_on(agent_id, *logged[call_id])
    }
    now = clock()
    released = []
    for key, since in acd.left_on_calls_since(left).items():
        if (now - since).total_seconds() < LEFT_ON_CALL_AFTER_SECONDS:
            continue
        agent, _, call_id = key.partition(":")
        if _let_go_after(session, partial(_release_left, session, acd, int(agent), call_id)):
            log.warning("an agent left on a call the caller had left is released", agent=agent)
            released.append(int(agent))
    return released


def _release_left(session: Session, acd: Acd, agent_id: int, call_id: str) -> bool:
    """One agent left on a call, released if the call, held and read again, still shows
    them left."""
    call = services.lock_call(session, call_id=call_id)
    # None from the ACD: the agent left the call meanwhile (its end, the next call).
    return (
        call.queue is not None
        and _left_on(agent_id, call.state, call.agent_id)
        and acd.end_call(agent_id, call.queue, call_id) is not None
    )


def _let_go_after(session: Session, step: Callable[[], bool]) -> bool:
    """A sweep's ``step`` on one call it holds (``services.lock_call``) and writes nothing
    of: the call is let go after it, whatever happens."""
    try:
        done = step()
    except BaseException:
        session.rollback()
        raise
    session.commit()  # nothing to write: only lets go of the call
    return done


def _left_on(agent_id: int, state: CallState, logged_agent_id: int | None) -> bool:
    """Whether the log shows the call as no longer with ``agent_id``: waiting, or ringing
    another agent."""
    return state is CallState.QUEUED or (state is CallState.OFFERED and logged_agent_id != agent_id)


def log_out_deactivated_agents(session: Session, *, acd: Acd) -> list[Offer]:
    """Agents whose account was deactivated leave presence: a call ringing for one moves on
    to the next agent, an idle one is logged out; one on a call finishes it first."""
    agents = [a for a in acd.presence.all() if a.state is not AgentState.LOGGED_OUT]
    if not agents:
        return []
    ids = [a.agent_id for a in agents]
    active = set(session.exec(select(User.id).where(col(User.id).in_(ids), User.is_active)).all())
    fresh: list[Offer] = []
    for agent in agents:
        if agent.agent_id in active:
            continue
        if agent.state is AgentState.OFFERED and agent.call_id is not None:
            with contextlib.suppress(NoSuchOffer):
                fresh.extend(
                    agent_missed(
                        session,
                        acd=acd,
                        call_id=agent.call_id,
                        agent_id=agent.agent_id,
                        leaving=True,
                    )
                )
        with contextlib.suppress(InvalidAgentState):
            acd.presence.move(agent.agent_id, AgentState.LOGGED_OUT, reason="account deactivated")
    return fresh


def transfer_call(
    session: Session,
    *,
    acd: Acd,
    notifier: CallNotifier,
    call: Call,
    queue: str | None = None,
    agent_id: int | None = None,
    clock: Clock,
) -> list[Offer]:
    """Blind transfer of a bridged call to a queue, or to one agent (through the call's
    queue): the current agent is released to wrap-up and the call waits for the next."""
    target = queue or call.queue
    if target is None or (queue is None) == (agent_id is None):
        raise TransferInvalid(
            "transfer to exactly one of a queue or an agent",
            details={"queue": queue, "agent_id": agent_id},
        )
    if agent_id is not None and agent_id == call.agent_id:
        raise TransferInvalid("the call is already with this agent", details={"agent_id": agent_id})
    if call.consult_agent_id is not None:
        # The colleague would stay on the call, bridged to whoever takes it next.
        raise TransferInvalid(
            "a consultation is under way: hand the call over or end the consultation first",
            details={"consult_agent_id": call.consult_agent_id},
        )
    if agent_id is not None and acd.presence.get(agent_id).state is not AgentState.AVAILABLE:
        raise AgentUnavailable(f"agent {agent_id} is not available", details={"agent_id": agent_id})
    bridged = services.Bridged.of(call)
    previous = bridged.agent_id
    assert bridged.queue is not None
    # The move is announced only once it is written, and the agent released only once it
    # is announced: until then the caller is still with them. If the write or the
    # announcement fails, no channel moves the caller, and the agent's console gets the
    # error: trying again completes the transfer.
    call.agent_id = None
    call.agent_leg = None
    call.held_at = None
    # Held by the caller's lock: never finds the call ended.
    services.enqueue_call(
        session, notifier=notifier, call=call, queue=target, clock=clock, announce=False
    )
    try:
        notifier.transferred(
            call, previous_agent_id=previous, agent_leg=bridged.agent_leg, at=clock()
        )
    except BusUnavailable:
        # Written, but announced to no channel (both events or neither): the caller is
        # still with the agent, or on hold, in no queue of the ACD. Written back as it
        # was, so that trying again (the console's click, the provider's retry of the
        # agent leg's end) completes the transfer. (A Redis that fails after applying the
        # events, a crash, most likely loses them with the rest of its recent writes.)
        taken = services.take_back_transfer(session, call=call, bridged=bridged)
        log.warning("transfer not announced", call=call.id, taken_back=taken)
        if not taken:
            # The caller hung up since the write, and the hang-up found no agent on the
            # call to release (else the orphan check frees them once Redis is back).
            with contextlib.suppress(redis.RedisError, BusUnavailable):
                acd.end_call(previous, bridged.queue, call.id)
        raise
    # Announced: the caller has left the agent, who is released even if the ACD's step
    # fails (the lost-call sweep then queues the caller again), and even if the caller
    # hung up since the write (the hang-up found no agent on the call).
    try:
        offer = None
        if agent_id is not None:
            # None when the agent was taken since the check above, and the call has moved
            # already: it waits at the front of the queue rather than failing with its
            # caller nowhere. None too when the caller hung up since the call was written
            # as waiting: the ACD refuses an ended call, and dispatching the queue offers
            # the others.
            offer = acd.offer_to(call.id, target, agent_id, customer_ids=call.customer_ids)
        elif acd.enqueue(call.id, target, priority=0, customer_ids=call.customer_ids) is None:
            return []  # the caller hung up meanwhile: the ACD refuses an ended call
        made = [offer] if offer is not None else acd.dispatch(target)
    finally:
        acd.end_call(previous, bridged.queue, call.id)
    return record_offers(session, acd, made)


def consult(
    session: Session, *, acd: Acd, notifier: CallNotifier, call: Call, agent_id: int, clock: Clock
) -> Offer:
    """Attended transfer, first step: the caller is held and a colleague's phone rings;
    once they pick up, the two agents talk before the call is handed over (or not)."""
    if call.consult_agent_id is not None:
        raise TransferInvalid(
            "a consultation is already under way",
            details={"consult_agent_id": call.consult_agent_id},
        )
    if call.queue is None:
        raise TransferInvalid("only a call from a queue is handed over", details={})
    if agent_id == call.agent_id:
        raise TransferInvalid("the call is already with this agent", details={"agent_id": agent_id})
    offer = acd.consult_offer(call.id, call.queue, agent_id)
    call.held_at = call.held_at or clock()
    call.consult_agent_id = agent_id
    session.add(call)
    session.commit()
    notifier.held(call, call.held_at)
    notifier.consult_offered(
        call,
        consultant_id=agent_id,
        at=offer.offered_at,
        expires_at=offer.expires_at,
        changes=offer.changes,
    )
    return offer


def consult_answered(
    session: Session,
    *,
    acd: Acd,
    notifier: CallNotifier,
    call_id: str,
    agent_id: int,
    leg: str | None,
    clock: Clock,
) -> Call:
    """The colleague picked up (on ``leg``, where the channel names it).

    Held as an agent's answer is (:func:`agent_answered`): a caller hanging up at the same
    moment waits, then finds the colleague's leg and hangs it up with the call; one that
    came first leaves the call ended, and the pick-up is refused."""
    call = services.lock_call(session, call_id=call_id)
    if call.state is CallState.ENDED:
        raise NoSuchOffer(
            f"call {call_id} is over", details={"call_id": call_id, "agent_id": agent_id}
        )
    acd.consult_answered(call_id, agent_id)
    call.consult_leg = leg
    session.add(call)
    session.commit()
    notifier.consult_answered(call, clock())
    return call


def complete_consult(
    session: Session, *, acd: Acd, notifier: CallNotifier, call: Call, clock: Clock
) -> Call:
    """Attended transfer, last step: the colleague who is on the line takes the call, and
    the agent is released to wrap-up."""
    consultant = call.consult_agent_id
    agent = acd.presence.get(consultant) if consultant is not None else None
    if agent is None or agent.state is not AgentState.ON_CALL or agent.call_id != call.id:
        raise ConsultationNotReady(
            "the colleague has not picked up", details={"consult_agent_id": consultant}
        )
    previous, previous_leg = call.agent_id, call.agent_leg
    assert previous is not None and consultant is not None and call.queue is not None
    acd.end_call(previous, call.queue, call.id)
    now = clock()
    call.agent_id, call.agent_leg = consultant, call.consult_leg
    call.consult_agent_id = call.consult_leg = None
    call.held_at = None
    call.bridged_at = now
    session.add(call)
    session.commit()
    notifier.consult_completed(call, from_agent_id=previous, from_agent_leg=previous_leg, at=now)
    notifier.bridged(call)
    return call


def end_consult(
    session: Session, *, acd: Acd, notifier: CallNotifier, call: Call, clock: Clock
) -> Call:
    """The consultation ends without a handover: the colleague is freed, their leg hung
    up, and a caller still on the line is back with their agent."""
    consultant = call.consult_agent_id
    if consultant is None:
        raise ConsultationNotReady("no consultation is under way", details={"call_id": call.id})
    leg = call.consult_leg
    acd.consult_over(call.id, consultant, call.queue or "")
    call.consult_agent_id = call.consult_leg = None
    talking = call.state is CallState.BRIDGED
    if talking:
        call.held_at = None
    session.add(call)
    session.commit()
    now = clock()
    notifier.consult_ended(call, consultant_id=consultant, consult_leg=leg, at=now)
    if talking:
        notifier.resumed(call, now)
    return call


def finish_call(
    session: Session,
    *,
    acd: Acd,
    notifier: CallNotifier,
    call_id: str,
    disposition: Disposition,
    recording: FinishedWav | None,
    clock: Clock,
) -> Call:
    """The call is over, on whichever channel and however it ended (a hang-up, a failure,
    an endpoint found dead): logged, its agent released, its recording filed."""
    call = services.end_call(
        session, notifier=notifier, call_id=call_id, disposition=disposition, clock=clock
    )
    call_ended(session, acd=acd, notifier=notifier, call=call, clock=clock)
    if recording is not None:
        services.keep_recording(session, call=call, wav=recording, clock=clock)
    return call


def call_ended(
    session: Session, *, acd: Acd, notifier: CallNotifier, call: Call, clock: Clock
) -> None:
    """Tell the ACD a call is over: abandoned if it was waiting, wrap-up if it was answered;
    a call that ended otherwise unanswered (failed, busy, cancelled) leaves its queue and
    frees an agent it was ringing, without counting as abandoned. A consultation under
    way ends with it: the colleague is freed and their leg hung up, once, however many
    steps learn of the end (read again under the hold: the colleague's own leg may have
    ended it first)."""
    if call.consult_agent_id is not None:
        held = services.lock_call(session, call_id=call.id)
        if held.consult_agent_id is not None:
            end_consult(session, acd=acd, notifier=notifier, call=held, clock=clock)
        else:
            session.commit()  # nothing to end: only lets go of the call
    if (
        call.disposition is not Disposition.ABANDONED
        and call.agent_id is not None
        and call.bridged_at is not None
        and call.queue is not None
    ):
        talked = acd.end_call(call.agent_id, call.queue, call.id)
        # A call transferred keeps its first answer, and may be ringing its next agent.
        if talked is None and call.disposition is not None:
            _unanswered_end(acd, call.id, call.disposition)
    elif call.disposition is not None:
        _unanswered_end(acd, call.id, call.disposition)


def _unanswered_end(acd: Acd, call_id: str, disposition: Disposition | None) -> bool:
    """A call that ended while no agent had it out of the ACD: counted as abandoned when
    its caller gave up waiting; a call that failed, was busy or cancelled only leaves.
    Whether it was still in the ACD."""
    if disposition is Disposition.ABANDONED:
        return acd.abandon(call_id)
    ended = disposition.value if disposition is not None else "ended"
    return acd.withdraw(call_id, reason=f"call {ended}", ended=True)
