"""Automatic call distribution: named queues, strategies, offers, overflow, figures.

All state lives in Redis so every process shares one view; one Redis lock serialises the
decisions that pair a call with an agent, so no agent is ever offered two calls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Literal, cast

import redis
from pydantic import BaseModel, Field
from pydantic_core import to_json
from redis.commands.core import Script
from redis.lock import Lock
from redis.typing import EncodableT

from core.bus import Event, EventBus, as_text
from core.types import Clock
from telephony import lua_scripts
from telephony.constants import (
    ACD_LOCK,
    AGENT,
    ARRIVALS,
    AVAILABLE,
    ENDED_CALL,
    ENDED_CALL_TTL_SECONDS,
    HEARD,
    HEARD_TTL_SECONDS,
    LAST_SERVED,
    LEFT_ON_CALLS,
    LOST_CALLS,
    OFFER,
    OFFERS,
    PRESENCE_CHANGES,
    QUEUE_CONFIG,
    QUEUED_CALL,
    QUEUES,
    STATS,
    WAITING,
)
from telephony.exceptions import (
    AgentNotOffered,
    AgentNotOnCall,
    AgentUnavailable,
    InvalidAgentState,
    NoSuchOffer,
)
from telephony.presence import Agent, AgentState, AgentStateChanged, Presence

PRIORITY_SPAN = 10**13
"""Wider than any arrival sequence, so priority bands never interleave."""
MISSED_OFFERS_LIMIT = 2
STATS_TTL_SECONDS = 40 * 86_400
RANG_OUT_SECONDS = 5
"""A taken call's ring that ended sooner (a busy or refused phone) is a miss, not a ring
to repeat: repeating it would ring a broken phone in a loop."""


# ACD decisions that run in Redis, after the helpers the decisions share.
DISPATCH_SCRIPT = lua_scripts.source("changes.lua", "agents.lua", "dispatch.lua")
WITHDRAW_SCRIPT = lua_scripts.source("changes.lua", "agents.lua", "withdraw.lua")
ENQUEUE_SCRIPT = lua_scripts.source("enqueue.lua")


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    ROUND_ROBIN = "round_robin"
    SKILLS = "skills"


class QueueConfig(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    title: str = Field(default="", max_length=100)
    """What agents and supervisors see (e.g. 中文热线); the console names the queue by its
    id when this is empty."""
    strategy: Strategy = Strategy.LONGEST_IDLE
    skill: str | None = None
    offer_timeout_seconds: int = Field(default=15, ge=1, le=300)
    max_wait_seconds: int = Field(default=300, ge=1, le=86_400)
    overflow: Literal["callback", "voicemail"] = "callback"
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    wrap_up_seconds: int = Field(default=30, ge=0, le=3600)
    taken_ring_seconds: int = Field(default=60, ge=1, le=600)
    """How long an agent's phone rings for a call the agent took in the console."""


class QueuedCall(BaseModel):
    call_id: str
    queue: str
    enqueued_at: datetime
    priority: int
    sequence: int
    """Arrival order across all queues; breaks ties that equal timestamps cannot."""
    customer_ids: list[int] = []


class Offer(BaseModel):
    call_id: str
    agent_id: int
    queue: str
    offered_at: datetime
    expires_at: datetime
    taken: bool = False
    """The agent took the call in the console: the phone rings on until it is picked up,
    up to the queue's ``taken_ring_seconds``, instead of the call moving on."""
    consult: bool = False
    """Rings a colleague whom the call's agent consults before handing the call over; the
    call stays with its agent meanwhile."""
    changes: int = 0
    """The agent's move to this offer, in presence's count of changes."""


class QueueFigures(BaseModel):
    queue: str
    title: str = ""
    waiting: int
    longest_wait_seconds: float
    offered: int
    answered: int
    answered_in_service_level: int
    abandoned: int
    overflowed: int
    service_level: float | None
    """Share of calls answered within the queue's service-level seconds, of those answered
    or abandoned; None before the first such call."""


class CallOffered(Event):
    name = "call.offered"
    call_id: str
    agent_id: int
    queue: str
    customer_ids: list[int]
    at: datetime
    expires_at: datetime | None = None
    """When the ring gives up; set when the agent took the call (it rings longer)."""
    changes: int = 0
    """The agent's move to this offer, in presence's count of changes: a console shows the
    offer only if it has seen no newer state of the agent (events of different processes
    can reach it out of order)."""


class Acd:
    def __init__(
        self,
        client: redis.Redis,
        bus: EventBus,
        presence: Presence,
        *,
        clock: Clock,
        zone: tzinfo = UTC,
    ) -> None:
        # redis-py types the sync client's replies as ``Awaitable | Any``, one set of commands
        # serving both clients: the casts say what Redis returns.
        self.client = client
        self.bus = bus
        self.presence = presence
        self.clock = clock
        self.zone = zone
        """The hotline's zone: a queue's day of figures starts at its midnight."""
        self._dispatch_script = client.register_script(DISPATCH_SCRIPT)
        self._withdraw_script = client.register_script(WITHDRAW_SCRIPT)
        self._enqueue_script = client.register_script(ENQUEUE_SCRIPT)

    # Configuration

    def configure(self, config: QueueConfig) -> QueueConfig:
        self.client.set(QUEUE_CONFIG.format(queue=config.name), config.model_dump_json())
        self.client.sadd(QUEUES, config.name)
        return config

    def config(self, queue: str) -> QueueConfig:
        raw = cast("str | bytes | None", self.client.get(QUEUE_CONFIG.format(queue=queue)))
        return QueueConfig.model_validate_json(raw) if raw else QueueConfig(name=queue)

    # Calls in

    def enqueue(
        self,
        call_id: str,
        queue: str,
        *,
        priority: int = 1,
        customer_ids: list[int] | None = None,
        lost: bool = False,
        waiting_since: datetime | None = None,
    ) -> QueuedCall | None:
        """The call waits in ``queue``; None when it has ended already (its caller hung up
        after the call log said it waits, before the ACD had it: see ``withdraw``).
        ``lost``: a call the ACD had lost, taken only if it still holds no record of it
        (None otherwise); ``waiting_since``: when such a call began to wait, from which
        its wait still counts (for the overflow and the service level)."""
        queued = QueuedCall(
            call_id=call_id,
            queue=queue,
            enqueued_at=waiting_since or self.clock(),
            priority=priority,
            sequence=cast(int, self.client.incr(ARRIVALS)),
            customer_ids=customer_ids or [],
        )
        waits = self._enqueue_script(
            keys=[
                QUEUED_CALL.format(call_id=call_id),
                WAITING.format(queue=queue),
                QUEUES,
                ENDED_CALL.format(call_id=call_id),
                self._stats_key(queue),
            ],
            args=[
                call_id,
                queued.model_dump_json(),
                _score(queued),
                queue,
                STATS_TTL_SECONDS,
                "1" if lost else "0",
            ],
        )
        return queued if waits else None

    def offer_to(
        self, call_id: str, queue: str, agent_id: int, *, customer_ids: list[int]
    ) -> Offer | None:
        """A blind transfer to one agent: the call waits at the front of ``queue`` and is
        offered to that agent now; if they miss it, the queue serves it as usual. None when
        the agent was taken meanwhile (another call offered to them, a break): the call
        waits at the front all the same, for whoever the queue offers it to. None too when
        the call has ended (see ``enqueue``)."""
        with self._decisions() as lock:
            waits = self.enqueue(call_id, queue, priority=0, customer_ids=customer_ids)
            if waits is None or self.presence.get(agent_id).state is not AgentState.AVAILABLE:
                return None
            made = self._run_dispatch(
                self.config(queue), lock=lock, call_id=call_id, agent_id=agent_id
            )
            return made[0] if made else None

    def position(self, call_id: str, queue: str) -> int | None:
        rank = cast("int | None", self.client.zrank(WAITING.format(queue=queue), call_id))
        return None if rank is None else rank + 1

    def waiting_of(self, calls: Iterable[tuple[str, str]]) -> set[str]:
        """Which of these calls (id, queue) wait in their queue: one round trip for them
        all, since a wall past saturation lists hundreds of queued calls."""
        pairs = list(calls)
        if not pairs:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for call_id, queue in pairs:
            pipe.zscore(WAITING.format(queue=queue), call_id)
        scores = pipe.execute()
        return {
            call_id for (call_id, _), score in zip(pairs, scores, strict=True) if score is not None
        }

    def dispatch(self, queue: str) -> list[Offer]:
        """Offer waiting calls to free agents until one of the two runs out: one script
        in Redis, which takes no lock of its own; only while another decision holds the
        lock does this wait for it."""
        return self._run_dispatch(self.config(queue))

    def _decide(
        self,
        script: Script,
        now: datetime,
        *,
        keys: list[str],
        args: list[EncodableT],
        lock: Lock | None = None,
    ) -> Any:
        """Run an ACD decision script: at once, unless another decision holds the lock
        (the script refuses then), in which case under the lock once it is free."""

        def run(token: EncodableT) -> Any:
            shared: list[EncodableT] = [
                token,
                AGENT.format(agent_id=""),
                AVAILABLE.format(queue=""),
                to_json(now),
                now.timestamp(),
            ]
            return script(keys=[ACD_LOCK, PRESENCE_CHANGES, *keys], args=[*shared, *args])

        if lock is not None:
            return run(lock.local.token)
        reply = run(b"")
        if reply is None:
            with self._decisions() as held:
                reply = run(held.local.token)
        return reply

    def _run_dispatch(
        self,
        config: QueueConfig,
        *,
        lock: Lock | None = None,
        call_id: str | None = None,
        agent_id: int | None = None,
    ) -> list[Offer]:
        """Run the dispatch script (``call_id`` to ``agent_id`` only, when named; under
        ``lock`` when the caller holds it) and publish its offers."""
        now = self.clock()
        expires = now + timedelta(seconds=config.offer_timeout_seconds)
        reply = self._decide(
            self._dispatch_script,
            now,
            keys=[
                WAITING.format(queue=config.name),
                AVAILABLE.format(queue=config.name),
                OFFERS,
                LAST_SERVED.format(queue=config.name),
                self._stats_key(config.name),
            ],
            args=[
                config.name,
                config.strategy.value,
                config.skill or "",
                to_json(now).strip(b'"'),
                to_json(expires).strip(b'"'),
                expires.timestamp(),
                QUEUED_CALL.format(call_id=""),
                OFFER.format(call_id=""),
                STATS_TTL_SECONDS,
                call_id or "",
                "" if agent_id is None else agent_id,
            ],
            lock=lock,
        )
        offers: list[Offer] = []
        events: list[Event] = []
        for raw_call, raw_agent, raw_queued, changes in cast(
            "list[tuple[str | bytes, str | bytes, str | bytes, int]]", reply
        ):
            offer = Offer(
                call_id=as_text(raw_call),
                agent_id=int(raw_agent),
                queue=config.name,
                offered_at=now,
                expires_at=expires,
                changes=changes,
            )
            offers.append(offer)
            events.append(
                AgentStateChanged(
                    agent_id=offer.agent_id,
                    state=AgentState.OFFERED,
                    previous=AgentState.AVAILABLE,
                    reason="",
                    call_id=offer.call_id,
                    at=now,
                    changes=changes,
                )
            )
            events.append(
                self._offered_event(offer, QueuedCall.model_validate_json(raw_queued).customer_ids)
            )
        if events:
            self.bus.publish_many(events)
        return offers

    def _store_offer(self, offer: Offer, pipe: redis.client.Pipeline | None = None) -> None:
        target = pipe if pipe is not None else self.client.pipeline()
        target.set(OFFER.format(call_id=offer.call_id), offer.model_dump_json())
        target.zadd(OFFERS, {offer.call_id: offer.expires_at.timestamp()})
        if pipe is None:
            target.execute()

    def _publish_offer(self, offer: Offer, customer_ids: list[int]) -> None:
        self.bus.publish(self._offered_event(offer, customer_ids))

    @staticmethod
    def _offered_event(offer: Offer, customer_ids: list[int]) -> CallOffered:
        return CallOffered(
            call_id=offer.call_id,
            agent_id=offer.agent_id,
            queue=offer.queue,
            customer_ids=customer_ids,
            at=offer.offered_at,
            expires_at=offer.expires_at if offer.taken else None,
            changes=offer.changes,
        )

    # Offers answered, missed, expired

    def accept(self, call_id: str, agent_id: int) -> None:
        with self._decisions():
            offer = self._offer_for(call_id, agent_id)
            # None: the call's record was lost with part of Redis's data. The agent who
            # picked up still gets the caller; only the wait is unknown to the figures.
            queued = self._queued_or_none(call_id)
            # The agent first: if it is not offered this call any more, nothing changes and
            # the call keeps its place.
            try:
                self.presence.move(
                    agent_id,
                    AgentState.ON_CALL,
                    call_id=call_id,
                    missed_offers=0,
                    offered=call_id,
                )
            except AgentNotOffered as exc:
                raise NoSuchOffer(exc.message, details=exc.details) from exc
            self._drop_offer(call_id)
            # No longer heard waiting: with no record, a call the log still showed ringing
            # (its answer not written yet) would otherwise look lost.
            self.client.delete(QUEUED_CALL.format(call_id=call_id), HEARD.format(call_id=call_id))
            config = self.config(offer.queue)
            self._count(offer.queue, "answered")
            if queued is None:
                return
            if (self.clock() - queued.enqueued_at).total_seconds() <= config.service_level_seconds:
                self._count(offer.queue, "answered_in_service_level")

    def take(self, call_id: str, agent_id: int) -> Offer:
        """The agent took the offered call in the console: it is theirs while their phone
        rings (rung again if a ring ends unanswered), until they pick up, decline, or the
        queue's ``taken_ring_seconds`` pass."""
        with self._decisions():
            offer = self._offer_for(call_id, agent_id)
            if offer.taken or offer.consult:  # a consultation rings as long as it rings
                return offer
            ring = timedelta(seconds=self.config(offer.queue).taken_ring_seconds)
            offer = offer.model_copy(update={"taken": True, "expires_at": self.clock() + ring})
            self._store_offer(offer)
            return offer

    # Consultations: the call's agent rings a colleague, talks, then hands the call over

    def consult_offer(self, call_id: str, queue: str, agent_id: int) -> Offer:
        """Ring an available colleague for a call another agent has (held meanwhile)."""
        with self._decisions():
            agent = self.presence.get(agent_id)
            try:
                if agent.state is not AgentState.AVAILABLE:
                    raise InvalidAgentState(agent.state.value)
                moved = self.presence.move(agent_id, AgentState.OFFERED, call_id=call_id)
            except InvalidAgentState as exc:
                raise AgentUnavailable(
                    f"agent {agent_id} is not available",
                    details={"agent_id": agent_id, "state": agent.state.value},
                ) from exc
            offer = Offer(
                call_id=call_id,
                agent_id=agent_id,
                queue=queue,
                offered_at=moved.since,
                expires_at=moved.since
                + timedelta(seconds=self.config(queue).offer_timeout_seconds),
                consult=True,
                changes=moved.changes,
            )
            # Not among the offers the sweep expires: the channel ringing the colleague
            # ends the consultation when the ring does (and the call's end ends it too).
            self.client.set(OFFER.format(call_id=call_id), offer.model_dump_json())
            return offer

    def consult_answered(self, call_id: str, agent_id: int) -> None:
        with self._decisions():
            offer = self._offer_for(call_id, agent_id)
            if not offer.consult:
                raise NoSuchOffer(
                    f"agent {agent_id} is not consulted on call {call_id}",
                    details={"call_id": call_id, "agent_id": agent_id},
                )
            try:
                self.presence.move(agent_id, AgentState.ON_CALL, call_id=call_id, offered=call_id)
            except AgentNotOffered as exc:
                raise NoSuchOffer(exc.message, details=exc.details) from exc
            self._drop_offer(call_id)

    def consult_over(self, call_id: str, agent_id: int, queue: str) -> None:
        """The colleague is free again: from ringing straight back, from talking through
        the queue's wrap-up."""
        with self._decisions():
            offer = self.current_offer(call_id)
            if offer is not None and offer.consult and offer.agent_id == agent_id:
                self._drop_offer(call_id)
            agent = self.presence.get(agent_id)
            if agent.call_id != call_id:
                return
            with contextlib.suppress(InvalidAgentState):
                if agent.state is AgentState.OFFERED:
                    self.presence.move(agent_id, AgentState.AVAILABLE, reason="consultation ended")
                elif agent.state is AgentState.ON_CALL:
                    self.end_call(agent_id, queue, call_id)

    def miss(
        self,
        call_id: str,
        agent_id: int,
        *,
        leaving: bool = False,
        declined: bool = False,
        offered_at: datetime | None = None,
    ) -> Offer:
        """The agent declined or let the offer ring out: the call goes back to the front.

        The caller dispatches the queue again, so the new offers reach the channel. A miss
        of an offer that is already over raises NoSuchOffer and changes nothing, so a miss
        reported twice (the ring timing out as the sweep expires it) counts once. A call
        the agent took is rung again instead, while its time lasts. ``offered_at`` names the
        offer a ring was for: a ring that times out after the sweep offered the same call to
        the same agent again is not a miss of the new offer.
        """
        with self._decisions():
            offer = self._offer_for(call_id, agent_id)
            if offer.consult:
                # A consultation's ring ends with ``consult_over``: its call is answered,
                # and goes back to no queue.
                raise NoSuchOffer(
                    f"call {call_id} rings agent {agent_id} for a consultation",
                    details={"call_id": call_id, "agent_id": agent_id},
                )
            if offered_at is not None and offer.offered_at != offered_at:
                raise NoSuchOffer(
                    f"the offer of call {call_id} to agent {agent_id} rung then is over",
                    details={"call_id": call_id, "agent_id": agent_id},
                )
            # None: the call's record was lost with part of Redis's data. The agent is
            # freed all the same (else they rang for it until they logged out), and the
            # call, in no queue, is queued again by the lost-call sweep while its caller
            # is heard waiting (``lost``).
            queued = self._queued_or_none(call_id)
            now = self.clock()
            rang = (now - offer.offered_at).total_seconds() >= RANG_OUT_SECONDS
            again_ring = offer.taken and now < offer.expires_at and rang
            # A taken call whose record is lost is not rung again: it goes back to the
            # lost-call sweep, which queues it at the front.
            if again_ring and queued is not None and not (leaving or declined):
                again = offer.model_copy(update={"offered_at": now})
                self._store_offer(again)
                self._publish_offer(again, queued.customer_ids)
                return again
            missed = self.presence.get(agent_id).missed_offers + 1
            # An agent who is leaving (deactivated) must not be offered the call again.
            limit = leaving or missed >= MISSED_OFFERS_LIMIT
            # In one step: an offer dropped without its call back in the queue (Redis
            # failing between the two, a crash) left the call held by the ACD, neither
            # offered nor waiting: never dispatched, never taken for lost, never overflowed.
            pipe = self.client.pipeline()
            self._drop_offer(call_id, pipe)
            if queued is not None:
                pipe.zadd(WAITING.format(queue=offer.queue), {call_id: _score(queued)})
            pipe.execute()
            # The offer is over before the agent's release from it is announced: the
            # Twilio ringer, told of the release, stops the legs of offers that are over,
            # and one that read the offer still live left the agent's phone ringing until
            # the offer sweep's next pass. A crash between the two leaves the agent offered
            # a call with no offer, which ``release_stray_agents`` frees. An agent no longer
            # offered this call (state lost with a crashed Redis write) is left as it is.
            with contextlib.suppress(AgentNotOffered):
                self.presence.move(
                    agent_id,
                    AgentState.BREAK if limit else AgentState.AVAILABLE,
                    missed_offers=missed,
                    reason=f"not ready: missed {missed} offers in a row"
                    if limit
                    else "offer missed",
                    offered=call_id,
                )
        return offer

    def expire_offers(self) -> list[Offer]:
        now = self.clock()
        due = cast("list[str | bytes]", self.client.zrangebyscore(OFFERS, "-inf", now.timestamp()))
        expired = []
        for call_id in (as_text(c) for c in due):
            raw = cast("str | bytes | None", self.client.get(OFFER.format(call_id=call_id)))
            if raw is None:
                self.client.zrem(OFFERS, call_id)
                continue
            offer = Offer.model_validate_json(raw)
            if offer.expires_at > now:
                continue  # missed and offered again since the list was read: a new ring
            # Answered or missed since it was read: the other path has dealt with it.
            with contextlib.suppress(NoSuchOffer):
                expired.append(self.miss(call_id, offer.agent_id, offered_at=offer.offered_at))
        return expired

    def release_stray_agents(self) -> list[Agent]:
        """Agents left ``offered`` a call that has no live offer for them are freed."""
        freed = []
        with self._decisions():
            for agent in self.presence.all():
                if agent.state is not AgentState.OFFERED or agent.call_id is None:
                    continue
                offer = self.current_offer(agent.call_id)
                if offer is not None and offer.agent_id == agent.agent_id:
                    continue
                with contextlib.suppress(InvalidAgentState):
                    freed.append(
                        self.presence.move(
                            agent.agent_id,
                            AgentState.AVAILABLE,
                            reason="offer gone",
                            offered=agent.call_id,
                        )
                    )
        return freed

    # Calls out

    def abandon(self, call_id: str) -> bool:
        """The caller hung up before an agent answered; True if the call was waiting, or
        ringing an agent."""
        return self.withdraw(call_id, reason="caller left", count="abandoned", ended=True)

    def withdraw(
        self, call_id: str, *, reason: str, count: str | None = None, ended: bool = False
    ) -> bool:
        """Take a call that ended unanswered out of its queue, and out of the offer ringing
        for it (that agent is freed); False if it was neither waiting nor offered. ``count``
        names the queue figure the call counts in, if any. ``ended``: the call is over, and
        is never queued again (a queueing on its way when the call ended is refused, and
        counted then)."""
        now = self.clock()
        figures_before, figures_after = self._stats_key("|").split("|")
        reply = self._decide(
            self._withdraw_script,
            now,
            keys=[OFFERS],
            args=[
                call_id,
                QUEUED_CALL.format(call_id=call_id),
                OFFER.format(call_id=call_id),
                WAITING.format(queue=""),
                figures_before,
                figures_after,
                count or "",
                STATS_TTL_SECONDS,
                to_json(reason),
                ENDED_CALL.format(call_id=call_id) if ended else "",
                ENDED_CALL_TTL_SECONDS,
            ],
        )
        if not reply:
            return False
        _record, freed, changes = cast("tuple[str | bytes, str | bytes, int]", reply)
        if freed:
            self.bus.publish(
                AgentStateChanged(
                    agent_id=int(freed),
                    state=AgentState.AVAILABLE,
                    previous=AgentState.OFFERED,
                    reason=reason,
                    call_id=None,
                    at=now,
                    changes=changes,
                    left_call_id=call_id,
                )
            )
        return True

    def overflow(self, queue: str) -> list[QueuedCall]:
        """Calls that waited past the queue's maximum leave it, for a callback or voicemail."""
        config = self.config(queue)
        oldest_allowed = self.clock() - timedelta(seconds=config.max_wait_seconds)
        gone = []
        for call_id in (
            as_text(c)
            for c in cast(
                "list[str | bytes]", self.client.zrange(WAITING.format(queue=queue), 0, -1)
            )
        ):
            # No record: lost with part of Redis's data; the lost-call sweep has it.
            queued = self._queued_or_none(call_id)
            if queued is None:
                continue
            if queued.enqueued_at <= oldest_allowed and self.client.zrem(
                WAITING.format(queue=queue), call_id
            ):
                self.client.delete(QUEUED_CALL.format(call_id=call_id))
                self._count(queue, "overflowed")
                gone.append(queued)
        return gone

    def overflow_if_waited(self, call_id: str) -> bool:
        """Take a call that has waited past its queue's maximum out of it, for a callback
        or voicemail; False while its wait is not over, or once it has been offered (the
        offer wins). One round trip while the wait goes on: waiting callers ask every few
        seconds, and are heard waiting by it (see :meth:`lost`)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(HEARD.format(call_id=call_id), "1", ex=HEARD_TTL_SECONDS)
        pipe.get(QUEUED_CALL.format(call_id=call_id))
        raw = cast("str | bytes | None", pipe.execute()[1])
        if raw is None:
            return False
        queued = QueuedCall.model_validate_json(raw)
        queue = queued.queue
        if self.clock() - queued.enqueued_at < timedelta(
            seconds=self.config(queue).max_wait_seconds
        ):
            return False
        with self._decisions():
            if not self.client.zrem(WAITING.format(queue=queue), call_id):
                return False
            self.client.delete(QUEUED_CALL.format(call_id=call_id), HEARD.format(call_id=call_id))
            self._count(queue, "overflowed")
            return True

    def end_call(self, agent_id: int, queue: str, call_id: str) -> Agent | None:
        """The agent's call is over: to wrap-up, once. None when they had already left it:
        its end is learnt more than once (a hang-up and the channel's callback, a callback
        retried), and a late word must not end the call they have moved on to."""
        try:
            return self.presence.move(
                agent_id,
                AgentState.WRAP_UP,
                wrap_up_seconds=self.config(queue).wrap_up_seconds,
                call_id=call_id,
                talking=call_id,
            )
        except AgentNotOnCall:
            return None

    # Figures

    def figures(self, queue: str) -> QueueFigures:
        waiting = [
            as_text(c)
            for c in cast(
                "list[str | bytes]", self.client.zrange(WAITING.format(queue=queue), 0, -1)
            )
        ]
        now = self.clock()
        keys = [QUEUED_CALL.format(call_id=c) for c in waiting]
        records = cast("list[str | bytes | None]", self.client.mget(keys)) if keys else []
        # A call offered or withdrawn between the two reads has no record left: it no
        # longer waits (read one by one, such a call failed the supervisors' wall).
        waits = [
            (now - QueuedCall.model_validate_json(raw).enqueued_at).total_seconds()
            for raw in records
            if raw is not None
        ]
        raw = cast(
            "dict[str | bytes, str | bytes]",
            self.client.hgetall(STATS.format(queue=queue, day=now.astimezone(self.zone).date())),
        )
        stats = {as_text(k): int(v) for k, v in raw.items()}
        answered = stats.get("answered", 0)
        in_level = stats.get("answered_in_service_level", 0)
        abandoned = stats.get("abandoned", 0)
        return QueueFigures(
            queue=queue,
            title=self.config(queue).title,
            waiting=len(waits),
            longest_wait_seconds=max(waits, default=0.0),
            offered=stats.get("offered", 0),
            answered=answered,
            answered_in_service_level=in_level,
            abandoned=abandoned,
            overflowed=stats.get("overflowed", 0),
            service_level=in_level / (answered + abandoned) if answered + abandoned else None,
        )

    def queues(self) -> list[str]:
        return sorted(as_text(q) for q in cast("set[str | bytes]", self.client.smembers(QUEUES)))

    def calls_in_queues(self) -> list[str]:
        """Every call waiting in a queue, or ringing an agent."""
        pipe = self.client.pipeline(transaction=False)
        for queue in self.queues():
            pipe.zrange(WAITING.format(queue=queue), 0, -1)
        pipe.zrange(OFFERS, 0, -1)
        replies = cast("list[list[str | bytes]]", pipe.execute())
        return sorted({as_text(call_id) for reply in replies for call_id in reply})

    # Helpers

    def _decisions(self) -> Lock:
        """The lock that serialises every decision pairing a call with an agent."""
        return cast(Lock, self.client.lock(ACD_LOCK, timeout=10, blocking_timeout=10))

    def _queued(self, call_id: str) -> QueuedCall:
        queued = self._queued_or_none(call_id)
        if queued is None:
            raise NoSuchOffer(f"call {call_id} is not in a queue", details={"call_id": call_id})
        return queued

    def _queued_or_none(self, call_id: str) -> QueuedCall | None:
        raw = cast("str | bytes | None", self.client.get(QUEUED_CALL.format(call_id=call_id)))
        return QueuedCall.model_validate_json(raw) if raw is not None else None

    def lost(self, call_ids: list[str]) -> set[str]:
        """Those of ``call_ids`` whose callers are heard waiting (they asked about their
        wait lately, :meth:`overflow_if_waited`) while the ACD has no record of them. A
        caller who has gone asks nothing, and one taken out for the overflow is no longer
        heard: neither is lost. Nor is one whose offer still rings an agent (its record lost
        alone): queued again, it would be offered to another agent over that offer, and
        the first left ringing for it; the offer's ring-out (:meth:`miss`) ends it first."""
        if not call_ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        pipe.mget([QUEUED_CALL.format(call_id=c) for c in call_ids])
        pipe.mget([HEARD.format(call_id=c) for c in call_ids])
        pipe.mget([OFFER.format(call_id=c) for c in call_ids])
        records, heard, offers = cast("list[list[str | bytes | None]]", pipe.execute())
        return {
            c
            for c, record, asked, offer in zip(call_ids, records, heard, offers, strict=True)
            if record is None and asked is not None and offer is None
        }

    def lost_since(self, lost: set[str]) -> dict[str, datetime]:
        """Since when each call of ``lost`` has been seen lost (now, for one not seen
        before); calls seen before and not lost any more are forgotten."""
        return self._seen_since(LOST_CALLS, lost)

    def left_on_calls_since(self, left: set[str]) -> dict[str, datetime]:
        """The same for agents left on a call (``agent:call``), see
        ``routing.release_agents_left_on_calls``."""
        return self._seen_since(LEFT_ON_CALLS, left)

    def _seen_since(self, key: str, seen_now: set[str]) -> dict[str, datetime]:
        now = self.clock()
        seen = {
            as_text(c): datetime.fromisoformat(as_text(at))
            for c, at in cast("dict[str | bytes, str | bytes]", self.client.hgetall(key)).items()
        }
        pipe = self.client.pipeline(transaction=False)
        if gone := set(seen) - seen_now:
            pipe.hdel(key, *gone)
        if new := seen_now - set(seen):
            pipe.hset(key, mapping={c: now.isoformat() for c in new})
        pipe.execute()
        return {c: seen.get(c, now) for c in seen_now}

    def current_offer(self, call_id: str) -> Offer | None:
        """The live offer of a call, if it is ringing an agent now."""
        raw = cast("str | bytes | None", self.client.get(OFFER.format(call_id=call_id)))
        return Offer.model_validate_json(raw) if raw else None

    def rings(self, call_id: str, agent_id: int) -> bool:
        """Whether the call's live offer rings this agent (a consultation, which rings a
        colleague for a call already bridged, does not count)."""
        current = self.current_offer(call_id)
        return current is not None and not current.consult and current.agent_id == agent_id

    def _offer_for(self, call_id: str, agent_id: int) -> Offer:
        raw = cast("str | bytes | None", self.client.get(OFFER.format(call_id=call_id)))
        offer = Offer.model_validate_json(raw) if raw else None
        if offer is None or offer.agent_id != agent_id:
            raise NoSuchOffer(
                f"call {call_id} is not offered to agent {agent_id}",
                details={"call_id": call_id, "agent_id": agent_id},
            )
        return offer

    def _drop_offer(self, call_id: str, pipe: redis.client.Pipeline | None = None) -> None:
        target = pipe if pipe is not None else self.client.pipeline()
        target.delete(OFFER.format(call_id=call_id))
        target.zrem(OFFERS, call_id)
        if pipe is None:
            target.execute()

    def _stats_key(self, queue: str) -> str:
        """The queue's figures of the hotline's day."""
        return STATS.format(queue=queue, day=self.clock().astimezone(self.zone).date())

    def _count(self, queue: str, field: str, pipe: redis.client.Pipeline | None = None) -> None:
        """Count one event of the queue's day; in ``pipe`` when given, sent with its writes."""
        key = self._stats_key(queue)
        target = pipe if pipe is not None else self.client.pipeline()
        target.hincrby(key, field, 1)
        target.expire(key, STATS_TTL_SECONDS)
        if pipe is None:
            target.execute()


def _score(queued: QueuedCall) -> float:
    return queued.priority * PRIORITY_SPAN + queued.sequence
