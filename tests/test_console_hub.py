"""The hub hands each console exactly the events it may see, however many consoles a
process holds: it checks an event only against the consoles it may be for (supervisors,
station staff, the agents the event names), and that shortcut must never change who gets
what."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import hypothesis.strategies as st
import pytest
import redis
from hypothesis import HealthCheck, example, given, settings

from agent_console.gateway import hub_of
from agent_console.hub import ConsoleHub, Seat
from core.bus import Envelope
from core.keys import EVENTS_STREAM
from orders import Actor, Role

NAMES = (
    "call.ringing",
    "call.queued",
    "call.offered",
    "call.bridged",
    "call.ended",
    "call.transcript",
    "agent.state_changed",
    "call.consult_offered",
    "call.consult_answered",
    "call.consult_ended",
    "order.created",
    "order.status_changed",
    "sla.warning",
    "complaint.created",
)
AGENT_IDS = st.sampled_from([None, 1, 2, 3])

actors = st.builds(
    lambda role, user, station: Actor(id=user, name=f"u{user}", role=role, station_id=station),
    st.sampled_from(list(Role)),
    st.sampled_from([1, 2, 3]),
    st.sampled_from([None, 1, 2]),
)
events = st.builds(
    lambda name, agent, colleague, consultant, customer, station: (
        name,
        {
            key: value
            for key, value in (
                ("call_id", "c1"),
                ("agent_id", agent),
                ("from_agent_id", colleague),
                ("consultant_id", consultant),
                ("customer_id", customer),
                ("customer_ids", [customer] if customer else []),
                ("station_id", station),
            )
            if value is not None
        },
    ),
    # Offers and order events, often: an order event reaches an agent only through the
    # customers of the call it was offered, whoever the event names.
    st.sampled_from((*NAMES, *(["call.offered", "order.status_changed"] * 4))),
    AGENT_IDS,
    AGENT_IDS,
    AGENT_IDS,
    st.sampled_from([None, 7, 7, 8]),
    st.sampled_from([None, 1, 2]),
)


async def _deliveries(
    hub: ConsoleHub,
    bus: redis.Redis,
    people: list[Actor],
    published: list[tuple[str, dict[str, Any]]],
) -> tuple[list[list[str]], list[list[str]]]:
    """What each console got from the hub, and what :func:`visible` says each may see."""
    seats = [await hub.join(actor, "token") for actor in people]
    try:
        ids = [_publish(bus, name, data) for name, data in published]
        deadline = time.monotonic() + 10
        while hub.position != ids[-1]:
            assert time.monotonic() < deadline, "the hub never read the events"
            await asyncio.sleep(0.01)
        got = [[item.id for item in _drain(seat) if isinstance(item, Envelope)] for seat in seats]
    finally:
        for seat in seats:
            hub.leave(seat)
    expected = []
    for actor in people:
        alone = Seat(actor, "token")  # its own record of the customers it was offered
        envelopes = [
            Envelope(i, name, data) for i, (name, data) in zip(ids, published, strict=True)
        ]
        expected.append([e.id for e in envelopes if alone.sees(e)])
    return got, expected


def _publish(bus: redis.Redis, name: str, data: dict[str, Any]) -> str:
    entry = bus.xadd(EVENTS_STREAM, {"name": name, "data": json.dumps(data)})
    return entry.decode() if isinstance(entry, bytes) else str(entry)


def _drain(seat: Seat) -> list[Any]:
    return [seat.queue.get_nowait() for _ in range(seat.queue.qsize())]


# The hub reads Redis alone (the wall's database reads are not under test): one database.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_console_gets_exactly_the_events_it_may_see(app: Any, bus: redis.Redis) -> None:
    loop = asyncio.new_event_loop()
    hub = hub_of(app)

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        people=st.lists(actors, min_size=1, max_size=8),
        published=st.lists(events, min_size=1, max_size=15),
    )
    @example(  # the order event names no agent: it reaches the agent through its call
        people=[Actor(id=1, name="u1", role=Role.AGENT), Actor(id=2, name="u2", role=Role.AGENT)],
        published=[
            ("call.offered", {"call_id": "c1", "agent_id": 1, "customer_ids": [7]}),
            ("order.status_changed", {"customer_id": 7, "station_id": 1}),
        ],
    )
    def check(people: list[Actor], published: list[tuple[str, dict[str, Any]]]) -> None:
        got, expected = loop.run_until_complete(_deliveries(hub, bus, people, published))
        assert got == expected

    try:
        check()
    finally:
        # The hub's tasks were cancelled as the last console left: give them a bounded
        # while to end before the loop closes (waiting on all of them once hung CI).
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.run_until_complete(hub.client.aclose())
        loop.close()
