"""One call's life, whatever the channel: arrive, caller input, enqueue, overflow, hold,
transfer, finish.

A channel adapter (the Twilio webhooks, the SIP endpoint's call thread) translates its
protocol into these steps and renders what they return: an IVR turn as TwiML or audio, a
voicemail as a ``<Record>`` or a recorded message. The IVR's state lives in Redis between
steps, so any process can take a call's next step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlmodel import Session

from callbacks import Outcome, claimed_dials, dial_ended, release_dial
from core.bus import as_text
from core.types import Clock
from ivr import CallerInput, Engine, FlowError, IvrSession, Turn, store
from orders import user_names
from recordings import FinishedWav, RecordingKind
from telephony import routing, services
from telephony.acd import Offer, QueueFigures
from telephony.constants import EARLY_END
from telephony.enums import CallChannel, CallState, Disposition, ProviderStatus
from telephony.exceptions import (
    CallNotBridged,
    CallNotFound,
    ConsultationUnderWay,
    TransferInvalid,
)
from telephony.ivr_backend import DatabaseBackend
from telephony.models import Call
from telephony.presence import Agent, AgentState
from telephony.schemas import TransferAgent, TransferTargets
from telephony.switchboard import Switchboard

DEFAULT_LANGUAGE = "zh-CN"
"""The language of a caller whose IVR state is gone (it expired with a very long call)."""


EARLY_END_SECONDS = 600
"""How long the end of a call not logged yet is kept: far longer than logging one takes."""


@dataclass(frozen=True)
class Voicemail:
    """The caller overflowed to voicemail: ask for a message, record it, say goodbye; the
    recording is filed under the call with :func:`file_recording`."""

    language: str
    prompt: str
    goodbye: str

    @classmethod
    def of(cls, board: Switchboard, language: str) -> Voicemail:
        prompts = board.flow.prompts.get(language) or board.flow.prompts[DEFAULT_LANGUAGE]
        return cls(language=language, prompt=prompts["voicemail"], goodbye=prompts["goodbye"])


def arrive(
    session: Session,
    board: Switchboard,
    *,
    channel: CallChannel,
    provider_id: str,
    from_number: str,
    to_number: str,
    answered: bool = False,
    clock: Clock,
) -> Call:
    """Log the call and pop the caller's record (built once, kept with the call); a
    provider's retry of the same call gets the call it already has. ``answered``: the
    channel answers the call as it takes it (Twilio, by the TwiML of the same request)."""
    call, _pop = services.start_inbound_call(
        session,
        notifier=board.notifier,
        channel=channel,
        provider_id=provider_id,
        from_number=from_number,
        to_number=to_number,
        region=board.region,
        answered=answered,
        clock=clock,
    )
    # redis-py types the sync client's replies as ``Awaitable | Any``.
    early = cast(
        "str | bytes | None", board.events.client.getdel(EARLY_END.format(provider_id=provider_id))
    )
    if early is not None:  # the caller hung up before the call was logged
        status = ProviderStatus(as_text(early))
        ended = provider_status(
            session,
            board,
            provider_id=provider_id,
            status=status,
            sequence_number=None,
            clock=clock,
        )
        return ended or call
    return call


def answered(session: Session, board: Switchboard, *, call: Call, clock: Clock) -> Call:
    """Our endpoint took the call off the hook (a SIP 200 OK); a Twilio call is answered
    as it arrives (:func:`arrive` with ``answered``)."""
    return services.answer_call(session, notifier=board.notifier, call=call, clock=clock)


def begin(session: Session, board: Switchboard, *, call: Call, clock: Clock) -> Turn | None:
    """The IVR greets the caller; a flow that routes straight to an agent queues them.
    None when the caller has hung up already.

    The call is held for the turn, as for every later one (:func:`caller_input`): a
    hang-up that another request learns of meanwhile waits, then ends the call as the turn
    leaves it, instead of being written over with the turn's copy of the call."""
    call = services.hold_call(session, call=call)
    if call.state is CallState.ENDED:
        session.commit()  # nothing to write: only lets go of the call
        return None
    services.enter_ivr(session, call=call)
    state, turn = _engine(session, board, call, clock).start(
        call_id=call.id, pop=services.caller_pop(call)
    )
    _after_turn(session, board, call, state, clock)
    return turn


def caller_input(
    session: Session,
    board: Switchboard,
    *,
    call_id: str,
    given: CallerInput,
    recordings: Iterable[FinishedWav] = (),
    clock: Clock,
) -> Turn | None:
    """The caller pressed keys, spoke, recorded a fault description or stayed silent: the
    flow's next turn, or None when the call's IVR state is gone (the call is over).

    The first order the caller logs becomes the call's order; recordings made for this
    input (a fault in the caller's own words) are filed under the call. The call is held
    for the turn (see :func:`begin`)."""
    call = services.lock_call(session, call_id=call_id)
    state = store.load(board.events.client, call.id) if call.state is not CallState.ENDED else None
    if state is None:
        session.commit()  # nothing to write: only lets go of the call
        return None
    backend = _backend(session, board, call, clock, turn_key=_turn_key(state))
    finished = state.finished
    state, turn = Engine(board.flows.get(state.flow, board.flow), backend).handle(state, given)
    if finished and call.state is not CallState.IN_IVR:
        # Sent again after the call left the IVR: it is waiting, offered or talking, and
        # queueing it once more would take it from an agent ringing for it. Were it lost
        # from the ACD on the way (the first try failed there), the offer sweep queues it
        # again.
        session.commit()  # nothing to write: only lets go of the call
        return turn
    if backend.created_order_id is not None:
        services.took_order(session, call=call, order_id=backend.created_order_id)
    for wav in recordings:
        services.keep_recording(
            session,
            call=call,
            wav=wav,
            kind=RecordingKind.FAULT,
            order_id=backend.created_order_id,
            clock=clock,
        )
    _after_turn(session, board, call, state, clock)
    return turn


def language(board: Switchboard, call_id: str) -> str:
    state = store.load(board.events.client, call_id)
    return state.language if state is not None else DEFAULT_LANGUAGE


def _after_turn(
    session: Session, board: Switchboard, call: Call, state: IvrSession, clock: Clock
) -> None:
    store.save(board.events.client, state)
    if state.queue is not None:
        enqueue(session, board, call=call, queue=state.queue, clock=clock)
    else:
        session.commit()


def enqueue(
    session: Session, board: Switchboard, *, call: Call, queue: str, clock: Clock
) -> list[Offer]:
    """Wait for an agent of ``queue``, ahead of others when the caller has an open urgent
    order; the agent an offer goes to is rung from ``call.offered``, on any channel."""
    return routing.queue_call(
        session,
        acd=board.acd,
        notifier=board.notifier,
        call=call,
        queue=queue,
        priority=routing.caller_priority(services.caller_pop(call)),
        clock=clock,
    )


def take_for_overflow(board: Switchboard, *, call_id: str) -> bool:
    """Take a caller who has waited past the queue's maximum out of the queue (the ACD
    alone, no database: waiting callers ask every second); False while the wait is not
    over, or when an offer came first (it wins). :func:`overflow` says what they hear."""
    return board.acd.overflow_if_waited(call_id)


def overflow(
    session: Session, board: Switchboard, *, call_id: str, clock: Clock
) -> Turn | Voicemail:
    """What a caller who left the queue hears: the flow's overflow (a callback booking)
    when the queue overflows to callbacks and the flow has one, else voicemail. The call
    is held while it leaves the queue: a hang-up meanwhile stays a hang-up."""
    call = services.lock_call(session, call_id=call_id)
    if call.state in (CallState.QUEUED, CallState.OFFERED):
        services.leave_queue(session, call=call)
    state = store.load(board.events.client, call.id)
    choice = board.acd.config(call.queue or "").overflow
    if state is None:
        return Voicemail.of(board, DEFAULT_LANGUAGE)
    resumed = (
        Engine(board.flow, _backend(session, board, call, clock)).overflow(state)
        if choice == "callback"
        else None
    )
    if resumed is None:
        return Voicemail.of(board, state.language)
    state, turn = resumed
    _after_turn(session, board, call, state, clock)
    return turn


def file_recording(session: Session, *, call_id: str, wav: FinishedWav, clock: Clock) -> None:
    """The message a caller left when the queue overflowed to voicemail."""
    services.keep_recording(
        session,
        call=services.get_call(session, call_id=call_id),
        wav=wav,
        kind=RecordingKind.VOICEMAIL,
        clock=clock,
    )


def hold(session: Session, board: Switchboard, *, call_id: str, held: bool, clock: Clock) -> Call:
    """The caller hears music while held (the agent hears nothing), until resumed. A hold
    of a call already held, or a resume of one not held (a double click, a second tab),
    changes nothing and tells nobody: its channel must not steer the call again."""
    call = _bridged(session, call_id)
    if (call.held_at is not None) == held:
        session.commit()  # nothing to write: only lets go of the call
        return call
    if call.consult_agent_id is not None:
        session.commit()  # nothing to write: only lets go of the call
        # The caller would hear the agent again while the colleague talked on alone: on
        # Twilio the agent's leg leaves the consultation room.
        raise ConsultationUnderWay(
            "a consultation is under way: end it, and the caller comes back, or hand the call over",
            details={"call_id": call.id, "consult_agent_id": call.consult_agent_id},
        )
    call.held_at = clock() if held else None
    session.add(call)
    session.commit()
    if held:
        board.notifier.held(call, clock())
    else:
        board.notifier.resumed(call, clock())
    return call


def transfer(
    session: Session,
    board: Switchboard,
    *,
    call_id: str,
    queue: str | None = None,
    agent_id: int | None = None,
    clock: Clock,
) -> list[Offer]:
    """Blind transfer to a queue or one available agent: the agent is released to wrap-up
    and the caller waits for the target, whose phone rings from ``call.offered``. A queue
    is one of the known ones: a caller sent to a misspelt queue waited there, unstaffed,
    until its maximum wait, and the name then showed among the queues for good."""
    if queue is not None and queue not in (known := known_queues(board)):
        raise TransferInvalid(
            f"there is no queue {queue}", details={"queue": queue, "queues": sorted(known)}
        )
    call = _bridged(session, call_id)
    return routing.transfer_call(
        session,
        acd=board.acd,
        notifier=board.notifier,
        call=call,
        queue=queue,
        agent_id=agent_id,
        clock=clock,
    )


def agent_leg_ended(
    session: Session, board: Switchboard, *, call_id: str, agent_id: int, leg: str, clock: Clock
) -> list[Offer]:
    """The agent's own leg ended. While the two talk, the caller's leg leaves the bridge
    with it and the channel ends the call; while the caller is held nothing bridges them,
    and nothing else would tell: the agent's phone or browser went away. The caller goes
    back to the queue, ahead of the others, instead of hearing the hold music until they
    give up; the agent, to wrap-up. Any other end of a leg (an old one, a talk that ended
    on its own) changes nothing."""
    call = services.lock_call(session, call_id=call_id)
    parked = (
        call.state is CallState.BRIDGED
        and call.held_at is not None
        and call.consult_agent_id is None
        and (call.agent_id, call.agent_leg) == (agent_id, leg)
    )
    if not parked:
        session.commit()  # nothing to write: only lets go of the call
        return []
    return routing.transfer_call(
        session, acd=board.acd, notifier=board.notifier, call=call, queue=call.queue, clock=clock
    )


def _bridged(session: Session, call_id: str) -> Call:
    """The call, held against a hang-up at the same moment (see ``services.lock_call``):
    an agent's hold, transfer or handover goes first or finds the call ended."""
    call = services.lock_call(session, call_id=call_id)
    if call.state is not CallState.BRIDGED:
        raise CallNotBridged(
            f"call {call_id} is {call.state.value}, not connected to an agent",
            details={"call_id": call_id, "state": call.state.value},
        )
    return call


def finish(
    session: Session,
    board: Switchboard,
    *,
    call_id: str,
    disposition: Disposition = Disposition.COMPLETED,
    recording: FinishedWav | None = None,
    clock: Clock,
) -> Call:
    """The call is over, however it ended: logged, its agent released, its recording
    filed; a survey call's attempt ends with it."""
    call = routing.finish_call(
        session,
        acd=board.acd,
        notifier=board.notifier,
        call_id=call_id,
        disposition=disposition,
        recording=recording,
        clock=clock,
    )
    _attempt_over(session, call, clock)
    return call


def _backend(
    session: Session, board: Switchboard, call: Call, clock: Clock, turn_key: str | None = None
) -> DatabaseBackend:
    return DatabaseBackend(
        session,
        phone=call.from_number,
        callers=call.customer_ids,
        task_id=call.task_id,
        region=board.region,
        turn_key=turn_key,
        clock=clock,
    )


def _turn_key(state: IvrSession) -> str:
    """The same for an input sent again: its retry finds the IVR's state as the first try
    found it, which had not kept the state it left (a 503 after the order was logged).
    Another input of the call, a second repair even, comes to a state the first changed."""
    return "ivr:" + hashlib.sha256(state.model_dump_json().encode()).hexdigest()[:40]


def _engine(session: Session, board: Switchboard, call: Call, clock: Clock) -> Engine:
    return Engine(board.flow, _backend(session, board, call, clock))


def provider_status(
    session: Session,
    board: Switchboard,
    *,
    provider_id: str,
    placed_call_id: str | None = None,
    status: ProviderStatus,
    sequence_number: int | None,
    clock: Clock,
) -> Call | None:
    """A provider's word on the call (Twilio's CallStatus), applied once and never
    backwards; a call it ends is finished like any other. ``placed_call_id`` is the call
    we placed, as named in the callback's URL.

    The end of a call not logged yet is kept for a while, and None returned: the caller
    hung up while the request that logs the call was still at it, and the provider does
    not tell twice. :func:`arrive` ends the call with it."""
    if placed_call_id is not None:
        services.adopt_provider_id(session, call_id=placed_call_id, provider_id=provider_id)
    try:
        call = _apply_status(session, board, provider_id, status, sequence_number, clock)
    except CallNotFound:
        if placed_call_id is not None or not services.ends_call(status):
            raise
        early = EARLY_END.format(provider_id=provider_id)
        board.events.client.set(early, status.value, ex=EARLY_END_SECONDS)
        # The call's request may have logged it since it was looked for, and missed this.
        if services.find_by_provider_id(session, provider_id) is None:
            return None
        board.events.client.delete(early)
        call = _apply_status(session, board, provider_id, status, sequence_number, clock)
    if call.state is CallState.ENDED:
        routing.call_ended(session, acd=board.acd, notifier=board.notifier, call=call, clock=clock)
        _attempt_over(session, call, clock)
    return call


def _apply_status(
    session: Session,
    board: Switchboard,
    provider_id: str,
    status: ProviderStatus,
    sequence_number: int | None,
    clock: Clock,
) -> Call:
    return services.apply_provider_status(
        session,
        notifier=board.notifier,
        provider_id=provider_id,
        status=status,
        sequence_number=sequence_number,
        clock=clock,
    )


def begin_survey(
    session: Session, board: Switchboard, *, call: Call, flow: str, clock: Clock
) -> Turn | None:
    """The customer we called picked up: the survey flow starts, as the hotline's flow
    does for a caller (the same engine, the same turns). None when they have hung up
    already.

    The call is held for the first turn, as :func:`begin` holds a caller's: a hang-up
    learnt meanwhile (the customer who answers and hangs up at once) waits, then ends the
    call as the turn leaves it, instead of being written over with a survey under way.
    The answer is written with the turn: one learnt after the hang-up would be logged, and
    announced, after the call's end."""
    survey = board.flows.get(flow)
    if survey is None:
        raise FlowError(f"{flow}.yaml", None, "no such survey flow is loaded")
    call = services.hold_call(session, call=call)
    if call.state is CallState.ENDED:
        session.commit()  # nothing to write: only lets go of the call
        return None
    answering = services.note_answered(session, call=call, clock=clock)
    services.enter_ivr(session, call=call)
    state, turn = Engine(survey, _backend(session, board, call, clock)).start(
        call_id=call.id, pop=services.caller_pop(call)
    )
    _after_turn(session, board, call, state, clock)
    if answering:
        board.notifier.answered(call)
    return turn


def machine_answered(session: Session, board: Switchboard, *, call: Call, clock: Clock) -> None:
    """An answering machine took the survey call: no survey is left on a machine."""
    if call.task_id is not None and services.latest_call_of_task(session, call.task_id) == call.id:
        dial_ended(session, call.task_id, Outcome.VOICEMAIL, now=clock())


_OUTCOME_OF = {
    Disposition.NO_ANSWER: Outcome.NO_ANSWER,
    Disposition.CANCELED: Outcome.NO_ANSWER,
    Disposition.BUSY: Outcome.BUSY,
    Disposition.FAILED: Outcome.WRONG_NUMBER,
    Disposition.COMPLETED: Outcome.REFUSED,
    Disposition.ABANDONED: Outcome.REFUSED,
}
"""What a survey call that ended without a score says about the attempt: answered and
hung up before scoring is a refusal; a failed call a number that cannot be reached."""


def _attempt_over(session: Session, call: Call, clock: Clock) -> None:
    """A survey call ended: its outcome, unless the survey already gave one, or a later
    attempt has been dialled since (a late callback of an earlier call changes nothing).
    An agent's own callback ends with the outcome the agent records, not the line's."""
    if call.task_id is None or call.agent_id is not None or call.disposition is None:
        return
    if services.latest_call_of_task(session, call.task_id) != call.id:
        return
    dial_ended(session, call.task_id, _OUTCOME_OF[call.disposition], now=clock())


def dial_failed(session: Session, board: Switchboard, *, call_id: str, clock: Clock) -> Call:
    """A call we placed that never reached the callee: refused by the channel, not
    placed at all, or lost with the process placing it."""
    return services.end_call(
        session,
        notifier=board.notifier,
        call_id=call_id,
        disposition=Disposition.FAILED,
        clock=clock,
    )


def reconcile_dials(
    session: Session, board: Switchboard, *, stale_after: timedelta, clock: Clock
) -> int:
    """Survey dials claimed long ago and still in progress are settled from what the
    database says, so a killed worker or endpoint, or a restarted Redis, loses and doubles
    nothing: a claim whose call never reached the channel (no call, or a call without the
    channel's id) is released to be dialled again, no attempt counted; a call that ended
    without its attempt being closed (its process died at the hang-up) closes it now. A
    call the channel still has is left to the channel. The number released."""
    released = 0
    for task_id in claimed_dials(session, before=clock() - stale_after):
        latest = services.latest_call_of_task(session, task_id)
        call = services.get_call(session, call_id=latest) if latest else None
        if call is not None and call.provider_id is not None:
            if call.state is CallState.ENDED:
                _attempt_over(session, call, clock)
            continue
        if call is not None:
            dial_failed(session, board, call_id=call.id, clock=clock)
        # It has waited the claim timeout already: due again now.
        release_dial(session, task_id, now=clock(), due_at=clock())
        released += 1
    return released


def agent_answered(
    session: Session,
    board: Switchboard,
    *,
    call_id: str,
    agent_id: int,
    agent_leg: str | None = None,
    clock: Clock,
) -> Call:
    """The offered agent picked up (on ``agent_leg``, where the channel names it)."""
    return routing.agent_answered(
        session,
        acd=board.acd,
        notifier=board.notifier,
        call_id=call_id,
        agent_id=agent_id,
        agent_leg=agent_leg,
        clock=clock,
    )


def agent_missed(
    session: Session,
    board: Switchboard,
    *,
    call_id: str,
    agent_id: int,
    declined: bool = False,
    offered_at: datetime | None = None,
) -> list[Offer]:
    """The offered agent declined, was busy or did not answer: on to the next agent.
    ``offered_at`` names the offer a ring was for (a channel's ring outlives its offer)."""
    return routing.agent_missed(
        session,
        acd=board.acd,
        call_id=call_id,
        agent_id=agent_id,
        declined=declined,
        offered_at=offered_at,
    )


def take_offer(board: Switchboard, *, call_id: str, agent_id: int) -> Offer:
    """The agent took the call ringing for them in the console; the audio still comes on
    their phone, which rings on until they pick it up."""
    return board.acd.take(call_id, agent_id)


def known_queues(board: Switchboard, agents: list[Agent] | None = None) -> set[str]:
    """Every queue callers are sent to (by the flow), any other configured or used, and
    any agents staff (a queue only transfers send callers to is first used by one).
    ``agents``: presence as the caller has just read it."""
    staffed = {
        queue
        for agent in (board.acd.presence.all() if agents is None else agents)
        if agent.state is not AgentState.LOGGED_OUT
        for queue in agent.queues
    }
    return {*board.flow.queues(), *board.acd.queues(), *staffed}


def queue_figures(board: Switchboard, agents: list[Agent] | None = None) -> list[QueueFigures]:
    return [board.acd.figures(queue) for queue in sorted(known_queues(board, agents))]


def transfer_targets(session: Session, board: Switchboard, *, agent_id: int) -> TransferTargets:
    """Where an agent may send a call: the queues, and the other agents available now."""
    present = board.acd.presence.all()
    free = [
        agent.agent_id
        for agent in present
        if agent.state is AgentState.AVAILABLE and agent.agent_id != agent_id
    ]
    names = user_names(session, free)
    agents = [TransferAgent(agent_id=i, name=names[i]) for i in free if i in names]
    return TransferTargets(
        queues=queue_figures(board, present), agents=sorted(agents, key=lambda a: a.name)
    )


def consult(
    session: Session, board: Switchboard, *, call_id: str, agent_id: int, clock: Clock
) -> Offer:
    """Attended transfer: hold the caller and ring a colleague to talk to first."""
    call = _bridged(session, call_id)
    return routing.consult(
        session, acd=board.acd, notifier=board.notifier, call=call, agent_id=agent_id, clock=clock
    )


def consult_answered(
    session: Session,
    board: Switchboard,
    *,
    call_id: str,
    agent_id: int,
    leg: str | None = None,
    clock: Clock,
) -> Call:
    """The consulted colleague picked up (on ``leg``, where the channel names it)."""
    return routing.consult_answered(
        session,
        acd=board.acd,
        notifier=board.notifier,
        call_id=call_id,
        agent_id=agent_id,
        leg=leg,
        clock=clock,
    )


def complete_consult(session: Session, board: Switchboard, *, call_id: str, clock: Clock) -> Call:
    """Hand the call to the colleague on the line; the agent is released."""
    call = _bridged(session, call_id)
    return routing.complete_consult(
        session, acd=board.acd, notifier=board.notifier, call=call, clock=clock
    )


def end_consult(
    session: Session,
    board: Switchboard,
    *,
    call_id: str,
    consultant: int | None = None,
    clock: Clock,
) -> Call:
    """The consultation ends without a handover (cancelled by the agent, missed,
    declined or hung up by the colleague): the caller is back with the agent.

    ``consultant``: only a consultation still with this colleague ends; one handed over
    to them meanwhile is the call itself now, and stays. The call is held while it ends,
    so a handover and an end of the same consultation never both happen."""
    call = services.lock_call(session, call_id=call_id)
    if consultant is not None and call.consult_agent_id != consultant:
        session.commit()  # nothing to end: only lets go of the call
        return call
    return routing.end_consult(
        session, acd=board.acd, notifier=board.notifier, call=call, clock=clock
    )


def hang_up(session: Session, board: Switchboard, *, call_id: str, clock: Clock) -> Call:
    """The agent ends the call from the console: the channel carrying it hangs up both
    legs and finishes the call as if the caller had hung up."""
    call = _bridged(session, call_id)
    board.notifier.hang_up(call, clock())
    return call
