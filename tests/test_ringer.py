"""Agents of Twilio calls are rung from ``call.offered`` on the bus, whoever made the offer;
offers of SIP calls are left to their endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
from arq import create_pool
from arq.connections import RedisSettings

from orders.enums import Role
from telephony.enums import CallChannel
from telephony.routing import record_offers
from telephony.switchboard import Switchboard
from telephony.twilio import ringer
from telephony.twilio.ringer import RINGER_GROUP, STALE_MS, Steering, ring_offered_agents
from tests.conftest import TestClock, hotline_switchboard


def _ring_passes(redis_url: str, context: dict[str, Any], consumers: list[str]) -> list[int]:
    """One ring pass for each named worker, all at once; how many offers each queued."""

    async def run() -> list[int]:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        contexts = [{**context, "redis": jobs} for _ in consumers]
        try:
            rung = await asyncio.gather(
                *(
                    ring_offered_agents(ringing, consumer=name)
                    for ringing, name in zip(contexts, consumers, strict=True)
                )
            )
            for ringing in contexts:
                await ringing["steering"].drain()
            return list(rung)
        finally:
            await jobs.aclose()

    return asyncio.run(run())


def _queued_rings(redis_url: str) -> list[str]:
    async def run() -> list[str]:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            return sorted(job.job_id for job in await jobs.queued_jobs())
        finally:
            await jobs.aclose()

    return asyncio.run(run())


def _offered(
    bus: redis.Redis, clock: TestClock, make_user: Any, make_call: Any, channels: list[Any]
) -> tuple[Switchboard, list[Any]]:
    board = hotline_switchboard(bus, clock)
    calls = [make_call(channel=channel) for channel in channels]
    for _ in calls:
        board.acd.presence.log_in(make_user(Role.AGENT).id, queues=["q"], skills=[])
    for call in calls:
        board.acd.enqueue(call.id, "q")
    return board, calls


def test_each_offer_of_a_twilio_call_is_rung_once_and_sip_offers_not_at_all(
    db: Any,
    bus: redis.Redis,
    redis_url: str,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    clock: TestClock,
) -> None:
    channels = [CallChannel.TWILIO, CallChannel.TWILIO, CallChannel.SIP]
    board, calls = _offered(bus, clock, make_user, make_call, channels)
    # The offers are made and recorded as any producer does; nobody asks for a ring.
    offers = record_offers(db, board.acd, board.acd.dispatch("q"))
    assert {o.call_id for o in offers} == {c.id for c in calls}
    context = {"switchboard": board, "sessions": sessions}

    first = _ring_passes(redis_url, context, ["worker-a", "worker-b"])
    again = _ring_passes(redis_url, context, ["worker-a", "worker-b"])

    assert sum(first) == 2 and sum(again) == 0
    rung = _queued_rings(redis_url)
    assert {job.split(":")[1] for job in rung} == {c.id for c in calls[:2]}
    assert bus.xpending(board.events.stream, RINGER_GROUP)["pending"] == 0


def test_offers_a_dead_worker_read_are_rung_by_another(
    db: Any,
    bus: redis.Redis,
    redis_url: str,
    make_user: Any,
    make_call: Any,
    sessions: Any,
    clock: TestClock,
) -> None:
    board, [call] = _offered(bus, clock, make_user, make_call, [CallChannel.TWILIO])
    record_offers(db, board.acd, board.acd.dispatch("q"))
    # A worker reads the offer (and what else the bus carried) and dies before it rings.
    taken = board.events.read_group(RINGER_GROUP, "died-worker", count=1000)
    assert any(e.name == "call.offered" for e in taken)
    context = {"switchboard": board, "sessions": sessions}
    assert _ring_passes(redis_url, context, ["alive"]) == [0]  # not stale yet

    # Time passes for the dead worker's reading (Redis keeps the idle time itself).
    bus.xclaim(
        board.events.stream,
        RINGER_GROUP,
        "died-worker",
        min_idle_time=0,
        message_ids=[e.id for e in taken],
        idle=STALE_MS + 1,
    )
    assert _ring_passes(redis_url, context, ["alive"]) == [1]
    assert [job.split(":")[1] for job in _queued_rings(redis_url)] == [call.id]
    assert bus.xpending(board.events.stream, RINGER_GROUP)["pending"] == 0


def test_a_failed_steering_step_is_tried_again_before_the_calls_next_step_and_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found in review: a step that failed (the database away a moment) was left for 10 s,
    read again at once in a hot loop, and the call's next step ran meanwhile: a
    transferred caller's next agent was rung while the old agent's leg was still up."""
    monkeypatch.setattr(ringer, "RETRY_SECONDS", (0.05, 0.05, 0.05, 0.05))
    done: list[str] = []

    def step(name: str, failures: int = 0) -> Callable[[], Awaitable[None]]:
        tries = iter(range(failures + 1))

        async def run() -> None:
            if next(tries) < failures:
                raise ConnectionError("database away")
            done.append(name)

        return run

    async def steer() -> None:
        chain = Steering()
        chain.then("call-a", "1-0", step("hang up the old agent", failures=2))
        chain.then("call-a", "2-0", step("ring the next agent"))
        chain.then("call-b", "3-0", step("ring another call's agent"))
        assert chain.holds("1-0") and chain.busy("call-a")
        await chain.drain()
        assert not chain.holds("1-0") and not chain.busy("call-a")

    asyncio.run(steer())

    assert done == ["ring another call's agent", "hang up the old agent", "ring the next agent"]


def test_a_step_that_keeps_failing_is_left_to_be_taken_over_and_the_call_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ringer, "RETRY_SECONDS", (0.01, 0.01))
    tries: list[int] = []

    async def broken() -> None:
        tries.append(1)
        raise ConnectionError("database away")

    async def next_step() -> None:
        tries.append(0)

    async def steer() -> None:
        chain = Steering()
        chain.then("call-a", "1-0", broken)
        chain.then("call-a", "2-0", next_step)
        await chain.drain()

    asyncio.run(steer())

    assert tries == [1, 1, 1, 0]  # first try and two retries, then the call's next step
