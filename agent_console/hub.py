"""One reader of the event stream per process, fanning events out to that process's consoles.

Every console could read the Redis stream itself, but then a process with a hundred
consoles parses every event a hundred times. Here one task per process reads the stream and
hands each console the events it may see; a console that (re)connects first reads what it
missed by id (XRANGE), then joins the live feed, with ids keeping the two from overlapping.
The same hub builds the supervisors' wall when events arrive and pushes it to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from agent_console.config import ConsoleConfig
from agent_console.wall import DayFigures, build_wall, day_figures
from core.bus import Envelope, parse_entries
from core.errors import CallCenterError, NotAuthenticated
from core.keys import EVENTS_STREAM
from core.types import Clock
from orders import Actor, Role, revoked_tokens
from telephony import POP, Acd

log = structlog.get_logger(__name__)

QUEUE_LIMIT = 2000
"""Events waiting for one console; a console this far behind is closed and resumes."""
BLOCK_MS = 1000
GATHER_SECONDS = 0.005
"""After a read, the hub lets the bus gather this long before the next: a call's events
come in bursts (ringing, queued, offered), and one read for each event was a sixth of a
busy service's CPU; a console sees an event at most this much later."""
RECHECK_SECONDS = 5
"""How often open consoles' tokens and users are checked again: a password reset or a
deactivation closes a console within this long."""
READY_TIMEOUT_SECONDS = 10
CATCH_UP_BATCH = 1000
_AGENT_EVENTS = frozenset(
    {
        "call.offered",
        "call.bridged",
        "call.held",
        "call.resumed",
        "call.transcript",
        "call.ended",
        "agent.state_changed",
    }
)
_CONSULT_EVENTS = frozenset(
    {
        "call.consult_offered",
        "call.consult_answered",
        "call.consult_completed",
        "call.consult_ended",
    }
)
"""An attended transfer's steps, seen by both agents in it."""
_OFFERS = frozenset({"call.offered", "call.consult_offered"})
"""Events that bring a call (and its pop) to an agent's console."""
_WALL_EVENTS = ("call.", "agent.", "order.", "sla.", "complaint.")
_OFF_THE_WALL = frozenset({"call.transcript"})
"""Call events the wall does not show: a live call's captions, several a second, would
only rebuild it for nothing."""
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})
STATION_STAFF = frozenset({Role.STATION, Role.ENGINEER})
_STATION_EVENTS = ("order.", "sla.")


_CUSTOMER_EVENTS = frozenset({"order.created", "order.status_changed"})
"""Order events an agent sees for the customers of its current call, so the pop follows
what the IVR, the station or another agent changes during the call."""


def visible(actor: Actor, envelope: Envelope, customers: frozenset[int] = frozenset()) -> bool:
    """What a console may see of an event (the gateway's ACL).

    Supervisors see everything; an agent sees only events about itself: its offers (with
    the screen pop), its calls and its state, and the order events of the ``customers`` of
    the call it was last offered. No other agent's pop ever reaches it. A station's staff
    see the order and SLA events of their own station's orders only.
    """
    if actor.role in SUPERVISING:
        return True
    if actor.role in STATION_STAFF:
        return (
            envelope.name.startswith(_STATION_EVENTS)
            and actor.station_id is not None
            and envelope.data.get("station_id") == actor.station_id
        )
    if envelope.name in _CUSTOMER_EVENTS:
        return envelope.data.get("customer_id") in customers
    if envelope.name in _CONSULT_EVENTS:
        return actor.id in named_agents(envelope)
    return envelope.name in _AGENT_EVENTS and envelope.data.get("agent_id") == actor.id


_NAMING_KEYS = ("agent_id", "from_agent_id", "consultant_id")


def named_agents(envelope: Envelope) -> set[int]:
    """The agents an event names: besides the customer events of its call, all an agent's
    console may see of the bus (see :func:`visible`)."""
    data = envelope.data
    # Ids as the event models write them (int); a missing key names nobody.
    return {agent for key in _NAMING_KEYS if isinstance(agent := data.get(key), int)}


def watches_all(actor: Actor) -> bool:
    """Whether any event may be for ``actor``'s console, not only those naming them."""
    return actor.role in SUPERVISING or actor.role in STATION_STAFF


def event_id(value: str) -> tuple[int, int]:
    """A stream id as a comparable pair (Redis ids are ``milliseconds-sequence``)."""
    millis, _, sequence = value.partition("-")
    return int(millis), int(sequence or 0)


@dataclass(frozen=True)
class WallFrame:
    text: str


@dataclass(frozen=True)
class Revoked:
    """Wakes a console whose sign-in no longer holds (see :meth:`Seat.revoke`)."""

    reason: str


Item = Envelope | WallFrame | Revoked


@dataclass(eq=False)
class Seat:
    """One connected console: who it is and what waits to be sent to it."""

    actor: Actor
    token: str
    """The token the console signed in with, checked again every ``RECHECK_SECONDS``."""
    queue: asyncio.Queue[Item] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False
    revoked: str | None = None
    """Why the console's sign-in no longer holds (the user was deactivated, or their tokens
    revoked): it is closed."""
    customers: frozenset[int] = frozenset()
    """The customers of the call last offered to this agent (kept through wrap-up)."""

    @property
    def supervising(self) -> bool:
        return self.actor.role in SUPERVISING

    def sees(self, envelope: Envelope) -> bool:
        if envelope.name in _OFFERS and envelope.data.get("agent_id") == self.actor.id:
            self.customers = frozenset(envelope.data.get("customer_ids") or ())
        return visible(self.actor, envelope, self.customers)

    def revoke(self, reason: str) -> None:
        """Kept on the seat, not only handed over: a full queue would drop the item, and
        the console would be told it is too slow instead."""
        self.revoked = reason
        self.offer(Revoked(reason))

    def offer(self, item: Item) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


@dataclass
class HubContext:
    """What the hub needs from the process: built once from the app's state."""

    redis_url: str
    acd: Acd
    sessions: Callable[[], AbstractContextManager[Session]]
    clock: Clock
    secret_key: str
    config: ConsoleConfig
    stream: str = EVENTS_STREAM


class ConsoleHub:
    def __init__(self, context: HubContext) -> None:
        self.context = context
        self.seats: set[Seat] = set()
        self._watching: set[Seat] = set()
        """Supervisors' and station staff's seats: any event may be for them."""
        self._agents: dict[int | None, set[Seat]] = {}
        """The other seats, by user: only the events that name them (and the order events
        of their call's customers) may be, so a call's events are not checked against every
        agent's seat on the floor."""
        self.position = "0-0"
        """Id of the newest event handed to the seats."""
        self.client = aioredis.Redis.from_url(context.redis_url, decode_responses=True)
        self.acd = context.acd
        self._ready = asyncio.Event()
        self._wall_due = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._day: DayFigures | None = None
        self._day_built = 0.0

    # Seats

    async def join(self, actor: Actor, token: str) -> Seat:
        """Take a seat; raises TimeoutError when the bus cannot be read (Redis is away)."""
        seat = Seat(actor, token)
        self.seats.add(seat)
        if watches_all(actor):
            self._watching.add(seat)
        else:
            self._agents.setdefault(actor.id, set()).add(seat)
        if not self._tasks or any(task.done() for task in self._tasks):
            self._start()
        try:
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            self.leave(seat)
            raise
        if seat.supervising:
            self._wall_due.set()
        return seat

    def _start(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._ready = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._read(), name="console-hub-read"),
            asyncio.create_task(self._walls(), name="console-hub-walls"),
            asyncio.create_task(self._rechecks(), name="console-hub-rechecks"),
        ]

    def leave(self, seat: Seat) -> None:
        self.seats.discard(seat)
        self._watching.discard(seat)
        others = self._agents.get(seat.actor.id)
        if others is not None:
            others.discard(seat)
            if not others:
                del self._agents[seat.actor.id]
        if not self.seats:
            for task in self._tasks:
                task.cancel()
            self._tasks = []

    # Reading the stream

    async def newest_id(self) -> str:
        newest = await self.client.xrevrange(self.context.stream, count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def after(self, last_id: str, count: int = CATCH_UP_BATCH) -> list[Envelope]:
        """Events after ``last_id``, oldest first (what a reconnecting console missed)."""
        reply = await self.client.xrange(self.context.stream, min=f"({last_id}", count=count)
        return parse_entries([(self.context.stream, reply)])

    async def _read(self) -> None:
        while True:
            try:
                if not self._ready.is_set():
                    self.position = await self.newest_id()
                    self._ready.set()
                reply = await self.client.xread(
                    {self.context.stream: self.position}, count=500, block=BLOCK_MS
                )
            except redis.RedisError as exc:
                log.warning("console hub cannot read the bus", error=str(exc))
                await asyncio.sleep(1)
                continue
            for stream, entries in reply or []:
                if entries:
                    self._fan_out(parse_entries([(stream, entries)]), str(entries[-1][0]))
            if reply:
                await asyncio.sleep(GATHER_SECONDS)

    def _fan_out(self, envelopes: list[Envelope], last_id: str) -> None:
        for envelope in envelopes:
            for seat in self._may_see(envelope):
                if seat.sees(envelope):
                    seat.offer(envelope)
            if envelope.name.startswith(_WALL_EVENTS) and envelope.name not in _OFF_THE_WALL:
                self._wall_due.set()
            # An order or SLA change moves the day's SLA figures: rebuild them, not reuse.
            if envelope.name.startswith(_STATION_EVENTS):
                self._day = None
        self.position = last_id

    def _may_see(self, envelope: Envelope) -> list[Seat]:
        if envelope.name in _CUSTOMER_EVENTS:  # any agent may be on a call of that customer
            return list(self.seats)
        named = (self._agents.get(agent, ()) for agent in named_agents(envelope))
        return [*self._watching, *(seat for seats in named for seat in seats)]

    # The screen pop

    async def screen_pop(self, call_id: str) -> str | None:
        """The pop of an offered call, as JSON: completed once when the call arrived."""
        raw: str | None = await self.client.get(POP.format(call_id=call_id))
        return raw

    # Sign-ins checked again

    async def _rechecks(self) -> None:
        """Every console's sign-in checked again every ``RECHECK_SECONDS``, the whole
        process's in one query. Checked one console at a time, a floor of 400 agents cost
        80 queries a second, and consoles that connected together (all of them, after a
        restart) came as bursts that held up the calls arriving at that moment."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            tokens = {seat: seat.token for seat in self.seats}
            if not tokens:
                continue
            try:
                refused = await run_in_threadpool(self._revoked, tokens)
            except (CallCenterError, SQLAlchemyError) as exc:
                # A busy or unreachable database says nothing about the users: every
                # console of the floor closing at once would only add to the load.
                log.warning("consoles' re-check postponed", error=str(exc))
                continue
            except Exception:  # a failed check must not end the checks; the next may work
                log.exception("could not check the consoles' sign-ins again")
                continue
            for seat, why in refused.items():
                seat.revoke(why.message)

    def _revoked(self, tokens: dict[Seat, str]) -> dict[Seat, NotAuthenticated]:
        context = self.context
        with context.sessions() as session:
            return revoked_tokens(
                session, tokens=tokens, secret=context.secret_key, clock=context.clock
            )

    # The wall

    async def _walls(self) -> None:
        config = self.context.config
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wall_due.wait(), config.wall_refresh_seconds)
            self._wall_due.clear()
            if not any(seat.supervising for seat in self.seats):
                continue
            try:
                text = await run_in_threadpool(self._wall_text)
            except Exception:  # a failed refresh must not end the wall; the next one may work
                log.exception("could not build the wall")
                await asyncio.sleep(1)
                continue
            frame = WallFrame(text)
            for seat in list(self.seats):
                if seat.supervising:
                    seat.offer(frame)
            await asyncio.sleep(config.wall_min_interval_seconds)

    def _wall_text(self) -> str:
        context = self.context
        now = context.clock()
        with context.sessions() as session:
            age = time.monotonic() - self._day_built
            if self._day is None or age >= context.config.wall_slow_seconds:
                self._day = day_figures(session, now=now, config=context.config)
                self._day_built = time.monotonic()
            wall = build_wall(session, acd=self.acd, now=now, config=context.config, day=self._day)
        return json.dumps(
            {"type": "wall", "wall": wall.model_dump(mode="json"), "server_time": now.isoformat()},
            ensure_ascii=False,
        )
