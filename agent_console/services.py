"""The console's rules: whose call it is, and what an agent does from the screen pop."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import cast

import redis
from sqlmodel import Session, select

from agent_console.config import ConsoleConfig
from agent_console.exceptions import RecordingNotFound
from agent_console.models import CallNote
from agent_console.pop import build_pop, card_for
from agent_console.schemas import (
    CallNoteIn,
    CallNotePublic,
    CallOrderIn,
    MyConsole,
    NewCallerIn,
    PopCard,
    ScreenPop,
)
from core.errors import PermissionDenied
from core.types import Clock
from orders import (
    Actor,
    ApplianceCreate,
    AuditAction,
    CallerCard,
    CallerLookup,
    Channel,
    CustomerCreate,
    OrderCreate,
    OrderPublic,
    PhoneIn,
    Role,
    caller_cards,
    create_appliance,
    create_customer,
    create_order,
    get_customer,
    lookup_caller,
    record_audit,
    try_normalize_phone,
)
from recordings import Recording
from telephony import (
    AGENT_CHOICES,
    LIVE,
    POP,
    Call,
    CallNotFound,
    Presence,
    attach_order,
    caller_pop,
)

SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})


def call_for(session: Session, *, call_id: str, actor: Actor) -> Call:
    """The call, if this actor may act on it: the agent it was offered to, or a supervisor.

    Another agent's call is reported as missing, so its existence is not given away.
    """
    call = session.get(Call, call_id)
    if call is None or (actor.role not in SUPERVISING and call.agent_id != actor.id):
        raise CallNotFound(f"call {call_id} does not exist", details={"call_id": call_id})
    return call


def pop_for_call(
    session: Session,
    *,
    bus: redis.Redis,
    call_id: str,
    actor: Actor,
    config: ConsoleConfig,
    region: str = "CN",
    clock: Clock,
) -> ScreenPop:
    """The pop as it is now: the customers resolved at ringing (kept with the call, or
    for a call logged before calls kept them, in Redis), with their orders, complaints
    and appliances read again, so what changed during the call shows; a caller nobody
    knew at ringing is looked up again (the agent may have just created them)."""
    call = call_for(session, call_id=call_id, actor=actor)
    # redis-py types the sync client's replies as ``Awaitable | Any``.
    raw = (
        None
        if call.pop is not None
        else cast("str | bytes | None", bus.get(POP.format(call_id=call.id)))
    )
    if call.pop is not None:
        lookup = caller_pop(call)
    elif raw:
        lookup = CallerLookup.model_validate_json(raw)
    else:
        lookup = CallerLookup(phone=call.from_number, customers=[])
    if lookup.customers:
        ids = [card.id for card in lookup.customers]
        lookup = CallerLookup(
            phone=lookup.phone, customers=caller_cards(session, customer_ids=ids, clock=clock)
        )
    else:
        lookup = lookup_caller(session, phone=call.from_number, region=region, clock=clock)
    return build_pop(session, lookup=lookup, call_id=call.id, now=clock(), config=config)


def create_order_for_call(
    session: Session,
    *,
    call_id: str,
    data: CallOrderIn,
    actor: Actor,
    clock: Clock,
    request_key: str | None = None,
) -> OrderPublic:
    """A work order from the pop, taken by phone, at the customer's primary address.

    The call's first order is linked to the call, as an order made in the IVR is.
    """
    call = call_for(session, call_id=call_id, actor=actor)
    customer = get_customer(session, customer_id=data.customer_id)
    primary = [a for a in customer.addresses if a.is_primary] or customer.addresses
    order = create_order(
        session,
        data=OrderCreate(
            customer_id=data.customer_id,
            appliance_id=data.appliance_id,
            address_id=primary[0].id if primary else None,
            urgency=data.urgency,
            channel=Channel.PHONE,
            fault_description=data.fault_description,
        ),
        actor=actor,
        clock=clock,
        request_key=request_key,
    )
    if call.order_id is None:
        attach_order(session, call=call, order_id=order.id)
    return order


def add_caller(
    session: Session,
    *,
    call_id: str,
    data: NewCallerIn,
    actor: Actor,
    config: ConsoleConfig,
    region: str = "CN",
    clock: Clock,
) -> PopCard:
    """A customer for an unknown caller, with the number they call from (when it has one).

    The same caller added again during the call (a double click, a browser's retry) is the
    customer already added: one on the number, of the same name, the call did not know of
    when it arrived. Its appliance is added if that customer lacks it: the first add may
    have been refused at the appliance (a date), after the customer was written."""
    call = call_for(session, call_id=call_id, actor=actor)
    number = try_normalize_phone(call.from_number, default_region=region)
    if number is not None:
        on_number = lookup_caller(session, phone=number, region=region, clock=clock).customers
        added = [c for c in on_number if c.id not in call.customer_ids and c.name == data.name]
        if added:
            card = added[0]
            wanted = data.appliance
            if wanted is not None and not any(
                (a.category, a.brand, a.model) == (wanted.category, wanted.brand, wanted.model)
                for a in card.appliances
            ):
                create_appliance(
                    session,
                    data=ApplianceCreate(customer_id=card.id, **wanted.model_dump()),
                    actor=actor,
                    clock=clock,
                )
                [card] = caller_cards(session, customer_ids=[card.id], clock=clock)
            return card_for(card, now=clock(), deadlines={}, calls=[])
    created = create_customer(
        session,
        data=CustomerCreate(
            name=data.name,
            title=data.title,
            preferred_language=data.preferred_language,
            phones=[PhoneIn(number=number, label="来电")] if number else [],
            addresses=[data.address] if data.address else [],
        ),
        actor=actor,
        region=region,
        clock=clock,
    )
    owned = []
    if data.appliance is not None:
        fields = data.appliance.model_dump()
        owned.append(
            create_appliance(
                session,
                data=ApplianceCreate(customer_id=created.id, **fields),
                actor=actor,
                clock=clock,
            )
        )
    card = CallerCard(
        **created.model_dump(include={"id", "name", "title", "preferred_language", "notes"}),
        phones=created.phones,
        addresses=created.addresses,
        appliances=owned,
        open_orders=[],
        recent_orders=[],
        open_complaints=0,
    )
    return card_for(card, now=clock(), deadlines={}, calls=[])


def save_note(
    session: Session, *, call_id: str, data: CallNoteIn, actor: Actor, clock: Clock
) -> CallNotePublic:
    """Set the actor's notes and disposition on the call (one note per call and agent)."""
    call = call_for(session, call_id=call_id, actor=actor)
    assert actor.id is not None
    note = session.exec(
        select(CallNote).where(CallNote.call_id == call.id, CallNote.agent_id == actor.id)
    ).first()
    now = clock()
    if note is None:
        note = CallNote(call_id=call.id, agent_id=actor.id, created_at=now, updated_at=now)
    note.disposition = data.disposition
    note.notes = data.notes
    note.updated_at = now
    session.add(note)
    session.commit()
    return CallNotePublic.model_validate(note, from_attributes=True)


def notes_of_call(session: Session, *, call_id: str, actor: Actor) -> list[CallNotePublic]:
    call = call_for(session, call_id=call_id, actor=actor)
    rows = session.exec(select(CallNote).where(CallNote.call_id == call.id)).all()
    return [CallNotePublic.model_validate(row, from_attributes=True) for row in rows]


def my_console(presence: Presence, *, actor: Actor, now: datetime) -> MyConsole:
    assert actor.id is not None
    last_event_id = presence.bus.last_id()
    agent = presence.get(actor.id)
    return MyConsole(
        state=agent.state,
        since=agent.since,
        reason=agent.reason,
        call_id=agent.call_id,
        queues=agent.queues,
        moves={state: sorted(targets) for state, targets in AGENT_CHOICES.items()},
        server_time=now,
        changes=agent.changes,
        last_event_id=last_event_id,
    )


def _may_hear(session: Session, recording: Recording, actor: Actor) -> bool:
    if actor.role in SUPERVISING:
        return True
    handled = session.get(Call, recording.call_id)
    if handled is not None and handled.agent_id == actor.id:
        return True
    if recording.customer_id is None:
        return False
    current = session.exec(select(Call).where(Call.agent_id == actor.id, LIVE)).all()
    return any(recording.customer_id in call.customer_ids for call in current)


def recording_file(
    session: Session,
    *,
    recording_id: int,
    recordings_dir: Path,
    actor: Actor,
    playback: bool,
    clock: Clock,
) -> Path:
    """The recording's audio file, for those who may hear it; only files inside the
    recordings directory are served. A ``playback`` (not a seek within one) is audited.

    Supervisors hear any call. An agent hears the calls it handled, and the earlier calls
    of the customer it is talking to now (the pop's player); any other agent is refused.
    """
    recording = session.get(Recording, recording_id)
    if recording is not None and not _may_hear(session, recording, actor):
        raise PermissionDenied(
            "only supervisors and the agent who handled the call may hear it",
            details={"recording_id": recording_id},
        )
    path = Path(recording.path).resolve() if recording else None
    if path is None or not path.is_relative_to(recordings_dir.resolve()) or not path.is_file():
        raise RecordingNotFound(
            f"recording {recording_id} has no audio here", details={"recording_id": recording_id}
        )
    if playback:
        record_audit(
            session,
            actor=actor,
            entity="recording",
            entity_id=recording_id,
            action=AuditAction.LISTEN,
            clock=clock,
        )
        session.commit()
    return path
