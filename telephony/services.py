"""Call lifecycle rules: start, queue, provider status, end."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, insert, inspect, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from core.db import table_of
from core.text import without_controls
from core.types import Clock
from orders import CallerLookup, lookup_caller, try_normalize_phone
from recordings import FinishedWav, RecordingKind, register_recording
from telephony.acd import Offer
from telephony.enums import (
    CallChannel,
    CallState,
    Direction,
    Disposition,
    OfferLogged,
    ProviderStatus,
)
from telephony.events import CallNotifier
from telephony.exceptions import CallNotFound
from telephony.models import LIVE, NUMBER_LENGTH, Call, CallStatusChange
from telephony.states import check_call_transition

_RANK = {
    ProviderStatus.QUEUED: 0,
    ProviderStatus.INITIATED: 0,
    ProviderStatus.RINGING: 1,
    ProviderStatus.IN_PROGRESS: 2,
}
_TERMINAL = {
    ProviderStatus.COMPLETED: Disposition.COMPLETED,
    ProviderStatus.BUSY: Disposition.BUSY,
    ProviderStatus.NO_ANSWER: Disposition.NO_ANSWER,
    ProviderStatus.FAILED: Disposition.FAILED,
    ProviderStatus.CANCELED: Disposition.CANCELED,
}


def ends_call(status: ProviderStatus) -> bool:
    """Whether a provider's status is the call's last (it has ended, however)."""
    return status in _TERMINAL


def _rank(status: ProviderStatus | None) -> int:
    if status is None:
        return -1
    return _RANK.get(status, 3)


def sole_customer(call: Call) -> int | None:
    """The customer a call belongs to: the one the caller's number names, or nobody when
    it names none or several (a shared family line) and no one can be picked for them."""
    return call.customer_ids[0] if len(call.customer_ids) == 1 else None


def start_inbound_call(
    session: Session,
    *,
    notifier: CallNotifier,
    channel: CallChannel,
    provider_id: str,
    from_number: str,
    to_number: str,
    region: str = "CN",
    answered: bool = False,
    clock: Clock,
) -> tuple[Call, CallerLookup]:
    """Log the call, resolve the caller once, publish ``call.ringing`` (and
    ``call.answered`` when the channel answers as it takes the call: Twilio does, with
    the TwiML of this very request).

    A provider retrying the same call (same ``provider_id``) gets the call it already has
    with the pop built the first time, and nothing is published twice. The row is committed
    only once the events are out: when publishing fails there is no row, so the provider's
    retry publishes them.
    """
    from_number, to_number = without_controls(from_number), without_controls(to_number)
    pop = lookup_caller(session, phone=from_number, region=region, clock=clock)
    now = clock()
    call = Call(
        id=uuid.uuid4().hex,
        channel=channel,
        direction=Direction.INBOUND,
        provider_id=provider_id,
        # A caller id is kept whole where it fits; a longer one (a SIP URI) is cut to the
        # log's column, after the pop and the E.164 form were read from all of it.
        from_number=from_number[:NUMBER_LENGTH],
        from_e164=try_normalize_phone(from_number, default_region=region),
        to_number=to_number[:NUMBER_LENGTH],
        customer_ids=[card.id for card in pop.customers],
        pop=pop.model_dump(mode="json"),
        ringing_at=now,
        answered_at=now if answered else None,
    )
    try:
        # A Core insert, the copy then kept as the row it wrote: the ORM's flush of the new
        # row cost a tenth of the call's CPU.
        session.connection().execute(_INSERT_CALL, {name: getattr(call, name) for name in _COLUMNS})
    except IntegrityError:
        # A retry of a call already logged (found by the unique provider id, not looked up
        # first: retries are rare, every call pays for a lookup).
        session.rollback()
        winner = find_by_provider_id(session, provider_id)
        assert winner is not None
        return winner, caller_pop(winner)
    make_transient_to_detached(call)
    session.add(call)
    shown = notifier.present_pop(session, pop, call.id)
    _publish_then_commit(session, lambda: notifier.ringing(call, pop, shown))
    return call, pop


def start_outbound_call(
    session: Session,
    *,
    channel: CallChannel,
    to_number: str,
    from_number: str,
    task_id: int,
    agent_id: int | None = None,
    region: str = "CN",
    clock: Clock,
) -> Call:
    """Log a call we place for an outbound task (by the dialer, or by ``agent_id`` from the
    console), with the customer's record as the pop; committed before the channel dials,
    so a status callback always finds its call."""
    pop = lookup_caller(session, phone=to_number, region=region, clock=clock)
    call = Call(
        id=uuid.uuid4().hex,
        channel=channel,
        direction=Direction.OUTBOUND,
        from_number=from_number,
        to_number=to_number,
        customer_ids=[card.id for card in pop.customers],
        pop=pop.model_dump(mode="json"),
        task_id=task_id,
        agent_id=agent_id,
        ringing_at=clock(),
    )
    session.add(call)
    session.commit()
    return call


def latest_call_of_task(session: Session, task_id: int) -> str | None:
    """The newest call placed for an outbound task: a late status of an older attempt's
    call must not speak for the attempt being made now."""
    return session.exec(
        select(Call.id)
        .where(Call.task_id == task_id)
        .order_by(col(Call.ringing_at).desc(), col(Call.id).desc())
    ).first()


def dialled(session: Session, *, call: Call, provider_id: str) -> Call:
    """The channel placed the call: its id there, for the status callbacks to find it."""
    call.provider_id = provider_id
    session.add(call)
    session.commit()
    return call


def adopt_provider_id(session: Session, *, call_id: str, provider_id: str) -> None:
    """The channel's first word on a call we placed, when the process that placed it died
    before keeping the channel's id (``dialled``): the call is ours, on that id. A call
    with an id already keeps it."""
    call = session.get(Call, call_id)
    if call is None or call.direction is not Direction.OUTBOUND or call.provider_id is not None:
        return
    if find_by_provider_id(session, provider_id) is not None:
        return
    dialled(session, call=call, provider_id=provider_id)


def _publish_then_commit(session: Session, publish: Callable[[], object]) -> None:
    """Commit what ``publish`` announces only once it is announced; a failed publish
    leaves nothing behind, so the caller's retry does it all again."""
    try:
        publish()
    except Exception:
        session.rollback()
        raise
    session.commit()


def find_by_provider_id(session: Session, provider_id: str, *, lock: bool = False) -> Call | None:
    """The call the provider names; ``lock``: held as ``lock_call`` holds it."""
    statement = _HELD_BY_PROVIDER_ID if lock else _BY_PROVIDER_ID
    return session.exec(statement, params={"provider_id": provider_id}).first()


def get_call(session: Session, *, call_id: str) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise CallNotFound(f"call {call_id} does not exist", details={"call_id": call_id})
    return call


def lock_call(session: Session, *, call_id: str) -> Call:
    """The call as last committed, held against other changes until this transaction ends
    (a row lock on PostgreSQL; on SQLite a writing session holds the database's lock from
    its first statement). Steps that must not interleave, an agent answering and the
    caller hanging up, each take it first."""
    call = session.exec(_HELD_BY_ID, params={"call_id": call_id}).first()
    if call is None:
        raise CallNotFound(f"call {call_id} does not exist", details={"call_id": call_id})
    session.info[_HOLDING] = (session.get_transaction(), session.get_nested_transaction(), call)
    return call


def hold_call(session: Session, *, call: Call) -> Call:
    """``call``, this session's copy, held as :func:`lock_call` holds it, for a step
    that goes on from that copy (a call's first turn, right after its arrival was
    committed). Only its state is read again: a call still ringing has been taken nowhere
    (no step leads back to ringing), and the fields another request may write without
    moving the state (the provider's status and id, the answer, an order attached) are
    neither read by a first turn nor written back, as the ORM writes only what this
    session changes. A call whose state moved, or one this session does not hold a copy
    of, is read whole.

    The whole row, the pop with it, read and merged into the session, cost the first turn
    as much CPU as its queueing's write."""
    if call not in session:
        return lock_call(session, call_id=call.id)
    state = session.connection().execute(_STATE_HELD, {"call_id": call.id}).scalar()
    if state is not call.state:
        return lock_call(session, call_id=call.id)
    session.info[_HOLDING] = (session.get_transaction(), session.get_nested_transaction(), call)
    return call


def _still_held(session: Session, call: Call) -> bool:
    """Whether this session's transaction took ``call`` with :func:`lock_call` or
    :func:`hold_call` and has not ended since (no commit, no rollback): the hold is then
    current, and the copy's state with it (its other fields as that step left them). A
    savepoint counts as its own transaction: rolled back, it lets go of what it locked."""
    holding = session.info.get(_HOLDING)
    if holding is None:
        return False
    transaction, savepoint, held = holding
    now = session.get_transaction()
    return (
        held is call
        and now is not None
        and now is transaction
        and now.is_active
        and session.get_nested_transaction() is savepoint
    )


def _held(condition: ColumnElement[bool]) -> SelectOfScalar[Call]:
    """The call matching ``condition``, locked for update and read afresh: a copy already in
    the session would otherwise hide what another transaction committed."""
    return select(Call).where(condition).with_for_update().execution_options(populate_existing=True)


# Built once: each call's path runs these, and building a statement cost about as much
# CPU as running it.
_BY_PROVIDER_ID = select(Call).where(col(Call.provider_id) == bindparam("provider_id"))
_HELD_BY_PROVIDER_ID = _held(col(Call.provider_id) == bindparam("provider_id"))
_HELD_BY_ID = _held(col(Call.id) == bindparam("call_id"))
_calls = table_of(Call).c
_COLUMNS = tuple(column.key for column in _calls)
_INSERT_CALL = insert(table_of(Call))
_STATE = select(_calls.state).where(_calls.id == bindparam("call_id"))
_HOLDING = "telephony.held_call"
"""Where :func:`lock_call` and :func:`hold_call` note the call they took and the
transaction that holds it."""

_STATE_HELD = _STATE.with_for_update()
_DISPOSITION = select(_calls.disposition).where(_calls.id == bindparam("call_id"))
_STATUS_CHANGE = insert(table_of(CallStatusChange))
_OFFER = (
    update(table_of(Call))
    .where(_calls.id == bindparam("call_id"))
    .values(state=CallState.OFFERED, agent_id=bindparam("offered_agent_id"))
)
_STATUS_WRITE = (
    update(table_of(Call))
    .where(_calls.id == bindparam("call_id"))
    .values(
        provider_status=bindparam("provider_status"),
        answered_at=bindparam("answered_at"),
        state=bindparam("state"),
        disposition=bindparam("disposition"),
        ended_at=bindparam("ended_at"),
    )
)
_TAKE_BACK = (
    update(table_of(Call))
    .where(
        _calls.id == bindparam("was_id"),
        _calls.state == CallState.QUEUED,
        _calls.agent_id.is_(None),
    )
    .values(
        state=CallState.BRIDGED,
        agent_id=bindparam("was_agent_id"),
        agent_leg=bindparam("was_agent_leg"),
        queue=bindparam("was_queue"),
        queued_at=bindparam("was_queued_at"),
        held_at=bindparam("was_held_at"),
    )
)
_QUEUED = (
    update(table_of(Call))
    .where(_calls.id == bindparam("call_id"))
    .values(state=CallState.QUEUED, queue=bindparam("to_queue"), queued_at=bindparam("at"))
)


def move_call(session: Session, call: Call, target: CallState) -> None:
    check_call_transition(call.id, call.state, target)
    call.state = target
    session.add(call)


def enter_ivr(session: Session, *, call: Call) -> Call:
    """The call is in the IVR; committed with the IVR's first turn."""
    if call.state is CallState.RINGING:
        move_call(session, call, CallState.IN_IVR)
    return call


def mark_offered(session: Session, offer: Offer, *, rings: Callable[[Offer], bool]) -> OfferLogged:
    """The waiting call rings ``offer``'s agent: written, unless the call has ended
    meanwhile or the offer is already over; a call logged in any other state raises
    :class:`InvalidCallTransition` (the log and the ACD disagree).

    The ACD decides offers; the log follows it, and ``rings`` tells whether the ACD still
    rings the offer's agent. It is asked with the call held (see :func:`lock_call`), as
    every miss and every other record holds it before they read the ACD, so none of them
    can come between the answer and the write. A call an agent declined or let ring out
    is back in the ACD's queue before the log says so, and another request's dispatch may
    offer it then: the log still shows it offered to the agent who missed it, and that
    offer is over, so it is written over (the miss, which holds the call next, then leaves
    the new offer alone). An offer written down late, after its agent missed it, is not:
    the log would name an agent the call does not ring for."""
    # Core statements: the ORM's took twice the CPU, most of it to find the session's copy
    # of the row, which is updated here directly when the session has one.
    session.flush()  # as the ORM's statement would: the row's pending changes go first
    connection = session.connection()
    state = connection.execute(_STATE_HELD, {"call_id": offer.call_id}).scalar()
    if state is CallState.ENDED:
        return OfferLogged.CALL_ENDED
    if state is None or not rings(offer):
        return OfferLogged.OVER
    if state not in (CallState.QUEUED, CallState.OFFERED):
        # The ACD rings an agent for a call the log shows elsewhere (bridged, in the IVR).
        check_call_transition(offer.call_id, state, CallState.OFFERED)
    connection.execute(_OFFER, {"call_id": offer.call_id, "offered_agent_id": offer.agent_id})
    held = session.identity_map.get(Session.identity_key(Call, offer.call_id))
    _written(held, state=CallState.OFFERED, agent_id=offer.agent_id)
    return OfferLogged.WRITTEN


def call_disposition(session: Session, *, call_id: str) -> Disposition | None:
    """How the call ended, as last committed (None while it goes on)."""
    found: Disposition | None = (
        session.connection().execute(_DISPOSITION, {"call_id": call_id}).scalar()
    )
    return found


def _written(call: Call | None, **values: object) -> None:
    """The session's copy of ``call`` (if it has one) takes what a Core statement wrote as
    its committed values: the ORM neither writes them again nor overwrites them with the
    copy's older ones.

    A copy left with nothing else to write is marked clean, as a flush leaves what it
    wrote: the session's next commit then skips the flush, whose unit of work found nothing
    to write for it and cost a tenth of a hang-up's CPU."""
    if call is None:
        return
    for name, value in values.items():
        set_committed_value(call, name, value)
    state = inspect(call)
    if state.modified and not state.committed_state and state.session is not None:
        state._commit_all(state.dict, state.session.identity_map)


def enqueue_call(
    session: Session,
    *,
    notifier: CallNotifier,
    call: Call,
    queue: str,
    clock: Clock,
    announce: bool = True,
) -> bool:
    """The call waits in ``queue``: committed before the ACD holds it. Another request's
    dispatch may offer it at once, and its conditional update finds the call queued only
    once that is committed (PostgreSQL does not wait for a row lock when the committed row
    does not match).

    False, and nothing written, when the caller has hung up since ``call`` was read: a
    turn that committed on its way here (an order created) had let go of the call.
    ``announce``: publish ``call.queued`` once committed (a transfer publishes it along
    with its own event)."""
    if call.state is CallState.QUEUED and call.queue == queue:
        return True
    # A turn that queues the caller has held the call since it began, unless it committed.
    held = call if _still_held(session, call) else lock_call(session, call_id=call.id)
    if held.state is CallState.ENDED:
        session.commit()  # nothing to write: only lets go of the call
        return False
    check_call_transition(held.id, held.state, CallState.QUEUED)
    now = clock()
    # A Core statement, as ``mark_offered`` writes: the ORM's flush of the three columns
    # took 0.29 ms of CPU against 0.18 for this (with the commit).
    session.connection().execute(_QUEUED, {"call_id": held.id, "to_queue": queue, "at": now})
    _written(held, state=CallState.QUEUED, queue=queue, queued_at=now)
    session.commit()
    if announce:
        notifier.queued(held)
    return True


@dataclass(frozen=True)
class Bridged:
    """What a transfer changes of a call with its agent, to write it back as it was."""

    agent_id: int
    agent_leg: str | None
    queue: str | None
    queued_at: datetime | None
    held_at: datetime | None

    @classmethod
    def of(cls, call: Call) -> Bridged:
        assert call.agent_id is not None
        return cls(call.agent_id, call.agent_leg, call.queue, call.queued_at, call.held_at)


def take_back_transfer(session: Session, *, call: Call, bridged: Bridged) -> bool:
    """A transfer written as waiting, whose announcement failed, goes back to how it was:
    with its agent, held if it was. Whether it did: a call that moved on since (a hang-up
    came between) is left as it is. An undo, not a step of the call's life: no transition
    leads from waiting back to an agent."""
    values = {
        "agent_id": bridged.agent_id,
        "agent_leg": bridged.agent_leg,
        "queue": bridged.queue,
        "queued_at": bridged.queued_at,
        "held_at": bridged.held_at,
    }
    params = {f"was_{name}": value for name, value in values.items()}
    taken = session.connection().execute(_TAKE_BACK, {"was_id": call.id, **params})
    if taken.rowcount:
        _written(call, state=CallState.BRIDGED, **values)
    session.commit()
    return bool(taken.rowcount)


def leave_queue(session: Session, *, call: Call) -> Call:
    """The caller left the queue for the IVR (overflow): back in the IVR, not abandoned.

    A call the log still shows offered left the queue right after its offer was missed:
    the miss puts the call back in the ACD's queue before it writes it back as queued, and
    the caller's wait check may take it out in between. The miss then finds it in the IVR
    and leaves it there."""
    if call.state is CallState.OFFERED:
        move_call(session, call, CallState.QUEUED)
        call.agent_id = None
    move_call(session, call, CallState.IN_IVR)
    session.commit()
    return call


def caller_pop(call: Call) -> CallerLookup:
    """The caller's record as built when the call arrived."""
    if call.pop is None:
        return CallerLookup(phone=call.from_e164 or call.from_number, customers=[])
    return CallerLookup.model_validate(call.pop)


def took_order(session: Session, *, call: Call, order_id: int) -> Call:
    """The caller logged a repair in the IVR: the first order taken in a call is the
    call's order (a caller may go on and log another), on every channel."""
    if call.order_id is None:
        attach_order(session, call=call, order_id=order_id)
    return call


def keep_recording(
    session: Session,
    *,
    call: Call,
    wav: FinishedWav,
    kind: RecordingKind = RecordingKind.CALL,
    order_id: int | None = None,
    clock: Clock,
) -> None:
    """A recording of this call (the whole call, a fault description, a voicemail), filed
    under the call, its sole customer, its agent and its order (``order_id``: the order a
    fault description was given for, when not the call's first)."""
    register_recording(
        session,
        call_id=call.id,
        customer_id=sole_customer(call),
        order_id=order_id or call.order_id,
        agent_id=call.agent_id,
        kind=kind,
        wav=wav,
        clock=clock,
    )


def attach_order(session: Session, *, call: Call, order_id: int) -> Call:
    call.order_id = order_id
    session.add(call)
    session.commit()
    return call


def apply_provider_status(
    session: Session,
    *,
    notifier: CallNotifier,
    provider_id: str,
    status: ProviderStatus,
    sequence_number: int | None = None,
    clock: Clock,
) -> Call:
    """Apply a provider status callback once, and never backwards.

    Providers retry and reorder callbacks: a status already applied, or one that ranks
    below the call's current status (a late ``ringing`` after ``completed``), changes
    nothing. So a status is committed only once its event is published: a callback that
    could not publish leaves the call as it was, and its retry applies it in full.
    """
    # Every status holds the call (see ``lock_call``): an agent answering as it ends goes
    # first, or finds it ended; and a status that came at the same moment as a later one
    # (``in-progress`` beside ``completed``, on another worker) is ranked against it, not
    # written over it.
    call = find_by_provider_id(session, provider_id, lock=True)
    if call is None:
        raise CallNotFound(
            f"no call has provider id {provider_id}", details={"provider_id": provider_id}
        )
    if _rank(status) <= _rank(call.provider_status) or call.state is CallState.ENDED:
        session.commit()  # nothing to write: only lets go of the call
        return call
    call.provider_status = status
    # Our TwiML answers an inbound call; an outbound one is answered when Twilio says so.
    answering = status is ProviderStatus.IN_PROGRESS and call.answered_at is None
    if answering:
        call.answered_at = clock()
    ended = status in _TERMINAL
    if ended:
        _end(session, call, _TERMINAL[status], clock)
    written = {
        "provider_status": status,
        "answered_at": call.answered_at,
        "state": call.state,
        "disposition": call.disposition,
        "ended_at": call.ended_at,
    }
    try:
        # Core statements, as ``mark_offered`` writes: the ORM's flush of the call cost the
        # hang-up about a tenth of its CPU, its insert of the status row as much again.
        session.connection().execute(_STATUS_WRITE, {"call_id": call.id, **written})
        _written(call, **written)
        session.connection().execute(
            _STATUS_CHANGE,
            {
                "call_id": call.id,
                "status": status,
                "sequence_number": sequence_number,
                "received_at": clock(),
            },
        )
    except IntegrityError:
        session.rollback()
        return get_call(session, call_id=call.id)
    if ended:
        _publish_then_commit(session, lambda: notifier.ended(call))
    elif answering:
        _publish_then_commit(session, lambda: notifier.answered(call))
    else:
        session.commit()
    return call


def answer_call(session: Session, *, notifier: CallNotifier, call: Call, clock: Clock) -> Call:
    """Our endpoint answered the call (SIP 200 OK sent)."""
    if note_answered(session, call=call, clock=clock):
        session.commit()
        notifier.answered(call)
    return call


def note_answered(session: Session, *, call: Call, clock: Clock) -> bool:
    """The call is answered now, unless it was already: written with what the session
    commits next, announced (``CallNotifier.answered``) once that is committed. Whether it
    was news."""
    if call.answered_at is not None:
        return False
    call.answered_at = clock()
    session.add(call)
    return True


def end_call(
    session: Session,
    *,
    notifier: CallNotifier,
    call_id: str,
    disposition: Disposition = Disposition.COMPLETED,
    clock: Clock,
) -> Call:
    """The call is over (either side hung up); ending it twice changes nothing."""
    call = lock_call(session, call_id=call_id)
    if call.state is CallState.ENDED:
        session.commit()  # nothing to write: only lets go of the call
        return call
    _end(session, call, disposition, clock)
    session.add(call)
    session.commit()
    notifier.ended(call)
    return call


@dataclass(frozen=True)
class ProviderCall:
    """A live call as its channel knows it."""

    call_id: str
    provider_id: str
    ringing_at: datetime


def live_provider_calls(session: Session, *, channel: CallChannel) -> list[ProviderCall]:
    """Live calls of ``channel`` that carry the channel's id. Read by the index of live
    calls alone: the channel and the id are sorted out here, not in the query, where
    either would lead the planner to an index over every call ever made."""
    rows = session.connection().execute(
        core_select(_calls.id, _calls.provider_id, _calls.channel, _calls.ringing_at).where(LIVE)
    )
    return [
        ProviderCall(call_id, provider_id, ringing_at)
        for call_id, provider_id, on, ringing_at in rows
        if on == channel and provider_id is not None
    ]


def live_call_ids(session: Session, *, channel: CallChannel | None = None) -> set[str]:
    query = select(Call.id).where(LIVE)
    if channel is not None:
        query = query.where(Call.channel == channel)
    return set(session.exec(query).all())


def _end(session: Session, call: Call, disposition: Disposition, clock: Clock) -> None:
    # A caller who hangs up while waiting in a queue has abandoned the call.
    if disposition is Disposition.COMPLETED and call.state in {CallState.QUEUED, CallState.OFFERED}:
        disposition = Disposition.ABANDONED
    move_call(session, call, CallState.ENDED)
    call.disposition = disposition
    # The end may come on another clock (the end time Twilio gives, a process a little
    # behind): a call never ends before the moments its talk and its wait are counted
    # from, which would count less than nothing in the reports.
    logged = (call.ringing_at, call.answered_at, call.queued_at, call.bridged_at)
    call.ended_at = max(clock(), *(moment for moment in logged if moment is not None))
