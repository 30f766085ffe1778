"""Recovery of the SIP calls a dead endpoint left behind, against the real Redis and
database: what it does to the ACD, not only to the call log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from sqlmodel import Session, select

from agent_console import ConsoleConfig, pop_presenter
from callcenter.app import worker_context
from core.bus import EventBus
from orders.enums import Role
from orders.models import User
from recordings import Recording, RecordingKind, WavWriter, recording_path
from telephony.acd import Acd
from telephony.enums import CallChannel, CallState, Disposition
from telephony.events import CallNotifier
from telephony.models import Call
from telephony.presence import AgentState, Presence
from telephony.repairs import Repair, repair_counts
from telephony.routing import expire_offers, offer_waiting_calls, record_offers
from telephony.sip.jobs import reconcile_calls
from telephony.sip.recovery import end_orphaned_calls
from tests.conftest import TestClock


def _recover(
    db: Session, bus: redis.Redis, acd: Acd, recordings: Path, clock: TestClock
) -> list[str]:
    """A restarted endpoint's recovery, over what no endpoint carries."""
    return end_orphaned_calls(
        db,
        client=bus,
        notifier=CallNotifier(EventBus(bus), pop_presenter(ConsoleConfig(), clock)),
        acd=acd,
        recordings_dir=recordings,
        owner="",
        carried=set(),
        clock=clock,
    )


def test_a_dead_endpoints_call_ringing_an_agent_leaves_the_queue_and_frees_the_agent(
    db: Session,
    bus: redis.Redis,
    clock: TestClock,
    tmp_path: Path,
    make_call: Callable[..., Call],
    make_user: Callable[..., User],
) -> None:
    """The endpoint died while its caller was offered to an agent and another caller
    waited: both calls end, the agent is free, and no later sweep offers either again."""
    events = EventBus(bus)
    presence = Presence(bus, events, clock=clock)
    acd = Acd(bus, events, presence, clock=clock)
    agent = make_user(Role.AGENT).id
    presence.log_in(agent, queues=["q"], skills=[])
    long_ago = clock() - timedelta(minutes=1)
    ringing = make_call(channel=CallChannel.SIP, ringing_at=long_ago)
    waiting = make_call(channel=CallChannel.SIP, ringing_at=long_ago)
    for call in (ringing, waiting):
        acd.enqueue(call.id, "q")
    [offer] = record_offers(db, acd, acd.dispatch("q"))
    assert offer.call_id == ringing.id

    ended = _recover(db, bus, acd, tmp_path, clock)

    assert sorted(ended) == sorted([ringing.id, waiting.id])
    for call in (ringing, waiting):
        db.refresh(call)
        assert (call.state, call.disposition) == (CallState.ENDED, Disposition.FAILED)
    assert presence.get(agent).state is AgentState.AVAILABLE
    clock.advance(60)  # the old offer would have expired
    assert expire_offers(db, acd=acd) + offer_waiting_calls(db, acd=acd) == []
    assert presence.get(agent).state is AgentState.AVAILABLE
    assert acd.figures("q").waiting == 0


def test_a_call_whose_end_was_not_logged_keeps_its_finished_recording(
    db: Session,
    bus: redis.Redis,
    clock: TestClock,
    tmp_path: Path,
    make_call: Callable[..., Call],
) -> None:
    """Found in review: the endpoint closed the recording, then failed to log the call's
    end (the database away); the recovery filed only recordings cut off by a crash, so
    this one stayed on disk, never transcribed and out of retention's reach."""
    events = EventBus(bus)
    presence = Presence(bus, events, clock=clock)
    acd = Acd(bus, events, presence, clock=clock)
    call = make_call(channel=CallChannel.SIP, ringing_at=clock() - timedelta(minutes=1))
    writer = WavWriter(recording_path(tmp_path, call.id, at=call.ringing_at), channels=2)
    writer.write(bytes(4 * 8000))
    finished = writer.finish()

    _recover(db, bus, acd, tmp_path, clock)

    [recording] = db.exec(select(Recording).where(Recording.call_id == call.id)).all()
    assert (recording.kind, recording.duration_seconds) == (RecordingKind.CALL, 1.0)
    assert recording.sha256 == finished.sha256


def test_the_worker_ends_a_dead_endpoints_call_and_counts_the_repair(
    app: Any, db: Session, bus: redis.Redis, clock: TestClock, make_call: Callable[..., Call]
) -> None:
    """The worker's sweep (every 3 s) ends the call, and counts it among its repairs: an
    endpoint dying is worth an operator's look (``callcenter_call_repairs_total``)."""
    carried = make_call(channel=CallChannel.SIP, ringing_at=clock() - timedelta(minutes=1))

    assert asyncio.run(reconcile_calls({**worker_context(app), "bus": bus})) == 1
    db.refresh(carried)
    assert (carried.state, carried.disposition) == (CallState.ENDED, Disposition.FAILED)
    assert repair_counts(bus)[Repair.ORPHANED_SIP_CALL_ENDED] == 1
