"""The event bus: one Redis Stream that every process publishes to and reads from.

Consumers read through consumer groups, so a consumer that restarts resumes where its
group left off and misses nothing; consoles read by event id, so a reconnecting console
can ask for what it missed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

import redis
import structlog
from pydantic import BaseModel
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT, StreamIdT
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from core.errors import CallCenterError
from core.keys import EVENTS_STREAM

log = structlog.get_logger(__name__)

# Enough history for a console to resume after a long reconnect, bounded so the stream
# never grows without limit.
STREAM_MAXLEN = 200_000
RETRY_AFTER_SECONDS = 5
"""Redis is back within seconds after a restart or a failover; clients retry then."""


class BusUnavailable(CallCenterError):
    status_code = 503
    error_id = "bus_unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def bus_unavailable(exc: redis.RedisError, *, action: str = "reach Redis") -> BusUnavailable:
    """The one translation of a Redis failure into our error tree: whatever Redis raised
    (refused, timed out, out of connections, failing over), the service is briefly
    unavailable and a client retries after a few seconds. The bus uses it here; the app
    maps any Redis error a route lets through with it, so every edge answers alike."""
    return BusUnavailable(f"could not {action}: {exc}", details={"redis_error": type(exc).__name__})


class Event(BaseModel):
    """Base of every bus event; subclasses set ``name`` (``noun.verb``)."""

    name: ClassVar[str]


@dataclass(frozen=True)
class Envelope:
    id: str
    name: str
    data: dict[str, Any]
    raw: str = ""
    """``data`` as the stream holds it (JSON): passed on as it is, not encoded again."""


class EventBus:
    def __init__(self, client: redis.Redis, *, stream: str = EVENTS_STREAM) -> None:
        # redis-py types the sync client's replies as ``Awaitable | Any``, one set of commands
        # serving both clients: the casts say what Redis returns.
        self.client = client
        self.stream = stream

    def publish(self, event: Event) -> str:
        fields: dict[FieldT, EncodableT] = {"name": event.name, "data": event.model_dump_json()}
        try:
            event_id = cast(
                "str | bytes",
                self.client.xadd(self.stream, fields, maxlen=STREAM_MAXLEN, approximate=True),
            )
        except redis.RedisError as exc:
            raise bus_unavailable(exc, action=f"publish {event.name}") from exc
        return as_text(event_id)

    def publish_many(
        self,
        events: list[Event],
        *,
        along: Callable[[Pipeline], object] | None = None,
        together: bool = False,
    ) -> None:
        """Publish in one round trip (a pipeline): a sweep may have thousands to tell.
        ``along`` adds the publisher's own writes to the same round trip, ahead of the
        events (a new call's pop is stored before its ``call.ringing`` is read).
        ``together``: all of them or none (MULTI/EXEC), for events that only make sense
        as one."""
        pipe = self.client.pipeline(transaction=together)
        if along is not None:
            along(pipe)
        for event in events:
            fields: dict[FieldT, EncodableT] = {
                "name": event.name,
                "data": event.model_dump_json(),
            }
            pipe.xadd(self.stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            raise bus_unavailable(exc, action=f"publish {len(events)} events") from exc

    def last_id(self) -> str:
        """Id of the newest event, to read what comes after it; ``0-0`` when empty."""
        newest = cast("list[Any]", self.client.xrevrange(self.stream, count=1))
        return as_text(newest[0][0]) if newest else "0-0"

    def ensure_group(self, group: str, *, start: str = "$") -> None:
        try:
            self.client.xgroup_create(self.stream, group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise bus_unavailable(exc, action=f"create consumer group {group}") from exc

    def read_new(self, group: str, consumer: str, *, count: int = 100) -> list[Envelope]:
        """Entries no consumer of the group has read yet."""
        return self._xreadgroup(group, consumer, ">", count, None)

    def read_pending(self, group: str, consumer: str, *, count: int = 100) -> list[Envelope]:
        """Entries this consumer read and has not acknowledged."""
        return self._xreadgroup(group, consumer, "0", count, None)

    def keep_claimed(self, group: str, consumer: str, event_ids: list[str]) -> None:
        """Entries this consumer is still working on: their idle time starts again, so no
        other consumer takes them over as stale."""
        if event_ids:
            self.client.xclaim(
                self.stream,
                group,
                consumer,
                min_idle_time=0,
                message_ids=list[StreamIdT](event_ids),
                justid=True,
            )

    def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Envelope]:
        """Entries another consumer of the group read but never acknowledged for
        ``min_idle_ms`` (it died), taken over by ``consumer``."""
        _next, entries, *_deleted = cast(
            "list[Any]",
            self.client.xautoclaim(
                self.stream, group, consumer, min_idle_time=min_idle_ms, count=count
            ),
        )
        return parse_entries([(self.stream, entries)])

    def ack(self, group: str, *event_ids: str) -> None:
        if event_ids:
            self.client.xack(self.stream, group, *event_ids)

    def read_after(
        self, last_id: str, *, count: int = 100, block_ms: int | None = None
    ) -> list[Envelope]:
        """Events after ``last_id`` (``0`` for all kept history, ``$`` for new only)."""
        reply = self.client.xread({self.stream: last_id}, count=count, block=block_ms)
        return parse_entries(reply)

    def _xreadgroup(
        self, group: str, consumer: str, start: str, count: int, block_ms: int | None
    ) -> list[Envelope]:
        reply = self.client.xreadgroup(
            group, consumer, {self.stream: start}, count=count, block=block_ms
        )
        return parse_entries(reply)


def parse_entries(reply: Any) -> list[Envelope]:
    """Envelopes from an XREAD / XREADGROUP reply."""
    envelopes = []
    for _stream, entries in reply or []:
        for event_id, fields in entries:
            if not fields:  # an entry trimmed away while still pending
                continue
            decoded = {as_text(k): as_text(v) for k, v in fields.items()}
            raw = decoded["data"]
            envelopes.append(
                Envelope(id=as_text(event_id), name=decoded["name"], data=json.loads(raw), raw=raw)
            )
    return envelopes


def stream_order(event_id: str) -> tuple[int, int]:
    """An entry's place in its stream, from its id (``milliseconds-sequence``)."""
    milliseconds, _, sequence = event_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def as_text(value: str | bytes) -> str:
    """A Redis reply as text, from a client that decodes replies or one that does not."""
    return value.decode() if isinstance(value, bytes) else value


S = TypeVar("S", bound=Session)
_PENDING = "events_pending"
_PUBLISHER = "events_publisher"


def bind_events(session: S, events: EventBus) -> S:
    """Let the session publish the events its work queued (``publish_on_commit``)."""
    session.info[_PUBLISHER] = events
    return session


def with_events(
    sessions: Callable[[], AbstractContextManager[S]], events: EventBus
) -> Callable[[], AbstractContextManager[S]]:
    """A session factory whose sessions publish their queued events (for jobs and the SIP
    endpoint; requests bind theirs in ``core.deps``)."""

    @contextmanager
    def bound() -> Iterator[S]:
        with sessions() as session:
            yield bind_events(session, events)

    return bound


def publish_on_commit(session: Session, event: Event) -> None:
    """Publish ``event`` once the session's transaction commits; never if it rolls back.

    Domain services change rows and queue what happened; readers of the bus (consoles, the
    wall, workers) then never see an event for a change that was not saved. A failure to
    publish after the commit is logged, not raised: the change stands, and the readers
    that missed the event catch up on their next refresh.
    """
    session.info.setdefault(_PENDING, []).append(event)


@sa_event.listens_for(Session, "after_commit")
def _publish_pending(session: Session) -> None:
    pending: list[Event] = session.info.pop(_PENDING, [])
    publisher: EventBus | None = session.info.get(_PUBLISHER)
    if publisher is None or not pending:
        return
    try:
        publisher.publish_many(pending)
    except BusUnavailable as exc:
        log.warning("events_not_published", events=[e.name for e in pending], error=str(exc))


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint rolled back inside the work (a retried insert) leaves the rest standing.
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)
