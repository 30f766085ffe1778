"""Twilio agents are rung from ``call.offered`` on the bus, as SIP agents are: whoever
made an offer (a webhook, a console, a sweep, another process) only publishes it. Holds,
resumes, transfers and hang-ups of Twilio calls steer its legs from the bus the same way."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import redis
import structlog
from pydantic import ValidationError
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from core.bus import Envelope, EventBus, as_text, stream_order
from telephony.acd import CallOffered
from telephony.constants import TWILIO_STEERED
from telephony.enums import CallChannel
from telephony.events import (
    CallConsultAnswered,
    CallConsultCompleted,
    CallConsultEnded,
    CallConsultOffered,
    CallEnded,
    CallHangUp,
    CallHeld,
    CallResumed,
    CallTransferred,
)
from telephony.models import Call
from telephony.presence import AgentState, AgentStateChanged
from telephony.twilio.jobs import (
    cancel_ringing_legs,
    steer_agent_leg,
    steer_consultation,
    stop_rings_of_offer_left,
)

log = structlog.get_logger(__name__)

RINGER_GROUP = "twilio-ringer"
"""One consumer group over all workers: each offer is rung by one of them."""
STALE_MS = 10_000
"""Events a worker read and has not acknowledged, nor said it is still working on, for
this long (it died) are taken over."""
STEERS_AT_ONCE = 8
"""Steering requests in flight per worker: a slow Twilio must not take every thread the
worker's jobs (and, embedded, the app's routes) run in."""
RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
"""Waits before a failed step is tried again (the database or Redis away a moment). The
call's later steps wait for it, so its order holds; after the last try it is dropped
with an error in the log, and the call's next steps go on."""
ACK_RETRY_SECONDS = (0.1, 0.5, 1.0)
CLOSE_GRACE_SECONDS = 5.0
STEERED_TTL_SECONDS = 6 * 3600
"""Longer than any event waits on the bus to be steered."""
STEERED_DONE = "done"
STEERING_LEASE_SECONDS = 120
"""Longer than one step can take (two Twilio requests of 10 s, their rate-limit retries)."""
LEASE_CHECK_SECONDS = 1.0
"""How often a step under another worker's lease looks whether it is done or gone."""

Step = Callable[[], Awaitable[None]]


class Steering:
    """The steering in flight in one worker, each call's in the bus's order and the calls
    side by side. A Twilio API that answers slowly (up to its 10 s timeout, twice for a
    hang-up) then holds up only the call it steers, never the rings of every other call."""

    def __init__(self) -> None:
        self._last: dict[str, asyncio.Task[None]] = {}
        self._events: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(STEERS_AT_ONCE)
        self.unfinished = False
        """A pass failed half-way: the next reads this worker's pending entries again."""
        self.token = uuid.uuid4().hex
        """Names this worker's leases: a restarted one, even under the same consumer name,
        does not take a dead one's unfinished try for its own."""
        self.succeeded: set[str] = set()
        """Guarded events this worker steered and has not acknowledged yet: never steered
        again, even if marking them done failed."""

    def busy(self, call_id: str) -> bool:
        return call_id in self._last

    def held(self) -> set[str]:
        """The events in flight here: a pass must not start them again, and claims them
        afresh so that no other worker does."""
        return set(self._events)

    def then(self, call_id: str, event_id: str, step: Step, ack: Step) -> None:
        """Runs ``step`` for the event once everything started for ``call_id`` is done,
        then ``ack``: each tried again on failure, a step never again once it is done."""
        task = asyncio.create_task(
            self._after(self._last.get(call_id), call_id, event_id, step, ack)
        )
        self._last[call_id] = task
        self._events.add(event_id)
        self._tasks.add(task)

        def forget(done: asyncio.Task[None]) -> None:
            self._events.discard(event_id)
            self._tasks.discard(done)
            if self._last.get(call_id) is done:
                del self._last[call_id]

        task.add_done_callback(forget)

    async def in_thread(self, work: Callable[[], object]) -> None:
        """Runs blocking steering work in a thread, at most ``STEERS_AT_ONCE`` at once."""
        async with self._slots:
            await run_in_threadpool(work)

    async def _after(
        self,
        previous: asyncio.Task[None] | None,
        call_id: str,
        event_id: str,
        step: Step,
        ack: Step,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        where = {"call_id": call_id, "event_id": event_id}
        # Another worker's lease: the call waits (its later steps too) while it lasts; then
        # the step is done there, or free to run here (that worker died).
        waited = 0.0
        while True:
            try:
                if not await _tried(step, RETRY_SECONDS, "steering failed", where):
                    log.error("steering dropped after its last try", **where)
                break
            except SteeringUnderWay:
                if waited > STEERING_LEASE_SECONDS + LEASE_CHECK_SECONDS:
                    log.error("another worker's lease outlived it; left unacknowledged", **where)
                    return
                await asyncio.sleep(LEASE_CHECK_SECONDS)
                waited += LEASE_CHECK_SECONDS
        if await _tried(ack, ACK_RETRY_SECONDS, "acknowledging steering failed", where):
            self.succeeded.discard(event_id)  # read no more: nothing left to guard
        else:
            log.error("steering done but not acknowledged: it may be steered again", **where)

    async def drain(self) -> None:
        """Waits for every step started so far."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self, grace: float = CLOSE_GRACE_SECONDS) -> None:
        """Lets the steps in flight finish for ``grace`` seconds, then stops the rest;
        their events, unacknowledged, are taken over by another worker."""
        try:
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=grace)
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _tried(step: Step, delays: tuple[float, ...], failed: str, where: dict[str, str]) -> bool:
    """Whether ``step`` succeeded, tried once and again after each of ``delays``."""
    for delay in (*delays, None):
        try:
            await step()
            return True
        except SteeringUnderWay:
            raise
        except Exception:
            if delay is None:
                log.exception(failed, **where)
                return False
            log.warning(failed, in_s=delay, exc_info=True, **where)
            await asyncio.sleep(delay)
    return False


Offer = CallOffered | CallConsultOffered


def ring_job_id(offer: Offer) -> str:
    return f"twilio-ring:{offer.call_id}:{offer.agent_id}:{offer.at.isoformat()}"


CONSULTATION = {
    event.name: event for event in (CallConsultAnswered, CallConsultCompleted, CallConsultEnded)
}
STEERING = {
    event.name: event for event in (CallHeld, CallResumed, CallTransferred, CallHangUp, CallEnded)
} | CONSULTATION
"""Events after which a Twilio call's legs get new instructions (after ``call.ended``, its
agents' legs still ringing are cancelled)."""
STEERED_ONCE = {CallConsultAnswered.name, CallConsultCompleted.name}
"""Steering that is not decided by the call's state, and must not run twice (the others
hang a leg up, or park and bridge it by what the call is now)."""
OFFERS: dict[str, type[CallOffered] | type[CallConsultOffered]] = {
    CallOffered.name: CallOffered,
    CallConsultOffered.name: CallConsultOffered,
}
"""Events that ring an agent: a queue's offer, or a colleague's consultation."""


@dataclass(frozen=True)
class _Work:
    """What one event asks of the ringer: ring for ``offer``, or else steer the call."""

    envelope: Envelope
    call_id: str
    offer: Offer | None = None
    apart: bool = False
    """Run beside the call's steps, not in their order: an agent's release from an offer.
    It reads what is live when it runs, and the call's next ring must not wait for Twilio
    to answer its cancel."""

    @property
    def order(self) -> str:
        """The steps this one runs after: the call's, or its releases' own."""
        return f"{self.call_id}:released" if self.apart else self.call_id


def _work(envelopes: list[Envelope]) -> list[_Work]:
    """The offers and steering events among ``envelopes``, in the bus's order."""
    found = []
    for envelope in envelopes:
        kind = OFFERS.get(envelope.name)
        try:
            if kind is not None:
                offer = kind.model_validate(envelope.data)
                found.append(_Work(envelope, offer.call_id, offer))
            elif (event := STEERING.get(envelope.name)) is not None:
                found.append(_Work(envelope, event.model_validate(envelope.data).call_id))
            elif (left := _offer_left(envelope)) is not None:
                found.append(_Work(envelope, left, apart=True))
        except ValidationError as exc:  # skipped, never retried: it would stall the group
            log.warning("unreadable event skipped", event_id=envelope.id, error=str(exc))
    return found


async def ring_offered_agents(ctx: dict[str, Any], *, consumer: str) -> int:
    """One pass of the worker named ``consumer`` over new ``call.offered`` events (and
    consultations, ``call.consult_offered``): a ring job for each offer of a Twilio call,
    the events acknowledged once their jobs are queued. Steering events (holds, transfers,
    hang-ups, consultations) are started in the worker's ``Steering`` and acknowledged
    once done; a call's offers that come after its steering wait for it. What a dead
    worker read and left is taken over; the job id makes a second enqueue of one offer a
    no-op."""
    events: EventBus = ctx["switchboard"].events

    chain: Steering = ctx.setdefault("steering", Steering())
    held = chain.held()
    unfinished, chain.unfinished = chain.unfinished, True

    def read() -> tuple[list[Envelope], list[_Work]]:
        try:
            # What this worker still steers is claimed afresh, so no other worker takes
            # it over while a slow Twilio keeps it; then what others left, what this
            # worker read in a pass that failed, and what is new.
            events.keep_claimed(RINGER_GROUP, consumer, sorted(held))
            envelopes = [
                *events.claim_stale(RINGER_GROUP, consumer, min_idle_ms=STALE_MS),
                *(events.read_pending(RINGER_GROUP, consumer, count=1000) if unfinished else []),
                *events.read_new(RINGER_GROUP, consumer, count=200),
            ]
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            events.ensure_group(RINGER_GROUP)  # gone with Redis's data; new offers from now
            return [], []
        # Held when the pass began, not now: a step that finishes meanwhile is acknowledged
        # only after its pending entry may have been read here.
        unique = {e.id: e for e in envelopes if e.id not in held}
        envelopes = sorted(unique.values(), key=lambda e: stream_order(e.id))
        work = _work(envelopes)
        if not work:
            return envelopes, []
        with ctx["sessions"]() as session:
            twilio = set(
                session.exec(
                    select(Call.id).where(
                        col(Call.id).in_({w.call_id for w in work}),
                        Call.channel == CallChannel.TWILIO,
                    )
                ).all()
            )
        return envelopes, [w for w in work if w.call_id in twilio]

    envelopes, work = await run_in_threadpool(read)
    later: set[str] = set()

    async def ring(offer: Offer) -> None:
        consult = isinstance(offer, CallConsultOffered)
        await ctx["redis"].enqueue_job(
            "ring_twilio_consultant" if consult else "ring_twilio_agent",
            call_id=offer.call_id,
            agent_id=offer.agent_id,
            offered_at=offer.at.isoformat(),
            _job_id=ring_job_id(offer),
        )

    async def steer(item: _Work) -> None:
        if item.offer is not None:
            await ring(item.offer)
            return
        work = _steer(ctx, item.envelope, item.call_id)
        if item.envelope.name in STEERED_ONCE:
            work = partial(
                _once, events.client, item.envelope.id, chain.token, chain.succeeded, work
            )
        await chain.in_thread(work)

    async def ack(event_id: str) -> None:
        await run_in_threadpool(events.ack, RINGER_GROUP, event_id)

    # A call's steering and rings keep the bus's order (a transferred caller's old agent
    # leg is hung up before the next agent is rung); other calls do not wait for it.
    for item in work:
        if item.offer is None or chain.busy(item.call_id):
            chain.then(
                item.order,
                item.envelope.id,
                partial(steer, item),
                partial(ack, item.envelope.id),
            )
            later.add(item.envelope.id)
        else:
            await ring(item.offer)
    now = [e.id for e in envelopes if e.id not in later]
    if now:
        await run_in_threadpool(events.ack, RINGER_GROUP, *now)
    chain.unfinished = False
    return len(work)


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class SteeringUnderWay(Exception):
    """Another worker holds the event's lease: it steers it now, or died doing so."""


def _once(
    client: redis.Redis,
    event_id: str,
    token: str,
    succeeded: set[str],
    work: Callable[[], object],
) -> None:
    """Runs ``work`` for the event unless it ran already, here or elsewhere: consultations
    are not steered by state, and bridging the colleague's leg again, into the bridge it
    is in, takes it out and drops the caller (an event read again after a worker died
    between its request and its acknowledgement). The lease is taken in the steering
    thread itself, for as long as a step can take, and marked done once it has run; let
    go if the step fails, so it is tried again. This worker's own try that failed to be
    let go (Redis away) is tried again; one that ran (``succeeded``) never is. Another
    worker's lease raises ``SteeringUnderWay``: the call waits while it lasts."""
    key = TWILIO_STEERED.format(event_id=event_id)
    for _ in range(3):  # the lease may be let go between our SET and our GET
        if client.set(key, token, nx=True, ex=STEERING_LEASE_SECONDS):
            break
        holder = client.get(key)
        if holder is None:
            continue
        held_by = as_text(cast("str | bytes", holder))
        if held_by == STEERED_DONE:
            log.info("steered already", event_id=event_id)
            return
        if held_by != token:
            raise SteeringUnderWay(event_id)
        if event_id in succeeded:
            _mark_done(client, key, event_id)
            return
        break
    else:
        raise SteeringUnderWay(event_id)
    try:
        work()
    except Exception:
        client.eval(_RELEASE, 1, key, token)
        raise
    succeeded.add(event_id)
    _mark_done(client, key, event_id)


def _mark_done(client: redis.Redis, key: str, event_id: str) -> None:
    """Done, whatever comes next: a failure to say so is logged, never raised, so the step
    is not run again for it (this worker remembers it ran)."""
    for pause in (0.0, *ACK_RETRY_SECONDS):
        time.sleep(pause)
        try:
            client.set(key, STEERED_DONE, ex=STEERED_TTL_SECONDS)
            return
        except redis.RedisError as exc:
            failure = exc
    log.error("steered, but could not mark it done", event_id=event_id, error=str(failure))


def _offer_left(envelope: Envelope) -> str | None:
    """The call whose offer the agent was taken off unanswered, if the event is such a
    change of an agent's. Most agents' changes are not: told apart before parsing."""
    if envelope.name != AgentStateChanged.name:
        return None
    if envelope.data.get("previous") != AgentState.OFFERED.value:
        return None
    change = AgentStateChanged.model_validate(envelope.data)
    return None if change.state is AgentState.ON_CALL else change.left_call_id


def _steer(ctx: dict[str, Any], envelope: Envelope, call_id: str) -> Callable[[], object]:
    if envelope.name == CallEnded.name:
        return partial(cancel_ringing_legs, ctx, call_id=call_id)
    if envelope.name == AgentStateChanged.name:
        return partial(stop_rings_of_offer_left, ctx, call_id=call_id)
    if envelope.name in CONSULTATION:
        return partial(
            steer_consultation, ctx, call_id=call_id, event=envelope.name, data=envelope.data
        )
    return partial(
        steer_agent_leg,
        ctx,
        call_id=call_id,
        event=envelope.name,
        agent_leg=envelope.data.get("agent_leg"),
    )
