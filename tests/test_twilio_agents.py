"""Queued Twilio callers reach agents through our ACD: ring, bridge, miss, abandon."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import wave
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from arq import create_pool
from arq.connections import RedisSettings
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import event, update
from sqlmodel import Session, col, select

from callbacks.models import OutboundTask
from callcenter.app import worker_context
from callcenter.settings import Settings
from core.bus import EventBus
from orders.enums import Role
from recordings.models import Recording, RecordingKind
from telephony import calls, services
from telephony.acd import MISSED_OFFERS_LIMIT, Acd
from telephony.constants import OFFER, OFFERS, QUEUED_CALL, TWILIO_SETTLE_LOCK
from telephony.enums import CallChannel, CallState
from telephony.events import CallHangUp
from telephony.models import Call
from telephony.routing import LOST_AFTER_SECONDS
from telephony.twilio.jobs import (
    ring_twilio_agent,
    settle_twilio_calls,
    steer_agent_leg,
    sweep_offers,
)
from telephony.twilio.ringer import RINGER_GROUP
from telephony.twilio.settle import settle_ended_calls
from tests.conftest import PUBLIC_URL, TWILIO_ACCOUNT_SID, TestClock, bearer
from tests.fake_twilio_api import FakeTwilioApi, Recorded, Reply
from tests.twilio_sim import (
    SimulatedCall,
    TwilioSimulator,
    TwiML,
    ring_until,
    run_worker_jobs,
)

pytestmark = pytest.mark.clock
"""Business hours, offer timeouts and token expiry, all on the tests' clock."""

QUEUE = "hotline-zh-CN"


@pytest.fixture
def settings(settings: Settings, api: FakeTwilioApi) -> Settings:
    return settings.model_copy(
        update={"twilio": settings.twilio.model_copy(update={"api_base_url": api.base_url})}
    )


@pytest.fixture
def agent(client: TestClient, make_user: Any) -> Any:
    def log_in() -> tuple[int, dict[str, str]]:
        user = make_user(Role.AGENT)
        auth = bearer(user)
        response = client.put("/api/agents/me/login", json={"queues": [QUEUE]}, headers=auth)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "available"
        return user.id, auth

    return log_in


def _sweep(app: Any, redis_url: str, settings: Settings, bus: redis.Redis) -> int:
    """One run of the worker's offer sweep, as its cron does every two seconds."""

    async def sweep() -> int:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            return await sweep_offers({**worker_context(app), "bus": bus, "redis": jobs})
        finally:
            await jobs.aclose()

    return asyncio.run(sweep())


def _rings(api: FakeTwilioApi) -> list[Any]:
    return [r for r in api.requests if r.method == "POST" and r.path.endswith("/Calls.json")]


def _queued_caller(sim: TwilioSimulator, make_customer: Any) -> SimulatedCall:
    make_customer(name="郑凯", phones=("13800138000",))
    call = sim.call("+8613800138000")
    assert call.press("0").verbs()[-1] == "Enqueue"
    return call


def _read_again_from(bus: redis.Redis, name: str) -> None:
    """The ringer's group reads the bus again from the last event named ``name``, as
    after a worker that died before it acknowledged it."""
    stream = EventBus(bus).stream
    ids = [e.id for e in EventBus(bus).read_after("0", count=10_000)]
    named = [e.id for e in EventBus(bus).read_after("0", count=10_000) if e.name == name]
    bus.xgroup_setid(stream, RINGER_GROUP, id=ids[ids.index(named[-1]) - 1])


def _queued_jobs(redis_url: str) -> list[str]:
    async def read() -> list[str]:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            return [job.job_id for job in await jobs.queued_jobs()]
        finally:
            await jobs.aclose()

    return asyncio.run(read())


def _row(db: Session, sid: str) -> Call:
    db.expire_all()
    return db.exec(select(Call).where(Call.provider_id == sid)).one()


def _events(bus: redis.Redis, name: str) -> list[dict[str, Any]]:
    return [e.data for e in EventBus(bus).read_after("0", count=1000) if e.name == name]


def test_an_offer_is_rung_even_when_its_ring_job_runs_before_the_offer_is_committed(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    """Found in review: ``call.offered`` goes out while the request that made the offer
    is still to commit it, and a ring job that read the row as "queued" dropped the ring
    for good; the caller waited the offer out."""
    agent_id, _auth = agent()
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    caller = _queued_caller(sim, make_customer)
    row = _row(db, caller.sid)
    # As the ring job would see the row before the offering request commits:
    db.connection().execute(
        update(Call).where(col(Call.id) == row.id).values(state="queued", agent_id=None)
    )
    db.commit()
    db.expire_all()

    run_worker_jobs(app, redis_url, bus)

    [ring] = _rings(api)
    assert ring.form["To"] == [f"client:agent-{agent_id}"]


def test_events_the_ringer_skips_do_not_stop_it_ringing(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    clock: TestClock,
) -> None:
    """An agent's console hang-up of a call whose caller has hung up already (nothing to
    steer), and a ``call.offered`` the ringer cannot read: each is skipped with a log line.
    The log line itself failed (structlog's ``event`` is the message), so the ringer's pass
    failed before it acknowledged anything, and every pass after it read the same events
    and failed again: no agent was rung any more."""
    agent_id, _auth = agent()
    gone = sim.call("+8613800138001")
    gone.status("completed")
    events = EventBus(bus)
    events.publish(CallHangUp(call_id=_row(db, gone.sid).id, agent_id=agent_id, at=clock()))
    bus.xadd(events.stream, {"name": "call.offered", "data": '{"call_id": "c1"}'})
    run_worker_jobs(app, redis_url, bus)

    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)

    [ring] = _rings(api)
    assert ring.form["To"] == [f"client:agent-{agent_id}"]


def test_caller_is_bridged_to_the_agent_who_answers(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    agent_id, auth = agent()
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    caller = _queued_caller(sim, make_customer)
    row = _row(db, caller.sid)
    assert (row.state, row.agent_id) == ("offered", agent_id)
    [offered] = _events(bus, "call.offered")
    assert (offered["call_id"], offered["agent_id"]) == (row.id, agent_id)

    run_worker_jobs(app, redis_url, bus)
    [ring] = _rings(api)
    assert ring.form["To"] == [f"client:agent-{agent_id}"]
    assert ring.form["From"] == [sim.hotline]
    assert ring.form["Timeout"] == ["15"]
    connect = urlsplit(ring.form["Url"][0])
    assert connect.path == "/twilio/agent/connect"

    agent_leg = {
        "CallSid": "CA" + "a" * 32,
        "From": sim.hotline,
        "To": f"client:agent-{agent_id}",
        "CallStatus": "in-progress",
    }
    answer = sim.post(f"{connect.path}?{connect.query}", agent_leg)
    assert answer.status_code == 200
    assert f"<Dial><Queue>call-{row.id}</Queue></Dial>" in answer.text
    row = _row(db, caller.sid)
    assert (row.state, row.agent_id) == ("bridged", agent_id)
    assert _events(bus, "call.bridged")[0]["agent_id"] == agent_id
    agents = client.get("/api/agents", headers=auth)
    assert agents.status_code == 403  # agents do not see the wall

    caller.status("completed")
    assert _row(db, caller.sid).disposition == "completed"
    me = client.put("/api/agents/me/state", json={"state": "available"}, headers=auth)
    assert me.status_code == 200  # from wrap-up, the agent may go available early
    figures = client.get(f"/api/queues/{QUEUE}", headers=auth).json()
    assert (figures["answered"], figures["abandoned"], figures["waiting"]) == (1, 0, 0)
    assert figures["service_level"] == 1.0


def test_unanswered_agent_leg_moves_the_offer_on(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    first, _ = agent()
    second, _ = agent()
    api.replies.extend([(201, {"sid": "CA1"}), (201, {"sid": "CA2"})])
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    status_url = urlsplit(_rings(api)[0].form["StatusCallback"][0])
    assert f"agent={first}" in status_url.query
    missed = sim.post(
        f"{status_url.path}?{status_url.query}", {"CallSid": "CA1", "CallStatus": "no-answer"}
    )
    assert missed.status_code == 204
    assert _row(db, caller.sid).agent_id == second
    run_worker_jobs(app, redis_url, bus)
    assert [r.form["To"] for r in _rings(api)] == [
        [f"client:agent-{first}"],
        [f"client:agent-{second}"],
    ]


def test_a_late_no_answer_of_an_earlier_ring_leaves_the_agents_new_offer_ringing(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    clock: TestClock,
) -> None:
    """The only agent on shift lets a call ring out; the sweep, first to see it, offers the
    call to them again and their phone rings anew. Twilio's word that the first ring went
    unanswered then comes in. It was taken as a miss of the new offer: the agent's second
    miss in a row put them on break, the call went back to waiting with nobody to take it,
    and the agent picking up the ringing phone heard that the caller had gone."""
    only, _ = agent()
    first_leg, second_leg = "CA" + "1" * 32, "CA" + "2" * 32
    placed = iter((first_leg, second_leg))

    def reply(request: Recorded) -> Reply:
        if request.path.endswith("/Calls.json"):
            return 201, {"sid": next(placed)}
        return 200, {"sid": first_leg, "status": "no-answer"}

    api.reply = reply
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    clock.advance(16)  # past the offer's 15 s: the sweep sees it first
    assert _sweep(app, redis_url, settings, bus) == 1
    run_worker_jobs(app, redis_url, bus)
    first_ring, second_ring = _rings(api)
    assert second_ring.form["To"] == [f"client:agent-{only}"]
    assert _cancels(api) == [first_leg]  # its offer is over (Twilio has let it ring out)

    status = urlsplit(first_ring.form["StatusCallback"][0])
    late = {"CallSid": first_leg, "CallStatus": "no-answer"}
    assert sim.post(f"{status.path}?{status.query}", late).status_code == 204

    assert _row(db, caller.sid).agent_id == only
    connect = urlsplit(second_ring.form["Url"][0])
    picked_up = {"CallSid": second_leg, "To": f"client:agent-{only}", "CallStatus": "in-progress"}
    answer = sim.post(f"{connect.path}?{connect.query}", picked_up)
    assert f"<Dial><Queue>call-{_row(db, caller.sid).id}</Queue></Dial>" in answer.text
    assert _row(db, caller.sid).state == "bridged"


def test_caller_hanging_up_while_offered_is_abandoned(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    make_user: Any,
    client: TestClient,
    db: Session,
) -> None:
    agent_id, auth = agent()
    caller = _queued_caller(sim, make_customer)
    caller.status("completed")
    assert _row(db, caller.sid).disposition == "abandoned"
    agents = client.get("/api/agents", headers=bearer(make_user(Role.SUPERVISOR)))
    [me] = [a for a in agents.json() if a["agent_id"] == agent_id]
    assert me["state"] == "available"
    figures = client.get(f"/api/queues/{QUEUE}", headers=auth).json()
    assert figures["abandoned"] == 1


def test_a_late_ring_job_does_not_ring_for_a_call_that_has_ended(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    """The ring job waits in Redis while no worker runs; the caller hangs up meanwhile."""
    agent()
    caller = _queued_caller(sim, make_customer)
    assert _row(db, caller.sid).state == "offered"
    caller.status("completed")
    assert _row(db, caller.sid).disposition == "abandoned"
    run_worker_jobs(app, redis_url, bus)
    assert _rings(api) == []


def _cancels(api: FakeTwilioApi) -> list[str]:
    """The SIDs of the calls we asked Twilio to stop ringing, in order."""
    return [
        r.path.rsplit("/", 1)[-1].removesuffix(".json")
        for r in api.requests
        if r.method == "POST" and r.form.get("Status") == ["canceled"]
    ]


def test_a_caller_hanging_up_while_the_agents_phone_rings_stops_it_ringing(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """Rung for a caller who then hangs up, the agent's phone used to ring on until the
    offer's time ran out, while the ACD, which had freed the agent, could ring them for the
    next caller. Now the ringer cancels the leg; Twilio's word that it was cancelled is not
    taken for a missed call, and the agent stays available."""
    agent_id, auth = agent()
    leg = "CA" + "c" * 32
    api.replies.append((201, {"sid": leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    assert [r.form["To"] for r in _rings(api)] == [[f"client:agent-{agent_id}"]]
    assert _cancels(api) == []

    api.reply = lambda request: (200, {"sid": leg, "status": "canceled"})
    caller.status("completed")
    run_worker_jobs(app, redis_url, bus)
    assert _cancels(api) == [leg]
    status_url = urlsplit(_rings(api)[0].form["StatusCallback"][0])
    cancelled = sim.post(
        f"{status_url.path}?{status_url.query}", {"CallSid": leg, "CallStatus": "canceled"}
    )
    assert cancelled.status_code == 204
    me = client.get("/api/console/me", headers=auth).json()
    assert me["state"] == "available"
    assert client.get(f"/api/queues/{QUEUE}", headers=auth).json()["abandoned"] == 1
    run_worker_jobs(app, redis_url, bus)
    assert _cancels(api) == [leg]  # once


def test_a_cancel_twilio_failed_is_tried_again_at_the_next_sweep(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    """Twilio unwell (500) as the caller hangs up: the leg stays noted, and the offer sweep
    cancels it once Twilio answers again. A leg Twilio refuses (it ended) is let go."""
    agent()
    leg = "CA" + "9" * 32
    api.replies.append((201, {"sid": leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    api.reply = lambda request: (500, {"code": 20500, "message": "Internal Server Error"})
    caller.status("completed")
    run_worker_jobs(app, redis_url, bus)
    # Asked by the agent's release from the offer, and by the hang-up's step unless it
    # found the other asking at the same moment.
    failed = _cancels(api)
    assert failed in ([leg], [leg, leg])
    api.reply = lambda request: (400, {"code": 21220, "message": "Call is not in-progress"})
    _sweep(app, redis_url, settings, bus)
    assert _cancels(api) == [*failed, leg]
    _sweep(app, redis_url, settings, bus)
    assert _cancels(api) == [*failed, leg]  # refused: over, not asked again


def test_a_caller_hanging_up_as_the_agents_phone_is_dialled_stops_it_ringing(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    """The hang-up comes while Twilio places the agent's leg: the ring job had found the
    caller waiting, and the hang-up's own step finds no leg to cancel yet. The job, once
    the leg is placed, sees the caller gone and cancels it itself."""
    agent()
    leg = "CA" + "d" * 32
    caller = _queued_caller(sim, make_customer)

    def reply(request: Recorded) -> Reply:
        if request.path.endswith("/Calls.json"):
            assert caller.status("completed").status_code == 204
            return 201, {"sid": leg}
        return 200, {"sid": leg, "status": "canceled"}

    api.reply = reply
    run_worker_jobs(app, redis_url, bus)
    assert _row(db, caller.sid).disposition == "abandoned"
    assert len(_rings(api)) == 1
    assert _cancels(api) == [leg]
    run_worker_jobs(app, redis_url, bus)  # the hang-up's step: nothing left to cancel
    assert _cancels(api) == [leg]


def test_a_call_ending_after_its_agent_answered_cancels_no_leg(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    """The leg the agent talked on is not asked to stop ringing when the caller hangs up:
    only legs still ringing are."""
    agent_id = agent()[0]
    leg = "CA" + "b" * 32  # the leg _answer picks up on
    api.replies.append((201, {"sid": leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    assert "<Dial><Queue>" in _answer(sim, _rings(api)[0], agent_id).text
    assert _row(db, caller.sid).agent_leg == leg
    caller.status("completed")
    run_worker_jobs(app, redis_url, bus)
    assert _row(db, caller.sid).disposition == "completed"
    assert _cancels(api) == []


def _answer(sim: TwilioSimulator, ring: Any, agent_id: int) -> Any:
    connect = urlsplit(ring.form["Url"][0])
    leg = {
        "CallSid": "CA" + "b" * 32,
        "To": f"client:agent-{agent_id}",
        "CallStatus": "in-progress",
    }
    return sim.post(f"{connect.path}?{connect.query}", leg)


def test_an_offered_agent_pressing_break_or_available_keeps_the_call_and_can_answer(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """Found: Break while ringing, then answering, got 409 and lost the caller; Available
    while ringing got the agent a second offer and a second ring."""
    agent_id, auth = agent()
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    caller = _queued_caller(sim, make_customer)
    for pressed in ("break", "available"):
        refused = client.put("/api/agents/me/state", json={"state": pressed}, headers=auth)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error_id"] == "invalid_agent_state"
        assert "answer it or decline it" in refused.json()["message"]
    run_worker_jobs(app, redis_url, bus)
    [ring] = _rings(api)
    answered = _answer(sim, ring, agent_id)
    assert f"<Dial><Queue>call-{_row(db, caller.sid).id}</Queue></Dial>" in answered.text
    assert (_row(db, caller.sid).state, _row(db, caller.sid).agent_id) == ("bridged", agent_id)
    run_worker_jobs(app, redis_url, bus)  # the sweeps after the answer change nothing
    assert len(_rings(api)) == 1
    me = client.get("/api/console/me", headers=auth).json()
    assert (me["state"], me["moves"]["offered"], me["moves"]["on_call"]) == (
        "on_call",
        [],
        ["wrap_up"],
    )


def test_wrap_up_is_refused_while_the_call_is_connected_and_follows_its_end(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """Found: wrap-up picked while still talking was taken, and "available" after it got
    the agent the next caller, offered and rung while the first still talked to them."""
    agent_id, auth = agent()
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    [ring] = _rings(api)
    _answer(sim, ring, agent_id)
    waiting = _queued_caller(sim, make_customer)
    refused = client.put("/api/agents/me/state", json={"state": "wrap_up"}, headers=auth)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error_id"] == "call_still_connected"
    assert (
        client.put("/api/agents/me/state", json={"state": "available"}, headers=auth).status_code
        == 409
    )
    run_worker_jobs(app, redis_url, bus)
    assert len(_rings(api)) == 1, "the agent still talking is not rung for the next caller"
    assert _row(db, waiting.sid).state == "queued"
    assert caller.status("completed").status_code == 204
    me = client.get("/api/console/me", headers=auth).json()
    assert (me["state"], me["call_id"]) == ("wrap_up", _row(db, caller.sid).id)


def test_a_supervisor_frees_an_agent_the_log_shows_on_a_call_that_is_over(
    sim: TwilioSimulator,
    agent: Any,
    make_user: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """The hang-up never reached the service (a status callback lost, and no REST
    credentials to ask Twilio): the log shows the call connected for good. The agent may
    not pick wrap-up, but a supervisor may, and the agent then takes the next caller."""
    agent_id, auth = agent()
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    [ring] = _rings(api)
    _answer(sim, ring, agent_id)
    mine = client.put("/api/agents/me/state", json={"state": "wrap_up"}, headers=auth)
    assert mine.json()["error_id"] == "call_still_connected"
    freed = client.put(
        f"/api/agents/{agent_id}/state",
        json={"state": "wrap_up", "reason": "call long over"},
        headers=bearer(make_user(Role.SUPERVISOR)),
    )
    assert (freed.status_code, freed.json()["state"]) == (200, "wrap_up")
    back = client.put("/api/agents/me/state", json={"state": "available"}, headers=auth)
    assert back.status_code == 200, back.text
    nxt = _queued_caller(sim, make_customer)
    assert (_row(db, nxt.sid).state, _row(db, nxt.sid).agent_id) == ("offered", agent_id)


def test_an_agent_declines_and_the_next_agent_is_offered_the_call(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    first, first_auth = agent()
    second, _ = agent()
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    caller = _queued_caller(sim, make_customer)
    assert _row(db, caller.sid).agent_id == first
    declined = client.post("/api/agents/me/decline", headers=first_auth)
    assert declined.status_code == 200, declined.text
    assert (declined.json()["state"], declined.json()["missed_offers"]) == ("available", 1)
    assert _row(db, caller.sid).agent_id == second
    again = client.post("/api/agents/me/decline", headers=first_auth)
    assert (again.status_code, again.json()["error_id"]) == (409, "no_such_offer")
    run_worker_jobs(app, redis_url, bus)
    assert [r.form["To"] for r in _rings(api)] == [[f"client:agent-{second}"]]


def test_an_agent_declining_in_the_console_stops_their_phone_ringing(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """Declined in the console, the call rang on at the agent's phone until its time ran
    out (the SIP endpoint stops ringing at once). The next agent's ring now cancels it, and
    Twilio's word that it was cancelled leaves the next agent's offer as it is."""
    first, first_auth = agent()
    second, _ = agent()
    first_leg, second_leg = "CA" + "1" * 32, "CA" + "2" * 32
    api.replies.extend([(201, {"sid": first_leg}), (201, {"sid": second_leg})])
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    assert client.post("/api/agents/me/decline", headers=first_auth).status_code == 200
    api.reply = lambda request: (200, {"sid": first_leg, "status": "canceled"})
    run_worker_jobs(app, redis_url, bus)
    assert [r.form["To"] for r in _rings(api)] == [
        [f"client:agent-{first}"],
        [f"client:agent-{second}"],
    ]
    assert _cancels(api) == [first_leg]
    status_url = urlsplit(_rings(api)[0].form["StatusCallback"][0])
    cancelled = sim.post(
        f"{status_url.path}?{status_url.query}", {"CallSid": first_leg, "CallStatus": "canceled"}
    )
    assert cancelled.status_code == 204
    row = _row(db, caller.sid)
    assert (row.state, row.agent_id) == ("offered", second)


def test_a_declined_call_with_no_one_else_free_stops_ringing_at_once(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """The only agent on shift declines until they are put on break: no next offer's ring
    stops their phone. It rang on until the offer's time ran out, then until the offer
    sweep's next pass (up to two seconds; the SIP endpoint stops at once). The agent's
    release from the offer now stops it, and the sweep leaves the leg of a live offer
    ringing."""
    auth = agent()[1]
    leg = "CA" + "7" * 32
    api.replies.append((201, {"sid": leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _sweep(app, redis_url, settings, bus)
    assert _cancels(api) == []  # the offer is live: its leg rings on

    api.reply = lambda request: (200, {"sid": leg, "status": "canceled"})
    # Declined, the call is offered to them again at once; declined again, it waits, and
    # they are put on break (two missed in a row). Their phone still rings for the first.
    for _ in range(MISSED_OFFERS_LIMIT):
        assert client.post("/api/agents/me/decline", headers=auth).status_code == 200
    assert _row(db, caller.sid).state == "queued"
    assert client.get("/api/console/me", headers=auth).json()["state"] == "break"
    run_worker_jobs(app, redis_url, bus)
    assert _cancels(api) == [leg]
    _sweep(app, redis_url, settings, bus)
    assert _cancels(api) == [leg]  # once


def test_the_next_agents_ring_does_not_wait_for_twilio_to_cancel_the_declined_leg(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """Found in review: the declined leg's cancel ran among the call's own steps, so the
    next agent's ring was queued only once Twilio had answered it (up to the client's
    10 s timeout)."""
    first_auth = agent()[1]
    second, _ = agent()
    declined_leg = "CA" + "d" * 32
    api.replies.append((201, {"sid": declined_leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    release = threading.Event()

    def slow_to_cancel(request: Recorded) -> Reply:
        if request.path.endswith(f"/Calls/{declined_leg}.json"):
            release.wait(timeout=15)
        return 200, {"sid": declined_leg, "status": "canceled"}

    api.reply = slow_to_cancel
    assert client.post("/api/agents/me/decline", headers=first_auth).status_code == 200
    call_id = _row(db, caller.sid).id
    stop = threading.Event()
    context = {**worker_context(app), "bus": bus}
    worker = threading.Thread(target=asyncio.run, args=(ring_until(context, redis_url, stop),))
    worker.start()
    try:
        asked = _until(lambda: _cancels(api) == [declined_leg])
        # Within 5 s, while Twilio holds the cancel for up to 15 s (the client gives up
        # after 10 s).
        rung = _until(lambda: any(f"{call_id}:{second}:" in job for job in _queued_jobs(redis_url)))
    finally:
        release.set()
        stop.set()
        worker.join(timeout=30)
    assert asked, "the declined leg was not cancelled"
    assert rung, "the next agent was rung only once Twilio answered the cancel"
    assert bus.xpending(EventBus(bus).stream, RINGER_GROUP)["pending"] == 0


def test_a_ring_job_outrun_by_the_next_offers_cancels_only_its_own_leg(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """The first agent declines while Twilio places their leg, and the next agent's ring
    job finishes first. Found in review: the first job took the next agent's leg for an
    earlier offer's and cancelled it, its own rang on, and Twilio's word that the next
    agent's leg was cancelled counted as their miss. Now the first job cancels its own leg
    only, and a cancelled leg is never a miss."""
    first, first_auth = agent()
    second, _ = agent()
    first_leg, second_leg = "CA" + "1" * 32, "CA" + "2" * 32
    caller = _queued_caller(sim, make_customer)

    def reply(request: Recorded) -> Reply:
        if not request.path.endswith("/Calls.json"):
            return 200, {"sid": request.path.rsplit("/", 1)[-1].removesuffix(".json")}
        if len(_rings(api)) > 1:
            return 201, {"sid": second_leg}
        assert client.post("/api/agents/me/decline", headers=first_auth).status_code == 200
        [offer] = [e for e in _events(bus, "call.offered") if e["agent_id"] == second]
        placed = ring_twilio_agent(
            {**worker_context(app), "bus": bus},
            call_id=offer["call_id"],
            agent_id=second,
            offered_at=datetime.fromisoformat(offer["at"]).isoformat(),
        )
        assert asyncio.run(placed) == second_leg
        return 201, {"sid": first_leg}

    api.reply = reply
    run_worker_jobs(app, redis_url, bus)
    assert [r.form["To"] for r in _rings(api)] == [
        [f"client:agent-{first}"],
        [f"client:agent-{second}"],
    ]
    assert _cancels(api) == [first_leg]
    # Twilio's word that either leg was cancelled counts as no one's miss.
    for ring, leg in zip(_rings(api), (first_leg, second_leg), strict=True):
        status_url = urlsplit(ring.form["StatusCallback"][0])
        status = {"CallSid": leg, "CallStatus": "canceled"}
        assert sim.post(f"{status_url.path}?{status_url.query}", status).status_code == 204
    row = _row(db, caller.sid)
    assert (row.state, row.agent_id) == ("offered", second)


def test_a_deactivated_agent_is_logged_out_and_its_ringing_call_moves_on(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    headers: Any,
) -> None:
    """Found: a deactivated agent was still offered calls."""
    leaver, _ = agent()
    colleague, _ = agent()
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    caller = _queued_caller(sim, make_customer)
    assert _row(db, caller.sid).agent_id == leaver
    gone = client.patch(f"/api/users/{leaver}", json={"is_active": False}, headers=headers["admin"])
    assert gone.status_code == 200
    _sweep(app, redis_url, settings, bus)
    assert _row(db, caller.sid).agent_id == colleague
    run_worker_jobs(app, redis_url, bus)
    agents = {
        a["agent_id"]: a for a in client.get("/api/agents", headers=headers["supervisor"]).json()
    }
    assert agents[leaver]["state"] == "logged_out"
    assert [r.form["To"] for r in _rings(api)] == [[f"client:agent-{colleague}"]]


def test_agents_cannot_divert_their_calls_and_admins_assign_extensions_of_our_domains(
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    client: TestClient,
    headers: Any,
) -> None:
    """Found: an agent set its extension to sip:+19005550100@pbx.attacker.example and
    customers' calls were dialled there."""
    user = make_user(Role.AGENT)
    auth = bearer(user)
    diverted = client.put(
        "/api/agents/me/login",
        json={"queues": [QUEUE], "extension": "sip:+19005550100@pbx.attacker.example"},
        headers=auth,
    )
    assert diverted.status_code == 422
    for bad in ("sip:+19005550100@pbx.attacker.example", "sip:1001@pbx.attacker.example"):
        refused = client.patch(
            f"/api/users/{user.id}", json={"extension": bad}, headers=headers["admin"]
        )
        assert refused.status_code == 422, refused.text
    assert (
        client.patch(
            f"/api/users/{user.id}",
            json={"extension": "sip:1001@pbx.attacker.example"},
            headers=auth,
        ).status_code
        == 403
    )
    assigned = client.patch(
        f"/api/users/{user.id}", json={"extension": "client:desk-7"}, headers=headers["admin"]
    )
    assert (assigned.status_code, assigned.json()["extension"]) == (200, "client:desk-7")
    assert (
        client.put("/api/agents/me/login", json={"queues": [QUEUE]}, headers=auth).status_code
        == 200
    )
    api.replies.append((201, {"sid": "CA" + "a" * 32}))
    _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    assert [r.form["To"] for r in _rings(api)] == [["client:desk-7"]]


# Overflow, hold and blind transfer: the call service's steps, on Twilio.


def _configure(client: TestClient, make_user: Any, **config: Any) -> None:
    boss = bearer(make_user(Role.SUPERVISOR))
    response = client.put(f"/api/queues/{QUEUE}", json={"name": QUEUE, **config}, headers=boss)
    assert response.status_code == 200, response.text


def _leave(sim: TwilioSimulator, caller: SimulatedCall, result: str) -> TwiML:
    """Twilio's request to the <Enqueue> action once the caller is out of the queue."""
    enqueue = caller.twiml.root.find("Enqueue")
    assert enqueue is not None
    params = caller._base({"QueueResult": result, "QueueTime": "5"})
    caller.twiml = TwiML.parse(sim.post(enqueue.attrib["action"], params))
    return caller.twiml


def test_a_twilio_caller_whose_ringing_offer_redis_lost_is_queued_again_then_overflows(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    make_user: Any,
    client: TestClient,
    clock: TestClock,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    """Redis failed over while a Twilio caller's call rang an agent, and the replica had
    neither the call's record nor its offer. The log showed the call offered, so the wait
    music no longer asked about the caller's wait: the sweep never heard them waiting and
    never queued them again, and with no record the overflow never took them either. They
    heard the music until they gave up."""
    _configure(client, make_user, max_wait_seconds=30, overflow="voicemail")
    agent_id, auth = agent()
    caller = _queued_caller(sim, make_customer)
    row = _row(db, caller.sid)
    assert (row.state, row.agent_id) == (CallState.OFFERED, agent_id)
    bus.delete(QUEUED_CALL.format(call_id=row.id), OFFER.format(call_id=row.id))
    bus.zrem(OFFERS, row.id)

    caller.wait_in_queue()
    _sweep(app, redis_url, settings, bus)  # frees the agent the lost offer rang
    mine = client.put("/api/agents/me/state", json={"state": "break"}, headers=auth)
    assert mine.status_code == 200, mine.text
    clock.advance(LOST_AFTER_SECONDS)
    caller.wait_in_queue()
    _sweep(app, redis_url, settings, bus)
    assert caller.wait_in_queue().verbs() != ["Leave"]  # queued again: waits for an agent

    clock.advance(31 - LOST_AFTER_SECONDS)  # the queue's maximum since the caller began
    assert caller.wait_in_queue().verbs() == ["Leave"]
    assert _leave(sim, caller, "leave").verbs() == ["Say", "Record"]  # leave a message
    assert _row(db, caller.sid).state is CallState.IN_IVR


def _gather_twice(sim: TwilioSimulator, caller: SimulatedCall, digits: str) -> tuple[Any, Any]:
    """The caller's keys posted to the IVR's Gather, then the same request again, as
    Twilio sends it again when it lost the answer or was answered 503."""
    gather = caller.twiml.gather()
    assert gather is not None
    params = caller._base({"Digits": digits})
    return (sim.post(gather.attrib["action"], params), sim.post(gather.attrib["action"], params))


def test_a_gather_sent_again_after_the_caller_was_queued_or_offered_changes_nothing(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    bus: redis.Redis,
    db: Session,
) -> None:
    """Found: the same Gather sent again (its answer lost) hung up on the caller it had
    queued, and a call already offered to an agent was written as waiting again and put
    back in the queue over the ringing offer."""
    make_customer(name="郑凯", phones=("13800138000",))

    def pressing_0_twice() -> tuple[SimulatedCall, Call]:
        caller = sim.call("+8613800138000")
        first, again = _gather_twice(sim, caller, "0")
        assert TwiML.parse(again).verbs() == ["Enqueue"]
        enqueued = [TwiML.parse(r).root.find("Enqueue") for r in (first, again)]
        assert enqueued[0] is not None and enqueued[1] is not None
        assert enqueued[0].text == enqueued[1].text
        row = _row(db, caller.sid)
        assert [e["call_id"] for e in _events(bus, "call.queued")].count(row.id) == 1
        return caller, row

    waiting, row = pressing_0_twice()
    assert row.state is CallState.QUEUED
    assert waiting.status("completed").status_code == 204
    agent_id, _auth = agent()
    _offered, row = pressing_0_twice()
    assert (row.state, row.agent_id) == (CallState.OFFERED, agent_id)


def test_a_gather_that_failed_on_the_acd_and_is_sent_again_keeps_the_caller_waiting(
    sim: TwilioSimulator,
    make_user: Any,
    client: TestClient,
    make_customer: Any,
    clock: TestClock,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis failed as the caller was put in the ACD's queue, after the log wrote them
    waiting: 503, and Twilio sent the Gather again. That retry hung up on the caller (the
    IVR was done with them). Now they wait, and the offer sweep, hearing them wait with no
    record in the ACD, queues them again for the agent."""
    make_customer(name="郑凯", phones=("13800138000",))
    caller = sim.call("+8613800138000")
    real = Acd.enqueue
    failures = iter([redis.ConnectionError("Redis went away")])

    def failing_once(self: Acd, *args: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Acd, "enqueue", failing_once)
    first, again = _gather_twice(sim, caller, "0")
    assert first.status_code == 503, first.text
    assert TwiML.parse(again).verbs() == ["Enqueue"]
    caller.twiml = TwiML.parse(again)
    assert _row(db, caller.sid).state is CallState.QUEUED
    caller.wait_in_queue()
    _sweep(app, redis_url, settings, bus)
    clock.advance(LOST_AFTER_SECONDS)
    caller.wait_in_queue()
    _sweep(app, redis_url, settings, bus)
    user = make_user(Role.AGENT)
    logged_in = client.put("/api/agents/me/login", json={"queues": [QUEUE]}, headers=bearer(user))
    assert logged_in.json()["state"] == "offered"  # the caller, at once
    assert (_row(db, caller.sid).state, _row(db, caller.sid).agent_id) == (
        CallState.OFFERED,
        user.id,
    )


def _steered(api: FakeTwilioApi, leg: str) -> list[dict[str, list[str]]]:
    return [r.form for r in api.requests if r.path.endswith(f"/Calls/{leg}.json")]


def test_a_caller_waiting_past_the_maximum_leaves_the_queue_and_books_a_callback(
    sim: TwilioSimulator,
    make_customer: Any,
    make_user: Any,
    client: TestClient,
    clock: Any,
    db: Session,
) -> None:
    _configure(client, make_user, max_wait_seconds=60, overflow="callback")
    customer = make_customer(name="郑凯", phones=("13800138000",))
    caller = sim.call("+8613800138000")
    assert caller.press("0").verbs()[-1] == "Enqueue"  # nobody is logged in
    assert "Leave" not in caller.wait_in_queue().verbs()

    clock.advance(61)
    assert caller.wait_in_queue().verbs() == ["Leave"]
    busy = _leave(sim, caller, "leave")
    row = _row(db, caller.sid)
    assert row.state == "in_ivr"  # out of the queue, back in the IVR
    assert busy.gather() is not None
    assert any("坐席繁忙" in text for text in busy.said())
    assert "已为您预约" in " ".join(caller.press("2").said())

    db.expire_all()
    requests = db.exec(select(OutboundTask).where(OutboundTask.call_id == row.id)).all()
    assert [(r.customer_id, r.note) for r in requests] == [(customer.id, "booked for 12:00-18:00")]
    figures = client.get(f"/api/queues/{QUEUE}", headers=bearer(make_user(Role.AGENT))).json()
    assert (figures["overflowed"], figures["waiting"]) == (1, 0)


def test_a_caller_overflowing_to_voicemail_leaves_a_message_that_is_filed(
    sim: TwilioSimulator,
    make_customer: Any,
    make_user: Any,
    client: TestClient,
    clock: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
) -> None:
    _configure(client, make_user, max_wait_seconds=30, overflow="voicemail")
    customer = make_customer(name="郑凯", phones=("13800138000",))
    caller = sim.call("+8613800138000")
    caller.press("0")
    clock.advance(31)
    assert caller.wait_in_queue().verbs() == ["Leave"]
    message = _leave(sim, caller, "leave")
    assert message.verbs() == ["Say", "Record"]
    assert "留言" in message.said()[0]
    record = message.root.find("Record")
    assert record is not None and record.attrib["finishOnKey"] == "#"

    row = _row(db, caller.sid)
    sid = "RE" + "5" * 32
    media = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Recordings/{sid}"
    api.media[media + ".wav"] = _mono_wav(1.5)
    done = {
        **caller._base({}),
        "RecordingSid": sid,
        "RecordingUrl": api.base_url + media,
        "RecordingStatus": "completed",
    }
    assert sim.post(record.attrib["recordingStatusCallback"], done).status_code == 204
    goodbye = TwiML.parse(sim.post(record.attrib["action"], caller._base({})))
    assert goodbye.verbs() == ["Say", "Hangup"]
    run_worker_jobs(app, redis_url, bus)

    db.expire_all()
    [kept] = db.exec(select(Recording).where(Recording.call_id == row.id)).all()
    assert (kept.customer_id, kept.channels) == (customer.id, 1)
    # Found: filed as the call's recording, and kept a year instead of a voicemail's 90 days.
    assert kept.kind == RecordingKind.VOICEMAIL
    assert kept.duration_seconds == pytest.approx(1.5)


def _bridged(
    sim: TwilioSimulator, api: FakeTwilioApi, caller: SimulatedCall, agent_id: int, leg: str
) -> None:
    """The agent's phone rang (the ring is the last call placed) and they picked up."""
    connect = urlsplit(_rings(api)[-1].form["Url"][0])
    assert f"agent={agent_id}" in connect.query
    params = {"CallSid": leg, "From": sim.hotline, "To": f"client:agent-{agent_id}"}
    answer = sim.post(f"{connect.path}?{connect.query}", {**params, "CallStatus": "in-progress"})
    assert "<Dial><Queue>call-" in answer.text


def test_an_agent_holds_and_resumes_a_twilio_caller(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    agent_id, auth = agent()
    leg = "CA" + "b" * 32
    api.replies.extend([(201, {"sid": leg}), (200, {"sid": leg}), (200, {"sid": leg})])
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, agent_id, leg)
    row = _row(db, caller.sid)

    assert client.post(f"/api/calls/{row.id}/hold", headers=auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)
    [park] = _steered(api, leg)
    assert park["Url"] == [f"{PUBLIC_URL}/twilio/agent/park?call={row.id}"]
    # The agent's leg left the bridge: the caller's <Enqueue> ends, and they wait on hold.
    assert _leave(sim, caller, "bridged").verbs() == ["Enqueue"]
    assert "保持" in caller.wait_in_queue().said()[0]
    parked = sim.post(park["Url"][0].removeprefix(PUBLIC_URL), {"CallSid": leg})
    assert TwiML.parse(parked).verbs() == ["Say", "Pause", "Redirect"]
    assert _row(db, caller.sid).state == "bridged"

    assert client.post(f"/api/calls/{row.id}/resume", headers=auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)
    _park, resume = _steered(api, leg)
    assert f"<Dial><Queue>call-{row.id}</Queue></Dial>" in resume["Twiml"][0]
    assert "保持" not in " ".join(caller.wait_in_queue().said())
    assert [e["call_id"] for e in _events(bus, "call.held")] == [row.id]
    assert [e["call_id"] for e in _events(bus, "call.resumed")] == [row.id]

    # The talk ends with the agent hanging up: the caller's <Enqueue> ends, and so the call.
    assert _leave(sim, caller, "bridged").verbs() == ["Hangup"]


@pytest.mark.parametrize(
    "clicks",
    [
        pytest.param(["resume"], id="resume-while-talking"),
        pytest.param(["hold", "resume"], id="hold-and-resume-before-the-ringer-runs"),
        pytest.param(["hold", "resume", "hold", "resume"], id="four-quick-clicks"),
    ],
)
def test_hold_and_resume_that_leave_the_call_talking_do_not_drop_the_caller(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    clicks: list[str],
) -> None:
    """A resume of a call not held (a double click, a second tab), or a hold and a resume
    both made before the worker steered the first: the agent's leg was sent back to the
    bridge it was in, which took it out of that bridge, and the caller, not held, was hung
    up."""
    agent_id, auth = agent()
    leg = "CA" + "b" * 32
    api.replies.extend([(201, {"sid": leg}), *[(200, {"sid": leg})] * 4])
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, agent_id, leg)
    row = _row(db, caller.sid)

    for click in clicks:
        assert client.post(f"/api/calls/{row.id}/{click}", headers=auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)

    assert _steered(api, leg) == [], "the agent's leg stays in the bridge"
    talking = _row(db, caller.sid)
    assert (talking.state, talking.held_at) == ("bridged", None)


def test_a_hold_and_resume_steered_twice_park_and_bridge_the_agent_once(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """The bus delivers at least once: a worker that dies after steering and before it
    acknowledges leaves the events to be steered again. A second resume sent the agent's
    leg back to the bridge it was in, which took it out again: the caller was hung up."""
    agent_id, auth = agent()
    leg = "CA" + "b" * 32
    api.replies.extend([(201, {"sid": leg}), *[(200, {"sid": leg})] * 4])
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, agent_id, leg)
    row = _row(db, caller.sid)
    ctx = worker_context(app)

    assert client.post(f"/api/calls/{row.id}/hold", headers=auth).status_code == 204
    for _ in range(2):
        steer_agent_leg(ctx, call_id=row.id, event="call.held")
    assert len(_steered(api, leg)) == 1
    assert _leave(sim, caller, "bridged").verbs() == ["Enqueue"]
    assert client.post(f"/api/calls/{row.id}/resume", headers=auth).status_code == 204
    for _ in range(2):
        steer_agent_leg(ctx, call_id=row.id, event="call.resumed")

    _park, resume = _steered(api, leg)
    assert f"<Dial><Queue>call-{row.id}</Queue></Dial>" in resume["Twiml"][0]
    assert _row(db, caller.sid).held_at is None


@pytest.mark.parametrize("offered", ["with-the-hold", "while-the-hold-is-steered"])
def test_a_slow_twilio_steering_one_call_does_not_hold_up_the_rings_of_others(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    offered: str,
) -> None:
    """Found in review: the ringer steered legs inline, so while Twilio took its time over
    one agent's hold (up to the client's 10 s timeout), no other agent was rung: neither
    an offer read with the hold nor one made while it was steered."""
    first_agent, auth = agent()
    leg = "CA" + "b" * 32
    api.replies.append((201, {"sid": leg}))
    held = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, held, first_agent, leg)
    row = _row(db, held.sid)
    release = threading.Event()

    def slow_for_the_held_leg(request: Any) -> tuple[int, dict[str, str]]:
        if request.path.endswith(f"/Calls/{leg}.json"):
            release.wait(timeout=15)
        return 200, {"sid": leg}

    def another_caller_waits() -> str:
        agent()
        make_customer(name="冯洁", phones=("13900139000",))
        waiting = sim.call("+8613900139000")
        assert waiting.press("0").verbs()[-1] == "Enqueue"
        return _row(db, waiting.sid).id

    api.reply = slow_for_the_held_leg
    assert client.post(f"/api/calls/{row.id}/hold", headers=auth).status_code == 204
    if offered == "with-the-hold":
        waiting_id = another_caller_waits()
    stop = threading.Event()
    context = {**worker_context(app), "bus": bus}
    worker = threading.Thread(target=asyncio.run, args=(ring_until(context, redis_url, stop),))
    worker.start()
    try:
        if offered == "while-the-hold-is-steered":
            assert _until(lambda: _steered(api, leg)), "the hold was not steered"
            waiting_id = another_caller_waits()
        rung = _until(lambda: waiting_id in " ".join(_queued_jobs(redis_url)))
    finally:
        release.set()
        stop.set()
        worker.join(timeout=30)
    assert rung, "the waiting caller's agent was not rung while Twilio steered the held call"
    [park] = _steered(api, leg)
    assert park["Url"] == [f"{PUBLIC_URL}/twilio/agent/park?call={row.id}"]
    assert bus.xpending(EventBus(bus).stream, RINGER_GROUP)["pending"] == 0


def _until(check: Any, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_an_agent_whose_phone_goes_away_while_the_caller_is_held_gives_them_back_to_the_queue(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """The agent holds the caller, then their softphone drops (a closed tab, a lost
    network): Twilio reports their leg completed. That was ignored: the caller heard the
    hold music until they gave up, and the agent stayed on the call in presence."""
    _answering(api)
    first, auth = agent()
    first_leg = "CA" + "c" * 32
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    [ring] = _rings(api)
    _bridged(sim, api, caller, first, first_leg)
    row = _row(db, caller.sid)
    assert client.post(f"/api/calls/{row.id}/hold", headers=auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)
    assert _leave(sim, caller, "bridged").verbs() == ["Enqueue"]
    second, _ = agent()

    status = urlsplit(ring.form["StatusCallback"][0])
    gone = {"CallSid": first_leg, "CallStatus": "completed"}
    assert sim.post(f"{status.path}?{status.query}", gone).status_code == 204
    run_worker_jobs(app, redis_url, bus)

    waiting = _row(db, caller.sid)
    assert (waiting.state, waiting.held_at) == ("offered", None)
    assert "保持" not in " ".join(caller.wait_in_queue().said())
    assert _rings(api)[-1].form["To"] == [f"client:agent-{second}"]
    assert client.get("/api/console/me", headers=auth).json()["state"] == "wrap_up"


def test_an_agent_leg_ending_while_the_caller_talks_or_after_a_transfer_changes_nothing(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """The end of a talk is the caller's leg's to tell (their ``<Enqueue>`` ends); an old
    leg's end is nobody's business."""
    _answering(api)
    first, _auth = agent()
    first_leg = "CA" + "c" * 32
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    [ring] = _rings(api)
    _bridged(sim, api, caller, first, first_leg)
    status = urlsplit(ring.form["StatusCallback"][0])
    for sid in (first_leg, "CA" + "9" * 32):
        gone = {"CallSid": sid, "CallStatus": "completed"}
        assert sim.post(f"{status.path}?{status.query}", gone).status_code == 204
    talking = _row(db, caller.sid)
    assert (talking.state, talking.agent_id) == ("bridged", first)
    assert _leave(sim, caller, "bridged").verbs() == ["Hangup"]


def test_a_transfer_to_a_queue_there_is_not_is_refused_and_the_caller_stays(
    sim: TwilioSimulator,
    agent: Any,
    make_user: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """Found: a misspelt queue was taken; the caller waited in it, unstaffed, until its
    maximum wait, and the name showed among the console's queues from then on."""
    first, auth = agent()
    leg = "CA" + "c" * 32
    api.replies.append((201, {"sid": leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, first, leg)
    row = _row(db, caller.sid)
    moved = client.post(f"/api/calls/{row.id}/transfer", json={"queue": "hotlin"}, headers=auth)
    assert (moved.status_code, moved.json()["error_id"]) == (409, "transfer_invalid")
    assert QUEUE in moved.json()["details"]["queues"]
    assert (_row(db, caller.sid).state, _row(db, caller.sid).agent_id) == ("bridged", first)
    targets = client.get("/api/transfer-targets", headers=auth)
    assert "hotlin" not in [q["queue"] for q in targets.json()["queues"]]
    # A queue nobody has configured or sent a caller to yet, which an agent staffs.
    agent_in_tier_2 = bearer(make_user(Role.AGENT))
    client.put("/api/agents/me/login", json={"queues": ["tier-2"]}, headers=agent_in_tier_2)
    client.put("/api/agents/me/state", json={"state": "break"}, headers=agent_in_tier_2)
    moved = client.post(f"/api/calls/{row.id}/transfer", json={"queue": "tier-2"}, headers=auth)
    assert moved.status_code == 204, moved.text
    assert (_row(db, caller.sid).state, _row(db, caller.sid).queue) == ("queued", "tier-2")


def test_an_agent_transfers_a_twilio_caller_to_another_agent(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    first, auth = agent()
    first_leg, second_leg = "CA" + "c" * 32, "CA" + "d" * 32
    api.replies.append((201, {"sid": first_leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, first, first_leg)
    second, _ = agent()
    row = _row(db, caller.sid)

    api.replies.extend([(200, {"sid": first_leg}), (201, {"sid": second_leg})])
    moved = client.post(f"/api/calls/{row.id}/transfer", json={"agent_id": second}, headers=auth)
    assert moved.status_code == 204, moved.text
    run_worker_jobs(app, redis_url, bus)
    # The first agent's leg is hung up before the second agent's phone rings.
    steered = [i for i, r in enumerate(api.requests) if r.path.endswith(f"/{first_leg}.json")]
    rung = [i for i, r in enumerate(api.requests) if r.path.endswith("/Calls.json")]
    assert len(steered) == 1 and steered[0] < rung[-1]
    assert "<Hangup" in api.requests[steered[0]].form["Twiml"][0]
    assert _rings(api)[-1].form["To"] == [f"client:agent-{second}"]
    assert _leave(sim, caller, "bridged").verbs() == ["Enqueue"]  # waiting for the second

    _bridged(sim, api, caller, second, second_leg)
    row = _row(db, caller.sid)
    assert (row.state, row.agent_id, row.agent_leg) == ("bridged", second, second_leg)
    assert [e["agent_id"] for e in _events(bus, "call.bridged")] == [first, second]
    [transferred] = _events(bus, "call.transferred")
    assert (transferred["from_agent_id"], transferred["agent_leg"]) == (first, first_leg)


def test_a_held_caller_transferred_to_another_agent_can_be_held_again(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    """The first agent holds the caller, then transfers them; the second agent answers and
    holds them too. Their leg must be parked: the first agent's park is over."""
    _answering(api)
    first, auth = agent()
    first_leg, second_leg = "CA" + "c" * 32, "CA" + "d" * 32
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, first, first_leg)
    second, second_auth = agent()
    row = _row(db, caller.sid)
    assert client.post(f"/api/calls/{row.id}/hold", headers=auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)
    assert _leave(sim, caller, "bridged").verbs() == ["Enqueue"]

    moved = client.post(f"/api/calls/{row.id}/transfer", json={"agent_id": second}, headers=auth)
    assert moved.status_code == 204, moved.text
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, second, second_leg)
    assert client.post(f"/api/calls/{row.id}/hold", headers=second_auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)

    [park] = _steered(api, second_leg)
    assert park["Url"] == [f"{PUBLIC_URL}/twilio/agent/park?call={row.id}"]


def _mono_wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * int(8000 * seconds))
    return buffer.getvalue()


def test_a_waiting_call_that_fails_leaves_the_queue_and_frees_the_agent_it_rang(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    make_user: Any,
    client: TestClient,
    db: Session,
) -> None:
    """Found by the scale-out test: only abandoned calls left the ACD, so a caller whose
    line failed stayed waiting, offered to agent after agent."""
    agent_id, auth = agent()
    caller = _queued_caller(sim, make_customer)
    assert _row(db, caller.sid).agent_id == agent_id
    assert caller.status("failed").status_code == 204
    assert _row(db, caller.sid).disposition == "failed"
    figures = client.get(f"/api/queues/{QUEUE}", headers=auth).json()
    assert (figures["waiting"], figures["abandoned"]) == (0, 0)
    agents = client.get("/api/agents", headers=bearer(make_user(Role.SUPERVISOR))).json()
    assert [a["state"] for a in agents if a["agent_id"] == agent_id] == ["available"]


# Call controls from the console: accept, hang up.


def test_an_accepted_call_rings_the_same_agent_again_and_a_decline_still_moves_it_on(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    clock: Any,
) -> None:
    first, first_auth = agent()
    second, _ = agent()
    placed = iter(("CA1", "CA2", "CA3"))

    def reply(request: Recorded) -> Reply:
        if request.path.endswith("/Calls.json"):
            return 201, {"sid": next(placed)}
        return 200, {"sid": request.path.rsplit("/", 1)[-1].removesuffix(".json")}

    api.reply = reply
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    taken = client.post("/api/agents/me/accept", headers=first_auth)
    assert taken.status_code == 200, taken.text
    assert taken.json()["call_id"] == _row(db, caller.sid).id

    # The first ring runs out after the queue's 15 s: the phone rings again, for the same
    # agent, with what is left of the minute an accepted call rings; the sweep leaves it.
    clock.advance(16)
    status_url = urlsplit(_rings(api)[0].form["StatusCallback"][0])
    missed = {"CallSid": "CA1", "CallStatus": "no-answer"}
    assert sim.post(f"{status_url.path}?{status_url.query}", missed).status_code == 204
    assert _sweep(app, redis_url, settings, bus) == 0
    run_worker_jobs(app, redis_url, bus)
    assert [r.form["To"] for r in _rings(api)] == [[f"client:agent-{first}"]] * 2
    assert 40 <= int(_rings(api)[1].form["Timeout"][0]) <= 44  # the clock runs on meanwhile
    assert _row(db, caller.sid).agent_id == first

    # Declining it is still possible, and the call goes to the next agent.
    declined = client.post("/api/agents/me/decline", headers=first_auth)
    assert declined.status_code == 200, declined.text
    assert _row(db, caller.sid).agent_id == second
    run_worker_jobs(app, redis_url, bus)
    assert _rings(api)[-1].form["To"] == [f"client:agent-{second}"]
    assert _cancels(api) == ["CA2"]  # the first agent's phone stops ringing
    nothing = client.post("/api/agents/me/accept", headers=first_auth)
    assert (nothing.status_code, nothing.json()["error_id"]) == (409, "no_such_offer")


def test_an_accepted_call_moves_on_once_its_ringing_time_is_over(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    clock: Any,
) -> None:
    first, first_auth = agent()
    second, _ = agent()
    api.replies.extend([(201, {"sid": "CA1"}), (201, {"sid": "CA2"})])
    caller = _queued_caller(sim, make_customer)
    assert client.post("/api/agents/me/accept", headers=first_auth).status_code == 200
    clock.advance(16)
    assert _sweep(app, redis_url, settings, bus) == 0  # accepted: not the 15 s offer timeout
    assert _row(db, caller.sid).agent_id == first
    clock.advance(45)
    assert _sweep(app, redis_url, settings, bus) == 1
    assert _row(db, caller.sid).agent_id == second


def test_an_agent_hangs_up_a_twilio_call_from_the_console(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    make_user: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    agent_id, auth = agent()
    leg = "CA" + "e" * 32
    api.replies.append((201, {"sid": leg}))
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, caller, agent_id, leg)
    row = _row(db, caller.sid)
    other = bearer(make_user(Role.AGENT))
    refused = client.post(f"/api/calls/{row.id}/hangup", headers=other)
    assert (refused.status_code, refused.json()["error_id"]) == (403, "permission_denied")

    api.replies.extend([(200, {"sid": caller.sid}), (200, {"sid": leg})])
    assert client.post(f"/api/calls/{row.id}/hangup", headers=auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)
    [caller_hangup] = _steered(api, caller.sid)
    [agent_hangup] = _steered(api, leg)
    assert "<Hangup" in caller_hangup["Twiml"][0] and "<Hangup" in agent_hangup["Twiml"][0]
    caller.status("completed")
    row = _row(db, caller.sid)
    assert (row.state, row.disposition) == ("ended", "completed")
    me = client.get("/api/console/me", headers=auth).json()
    assert me["state"] == "wrap_up"
    again = client.post(f"/api/calls/{row.id}/hangup", headers=auth)
    assert (again.status_code, again.json()["error_id"]) == (409, "call_not_bridged")


# Attended transfer: the agent consults a colleague, then hands the call over (or not).


def _answering(api: FakeTwilioApi) -> None:
    """Twilio accepts every call placed and every leg steered."""
    placed = iter(range(1, 100))

    def reply(request: Any) -> tuple[int, dict[str, str]]:
        if request.path.endswith("/Calls.json"):
            return 201, {"sid": f"CA{next(placed):032d}"}
        return 200, {"sid": request.path.rsplit("/", 1)[-1].removesuffix(".json")}

    api.reply = reply


def _consult_answered(sim: TwilioSimulator, api: FakeTwilioApi, agent_id: int, leg: str) -> str:
    """The colleague's phone rang (the last call placed) and they picked up."""
    ring = _rings(api)[-1]
    assert ring.form["To"] == [f"client:agent-{agent_id}"]
    connect = urlsplit(ring.form["Url"][0])
    assert connect.path == "/twilio/consult/connect"
    params = {"CallSid": leg, "From": sim.hotline, "To": f"client:agent-{agent_id}"}
    return sim.post(f"{connect.path}?{connect.query}", {**params, "CallStatus": "in-progress"}).text


def test_an_agent_consults_a_colleague_then_hands_the_twilio_call_over(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    _answering(api)
    first, auth = agent()
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    first_leg = "CA" + "1" * 32
    _bridged(sim, api, caller, first, first_leg)
    second, second_auth = agent()
    row = _row(db, caller.sid)

    asked = client.post(f"/api/calls/{row.id}/consult", json={"agent_id": second}, headers=auth)
    assert asked.status_code == 204, asked.text
    early = client.post(f"/api/calls/{row.id}/consult/complete", headers=auth)
    assert (early.status_code, early.json()["error_id"]) == (409, "consultation_not_ready")
    run_worker_jobs(app, redis_url, bus)
    assert _steered(api, first_leg)[-1]["Url"] == [f"{PUBLIC_URL}/twilio/agent/park?call={row.id}"]
    second_leg = "CA" + "2" * 32
    room = _consult_answered(sim, api, second, second_leg)
    assert f"consult-{row.id}</Conference>" in room
    run_worker_jobs(app, redis_url, bus)
    assert f"consult-{row.id}</Conference>" in _steered(api, first_leg)[-1]["Twiml"][0]
    assert client.get("/api/console/me", headers=second_auth).json()["state"] == "on_call"
    held = _row(db, caller.sid)
    assert (held.agent_id, held.consult_agent_id, held.held_at is not None) == (first, second, True)
    # Found: a resume was taken here, and the agent's leg left the consultation room,
    # leaving the colleague in it alone.
    steered = len(_steered(api, first_leg))
    resumed = client.post(f"/api/calls/{row.id}/resume", headers=auth)
    assert (resumed.status_code, resumed.json()["error_id"]) == (409, "consultation_under_way")
    run_worker_jobs(app, redis_url, bus)
    assert len(_steered(api, first_leg)) == steered
    assert _row(db, caller.sid).held_at is not None
    assert _events(bus, "call.resumed") == []

    done = client.post(f"/api/calls/{row.id}/consult/complete", headers=auth)
    assert done.status_code == 204, done.text
    run_worker_jobs(app, redis_url, bus)
    assert f"<Dial><Queue>call-{row.id}</Queue></Dial>" in _steered(api, second_leg)[-1]["Twiml"][0]
    assert "<Hangup" in _steered(api, first_leg)[-1]["Twiml"][0]
    handed = _row(db, caller.sid)
    assert (handed.agent_id, handed.agent_leg, handed.consult_agent_id, handed.held_at) == (
        second,
        second_leg,
        None,
        None,
    )
    assert client.get("/api/console/me", headers=auth).json()["state"] == "wrap_up"
    [completed] = _events(bus, "call.consult_completed")
    assert (completed["from_agent_id"], completed["agent_id"]) == (first, second)
    # The bus delivers at least once: a worker that died after its request to Twilio and
    # before its acknowledgement leaves the completion to be read again. Bridging the
    # colleague's leg again would take it out of the bridge and drop the caller.
    steered = (len(_steered(api, first_leg)), len(_steered(api, second_leg)))
    _read_again_from(bus, "call.consult_completed")
    run_worker_jobs(app, redis_url, bus)
    assert (len(_steered(api, first_leg)), len(_steered(api, second_leg))) == steered

    # The colleague who took the call holds it: their own leg is parked.
    assert client.post(f"/api/calls/{row.id}/hold", headers=second_auth).status_code == 204
    run_worker_jobs(app, redis_url, bus)
    park = _steered(api, second_leg)[-1]
    assert park["Url"] == [f"{PUBLIC_URL}/twilio/agent/park?call={row.id}"]

    caller.status("completed")
    assert _row(db, caller.sid).disposition == "completed"
    assert client.get("/api/console/me", headers=second_auth).json()["state"] == "wrap_up"


def test_a_consultation_not_answered_or_cancelled_gives_the_caller_back_to_the_agent(
    sim: TwilioSimulator,
    agent: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
) -> None:
    _answering(api)
    first, auth = agent()
    caller = _queued_caller(sim, make_customer)
    run_worker_jobs(app, redis_url, bus)
    first_leg = "CA" + "3" * 32
    _bridged(sim, api, caller, first, first_leg)
    second, second_auth = agent()
    row = _row(db, caller.sid)

    # The colleague's phone rings out: the caller is the agent's again.
    assert client.post(f"/api/calls/{row.id}/consult", json={"agent_id": second}, headers=auth)
    run_worker_jobs(app, redis_url, bus)
    status = urlsplit(_rings(api)[-1].form["StatusCallback"][0])
    rang_out = {"CallSid": "CA" + "4" * 32, "CallStatus": "no-answer"}
    assert sim.post(f"{status.path}?{status.query}", rang_out).status_code == 204
    back = _row(db, caller.sid)
    assert (back.agent_id, back.consult_agent_id, back.held_at) == (first, None, None)
    assert client.get("/api/console/me", headers=second_auth).json()["state"] == "available"
    run_worker_jobs(app, redis_url, bus)
    assert f"<Dial><Queue>call-{row.id}</Queue></Dial>" in _steered(api, first_leg)[-1]["Twiml"][0]

    # Asked again, the colleague answers; the agent cancels: the colleague's leg is hung up.
    assert client.post(f"/api/calls/{row.id}/consult", json={"agent_id": second}, headers=auth)
    run_worker_jobs(app, redis_url, bus)
    second_leg = "CA" + "5" * 32
    _consult_answered(sim, api, second, second_leg)
    cancelled = client.post(f"/api/calls/{row.id}/consult/cancel", headers=auth)
    assert cancelled.status_code == 204, cancelled.text
    run_worker_jobs(app, redis_url, bus)
    assert "<Hangup" in _steered(api, second_leg)[-1]["Twiml"][0]
    assert f"<Dial><Queue>call-{row.id}</Queue></Dial>" in _steered(api, first_leg)[-1]["Twiml"][0]
    assert _row(db, caller.sid).consult_agent_id is None
    assert client.get("/api/console/me", headers=second_auth).json()["state"] == "wrap_up"
    assert [e["consultant_id"] for e in _events(bus, "call.consult_ended")] == [second, second]
    again = client.post(f"/api/calls/{row.id}/consult/cancel", headers=auth)
    assert (again.status_code, again.json()["error_id"]) == (409, "consultation_not_ready")


# Calls whose end never reached us: Twilio sends a status callback once.


def _settle(app: Any) -> int:
    """One run of the worker's settling of Twilio calls, as its cron does twice a minute."""
    return int(asyncio.run(settle_twilio_calls(worker_context(app))))


def _repairs(client: TestClient, settings: Settings) -> dict[str, float]:
    """The worker's repairs, by kind, as ``/metrics`` shows them to a scraper."""
    settings.metrics.token = SecretStr("scrape-token-0123456789")
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert scraped.status_code == 200
    [family] = [
        f for f in text_string_to_metric_families(scraped.text) if f.name.endswith("repairs")
    ]
    return {sample.labels["repair"]: sample.value for sample in family.samples}


def _untold(client: TestClient, settings: Settings) -> float:
    """Live Twilio calls Twilio told nothing of, as ``/metrics`` shows them to a scraper."""
    settings.metrics.token = SecretStr("scrape-token-0123456789")
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert scraped.status_code == 200
    [family] = [
        f for f in text_string_to_metric_families(scraped.text) if f.name.endswith("untold")
    ]
    return family.samples[0].value


def _asked(api: FakeTwilioApi) -> list[str]:
    """The calls read at Twilio's REST API, by SID, in order."""
    return [
        r.path.rsplit("/", 1)[-1].removesuffix(".json")
        for r in api.requests
        if r.method == "GET" and "/Calls/" in r.path
    ]


def test_calls_whose_hang_up_never_reached_us_are_ended_from_what_twilio_says(
    sim: TwilioSimulator,
    agent: Any,
    make_user: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    clock: TestClock,
) -> None:
    """Found: a status callback the service could not take (the database or Redis away
    for a moment) is lost, and a caller's hang-up with it. The agent talking with them
    stayed on the call, offered nothing, and a caller who hung up while waiting stayed in
    the queue, the next call offered. Now Twilio is asked about calls live for a minute:
    the two it says have ended are ended, the live one is left, and the agent, once free,
    is offered the caller still waiting."""
    agent_id, auth = agent()
    supervisor = bearer(make_user(Role.SUPERVISOR))
    leg = "CA" + "b" * 32
    api.replies.append((201, {"sid": leg}))
    talking = sim.call("+8613800138010")
    assert talking.press("0").verbs()[-1] == "Enqueue"
    run_worker_jobs(app, redis_url, bus)
    _bridged(sim, api, talking, agent_id, leg)
    left = sim.call("+8613800138011")
    assert left.press("0").verbs()[-1] == "Enqueue"
    waiting = sim.call("+8613800138012")
    assert waiting.press("0").verbs()[-1] == "Enqueue"
    api.call_status.update(
        {talking.sid: "completed", left.sid: "completed", waiting.sid: "in-progress"}
    )
    api.ended_at.update({talking.sid: clock(), left.sid: clock()})
    clock.advance(61)

    # The fault: nothing else ends them (the offer sweep runs every two seconds).
    _sweep(app, redis_url, settings, bus)
    assert (_row(db, talking.sid).state, _row(db, left.sid).state) == ("bridged", "queued")

    assert _repairs(client, settings)["twilio_call_settled"] == 0
    assert _settle(app) == 2
    assert sorted(_asked(api)) == sorted([talking.sid, left.sid, waiting.sid])
    assert _repairs(client, settings)["twilio_call_settled"] == 2
    ended = _row(db, talking.sid)
    assert (ended.state, ended.disposition, ended.agent_id) == ("ended", "completed", agent_id)
    assert (_row(db, left.sid).state, _row(db, left.sid).disposition) == ("ended", "abandoned")
    assert _row(db, waiting.sid).state == "queued"
    assert {e["call_id"] for e in _events(bus, "call.ended")} == {ended.id, _row(db, left.sid).id}
    [me] = [
        a for a in client.get("/api/agents", headers=supervisor).json() if a["agent_id"] == agent_id
    ]
    assert me["state"] == "wrap_up"
    figures = client.get(f"/api/queues/{QUEUE}", headers=auth).json()
    assert (figures["waiting"], figures["abandoned"]) == (1, 1)

    free = client.put("/api/agents/me/state", json={"state": "available"}, headers=auth)
    assert free.status_code == 200
    offered = _row(db, waiting.sid)
    assert (offered.state, offered.agent_id) == ("offered", agent_id)


def test_twilio_is_asked_about_each_live_call_in_turn_and_only_when_it_answers(
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    db: Session,
    clock: TestClock,
) -> None:
    """Calls younger than a minute are not asked about; a sweep asks at most its batch,
    those asked longest ago first, and one call at most once a minute. Twilio failing
    leaves every call live and asks nothing more that sweep; a call Twilio does not know
    is left live. Without the account's credentials nothing is asked. A call that ended
    less than 30 s ago is left to its status callback, then ended."""
    ctx = worker_context(app)
    clock.freeze(clock())  # the minute's bounds are met exactly: no real time in between
    older = [sim.call(f"+861380013802{n}") for n in range(2)]
    for call in older:
        assert call.press("0").verbs()[-1] == "Enqueue"
    clock.advance(61)
    young = sim.call("+8613800138029")
    api.call_status.update({call.sid: "in-progress" for call in [*older, young]})

    def sweep(batch: int = 1) -> list[str]:
        before = len(_asked(api))
        with app.state.sessions() as session:
            ended = settle_ended_calls(
                session, ctx["switchboard"], twilio=ctx["twilio_calls"], clock=clock, batch=batch
            )
        assert ended == []
        return _asked(api)[before:]

    first = sweep()
    clock.advance(1)
    second = sweep()
    assert sorted(first + second) == sorted(call.sid for call in older)  # not the young one
    assert sweep() == []  # both asked less than a minute ago
    young.status("completed")
    clock.advance(54)
    assert sweep() == first  # asked a minute ago (give or take 5 s); the second not yet
    assert sweep() == []
    clock.advance(1)
    assert sweep() == second

    clock.advance(60)
    api.failing = True
    assert sweep(batch=2) == first  # the failure ends the sweep, and the call is still to ask
    api.failing = False
    del api.call_status[first[0]]  # a call Twilio does not know
    assert sweep() == first
    assert sweep() == second
    assert [_row(db, call.sid).state for call in older] == ["queued", "queued"]

    clock.advance(60)
    api.call_status[second[0]] = "completed"
    api.ended_at[second[0]] = clock() - timedelta(seconds=10)
    asked = len(_asked(api))
    assert asyncio.run(settle_twilio_calls({**ctx, "twilio_calls": None})) == 0
    assert len(_asked(api)) == asked  # nothing asked
    assert _settle(app) == 0  # ended 10 s ago: its status callback may yet come
    assert _row(db, second[0]).state == "queued"
    clock.advance(30)
    assert _settle(app) == 1
    # Asked again, and only it: the call Twilio did not know waits two minutes.
    assert _asked(api)[asked:] == [second[0], second[0]]
    assert _row(db, second[0]).disposition == "abandoned"


def test_a_call_twilio_tells_nothing_of_is_asked_about_less_and_less_often(
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    clock: TestClock,
) -> None:
    """A call Twilio does not know (another account's SID), or refuses to tell of, was
    asked about every minute for as long as it stayed live: a request to Twilio and a
    warning in the log each time, though such an answer rarely changes. Now after 2 and 4
    minutes, then every 5; once Twilio tells of it, every minute again."""
    ctx = worker_context(app)
    clock.freeze(clock())
    caller = sim.call("+8613800138032")
    assert caller.press("0").verbs()[-1] == "Enqueue"
    clock.advance(61)
    start = clock()

    def asks_over(seconds: int) -> list[int]:
        """The seconds (from ``start``) at which the call is asked about, sweeping every
        30 s as the worker's cron does."""
        at = []
        for _ in range(seconds // 30):
            before = len(_asked(api))
            with app.state.sessions() as session:
                settle_ended_calls(
                    session, ctx["switchboard"], twilio=ctx["twilio_calls"], clock=clock
                )
            if len(_asked(api)) > before:
                at.append(int((clock() - start).total_seconds()))
            clock.advance(30)
        return at

    # Not known: the fake API answers 404, as Twilio does for a SID of another account.
    assert asks_over(3600) == [0, 120, *range(360, 3600, 300)]
    api.refusing.add(caller.sid)  # now a refusal (400) instead: still nothing told
    assert asks_over(900) == [3660, 3960, 4260]
    api.refusing.discard(caller.sid)
    api.call_status[caller.sid] = "in-progress"
    assert asks_over(900)[:3] == [4560, 4620, 4680]  # told at last: every minute again


def test_a_suspended_account_stops_the_sweep_and_counts_no_call_as_untold(
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    clock: TestClock,
    client: TestClient,
    settings: Settings,
) -> None:
    """Found in review: Twilio's refusal of a suspended account (403, code 20005) was taken
    for a refusal about the one call asked, so the sweep went on to ask about every live
    call, each then asked again only minutes later: once the account was paid up, hang-ups
    lost meanwhile were found late. It speaks of the account, as a refused credential
    does: the sweep stops, and asks again at its next run."""
    ctx = worker_context(app)
    clock.freeze(clock())
    callers = [sim.call(f"+861380013804{n}") for n in range(2)]
    for caller in callers:
        assert caller.press("0").verbs()[-1] == "Enqueue"
    clock.advance(61)

    def sweep() -> list[str]:
        before = len(_asked(api))
        with app.state.sessions() as session:
            settle_ended_calls(session, ctx["switchboard"], twilio=ctx["twilio_calls"], clock=clock)
        clock.advance(30)
        return _asked(api)[before:]

    api.suspended = True
    first = sweep()
    assert len(first) == 1  # the sweep stops at the first refusal
    assert sweep() == first  # and asks about the same call 30 s later, not minutes
    assert _untold(client, settings) == 0  # nothing told of any call, but by the account
    api.suspended = False
    api.call_status[callers[0].sid] = "in-progress"
    assert sorted(sweep()) == sorted(caller.sid for caller in callers)
    # The other call Twilio does not know (404): counted for the operators.
    assert _untold(client, settings) == 1
    api.call_status[callers[1].sid] = "in-progress"
    clock.advance(120)
    sweep()
    assert _untold(client, settings) == 0


def test_the_call_due_longest_is_asked_first_whether_asked_before_or_not(
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    clock: TestClock,
) -> None:
    """Found in review: calls never asked went ahead of every call asked before, so on a
    floor where more calls turned a minute old each sweep than a sweep asks about, calls
    once asked were never asked again, and a hang-up lost after that was never found."""
    ctx = worker_context(app)

    def sweep() -> list[str]:
        before = len(_asked(api))
        with app.state.sessions() as session:
            settle_ended_calls(
                session, ctx["switchboard"], twilio=ctx["twilio_calls"], clock=clock, batch=1
            )
        return _asked(api)[before:]

    clock.freeze(clock())  # due for 6 s against 1 s: no real time in between
    asked_before = sim.call("+8613800138030")
    clock.advance(61)
    newer = sim.call("+8613800138031")
    api.call_status.update({asked_before.sid: "in-progress", newer.sid: "in-progress"})
    assert sweep() == [asked_before.sid]
    # The first due again for 6 s (a minute after it was asked, give or take 5 s), the
    # newer for 1 (a minute old).
    clock.advance(61)
    assert sweep() == [asked_before.sid]
    assert sweep() == [newer.sid]


def test_a_call_that_cannot_be_ended_waits_its_turn_and_the_others_are_ended(
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    db: Session,
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found in review: a call whose end failed to be written (a row the log refuses, a
    fault in its clean-up) stayed first in line and ended every sweep at its failure, so
    no other lost hang-up was ever settled. Now it is logged, asked again a minute later,
    and the sweep goes on."""
    stuck = sim.call("+8613800138040")
    clock.advance(1)  # asked first: due first
    other = sim.call("+8613800138041")
    for caller in (stuck, other):
        assert caller.press("0").verbs()[-1] == "Enqueue"
        api.call_status[caller.sid] = "completed"
        api.ended_at[caller.sid] = clock()
    clock.advance(61)
    end = calls.provider_status

    def failing(session: Session, board: Any, *, provider_id: str, **kwargs: Any) -> Any:
        if provider_id == stuck.sid:
            raise RuntimeError("the log refuses this call's row")
        return end(session, board, provider_id=provider_id, **kwargs)

    monkeypatch.setattr(calls, "provider_status", failing)
    assert _settle(app) == 1
    assert _asked(api) == [stuck.sid, other.sid]
    assert (_row(db, stuck.sid).state, _row(db, other.sid).state) == ("queued", "ended")
    asked = len(_asked(api))
    assert _settle(app) == 0
    assert len(_asked(api)) == asked  # not asked again until a minute has passed
    monkeypatch.setattr(calls, "provider_status", end)
    clock.advance(60)
    assert _settle(app) == 1
    assert _row(db, stuck.sid).disposition == "abandoned"


def test_the_live_calls_asked_about_are_read_by_the_index_of_live_calls(db: Session) -> None:
    """Found in review: the read of live Twilio calls named the channel, the SID and the age
    as conditions, and SQLite's planner took the index of every SID ever logged for it
    (PostgreSQL's could take that of every call's start): a sweep twice a minute cost more
    as the log grew. It reads the partial index of the calls going on."""
    seen: list[tuple[str, Any]] = []
    connection = db.connection()

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", note)
    try:
        services.live_provider_calls(db, channel=CallChannel.TWILIO)
    finally:
        event.remove(connection, "before_cursor_execute", note)
    [(statement, parameters)] = seen
    if connection.dialect.name == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        assert any("ix_call_live" in row[3] for row in plan), plan
    else:
        # Few rows: a scan would be cheaper; forbid it to see which index serves the query.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
        assert any("ix_call_live" in row[0] for row in plan), plan


def test_a_call_that_never_connected_is_judged_by_its_last_change(
    sim: TwilioSimulator, api: FakeTwilioApi, app: Any, db: Session, clock: TestClock
) -> None:
    """Twilio gives a call that never connected (failed, busy, no answer) no end time: its
    last change stands for its end, so its own callback still has its 30 s first."""
    caller = sim.call("+8613800138050")
    assert caller.press("0").verbs()[-1] == "Enqueue"
    clock.advance(61)
    api.call_status[caller.sid] = "failed"
    api.changed_at[caller.sid] = clock() - timedelta(seconds=10)
    assert _settle(app) == 0
    assert _row(db, caller.sid).state == "queued"
    clock.advance(30)
    assert _settle(app) == 1
    assert _row(db, caller.sid).disposition == "failed"


def test_one_sweep_at_a_time_goes_past_a_refused_call_and_ends_calls_when_twilio_says(
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    bus: redis.Redis,
    db: Session,
    clock: TestClock,
) -> None:
    """Found in review: two sweeps at once (two workers, or one that ran long beside the
    next) asked about the same calls; a refusal about one call (Twilio's 400) stopped every
    sweep at that call; and a call ended so was logged as ending when we learnt of it, a
    minute or more after Twilio's end, lengthening its talk or its wait in the reports."""
    refused = sim.call("+8613800138060")
    clock.advance(1)
    lost = sim.call("+8613800138061")
    clock.advance(1)
    talking = sim.call("+8613800138062")
    for caller in (refused, lost, talking):
        assert caller.press("0").verbs()[-1] == "Enqueue"
    clock.advance(61)
    api.refusing.add(refused.sid)
    ended = (clock() - timedelta(seconds=50)).replace(microsecond=0)
    api.call_status.update({lost.sid: "completed", talking.sid: "in-progress"})
    api.ended_at[lost.sid] = ended
    api.changed_at[lost.sid] = clock() - timedelta(seconds=5)  # the end time is what counts

    held = bus.lock(TWILIO_SETTLE_LOCK, timeout=60)
    assert held.acquire(blocking=False)
    assert _settle(app) == 0
    assert _asked(api) == []  # another sweep is at it
    held.release()

    assert _settle(app) == 1
    assert _asked(api) == [refused.sid, lost.sid, talking.sid]
    row = _row(db, lost.sid)
    assert (row.disposition, row.ended_at) == ("abandoned", ended)
    assert {_row(db, c.sid).state for c in (refused, talking)} == {"queued"}


def test_a_call_ended_at_twilios_time_never_ends_before_its_agent_answered(
    sim: TwilioSimulator,
    agent: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    bus: redis.Redis,
    db: Session,
    clock: TestClock,
) -> None:
    """Found in review: the end time Twilio gives runs on Twilio's clock. One a few seconds
    behind ours put a settled call's end before its agent answered, and its talk time below
    zero in the reports."""
    agent_id, _ = agent()
    api.replies.append((201, {"sid": "CA" + "c" * 32}))
    caller = sim.call("+8613800138070")
    assert caller.press("0").verbs()[-1] == "Enqueue"
    run_worker_jobs(app, redis_url, bus)
    clock.advance(4)
    _bridged(sim, api, caller, agent_id, "CA" + "c" * 32)
    bridged_at = _row(db, caller.sid).bridged_at
    assert bridged_at is not None
    api.call_status[caller.sid] = "completed"
    api.ended_at[caller.sid] = bridged_at - timedelta(seconds=2)
    clock.advance(61)

    assert _settle(app) == 1
    row = _row(db, caller.sid)
    assert (row.disposition, row.agent_id, row.ended_at) == ("completed", agent_id, bridged_at)


def _hang_up_the_acd_misses(
    app: Any, caller: SimulatedCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller hangs up, and Redis fails as the hang-up takes them out of the ACD, after
    the log's write: the callback is answered 503."""
    acd = app.state.switchboard.acd
    taken = acd.abandon

    def redis_away(call_id: str) -> bool:
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(acd, "abandon", redis_away)
    assert caller.status("completed").status_code == 503
    monkeypatch.setattr(acd, "abandon", taken)


def test_a_hang_up_the_acd_missed_takes_the_caller_off_the_queue_at_the_next_sweep(
    sim: TwilioSimulator,
    make_user: Any,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found in review: a hang-up is written to the log, then taken out of the ACD. When
    Redis failed between the two, the callback answered 503, which Twilio does not retry,
    and the call was no longer live for the settling: the caller who had left stayed
    waiting on the wall, and was offered to the next agent free. Now the offer sweep takes
    out of the ACD the calls that the log shows ended."""
    caller = sim.call("+8613800138080")
    assert caller.press("0").verbs()[-1] == "Enqueue"
    _hang_up_the_acd_misses(app, caller, monkeypatch)
    row = _row(db, caller.sid)
    assert (row.state, row.disposition) == ("ended", "abandoned")
    auth = bearer(make_user(Role.SUPERVISOR))
    figures = client.get(f"/api/queues/{QUEUE}", headers=auth).json()
    assert (figures["waiting"], figures["abandoned"]) == (1, 0)  # the fault

    _sweep(app, redis_url, settings, bus)
    figures = client.get(f"/api/queues/{QUEUE}", headers=auth).json()
    assert (figures["waiting"], figures["abandoned"]) == (0, 1)
    # Counted for the operators: a Redis that fails between two steps is worth a look.
    repairs = _repairs(client, settings)
    assert repairs["ended_call_left_in_acd"] == 1
    assert sum(repairs.values()) == 1


def test_a_hang_up_the_acd_missed_while_ringing_an_agent_frees_the_agent_at_the_next_sweep(
    sim: TwilioSimulator,
    agent: Any,
    make_user: Any,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    settings: Settings,
    bus: redis.Redis,
    db: Session,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same fault for a caller who hung up while an agent's phone rang for them: the
    agent rang on for nobody until the ring ran out."""
    agent_id, _ = agent()
    supervisor = bearer(make_user(Role.SUPERVISOR))
    api.replies.append((201, {"sid": "CA" + "d" * 32}))
    caller = sim.call("+8613800138081")
    assert caller.press("0").verbs()[-1] == "Enqueue"
    run_worker_jobs(app, redis_url, bus)
    _hang_up_the_acd_misses(app, caller, monkeypatch)
    assert _row(db, caller.sid).state == "ended"

    def state() -> str:
        agents = client.get("/api/agents", headers=supervisor).json()
        return str(next(a["state"] for a in agents if a["agent_id"] == agent_id))

    assert state() == "offered"  # the fault
    _sweep(app, redis_url, settings, bus)
    assert state() == "available"
    figures = client.get(f"/api/queues/{QUEUE}", headers=supervisor).json()
    assert (figures["waiting"], figures["abandoned"]) == (0, 1)


def test_no_transaction_is_held_while_twilio_answers(
    sim: TwilioSimulator, api: FakeTwilioApi, app: Any, db: Session, clock: TestClock
) -> None:
    """Twilio may take seconds to answer (up to the adapter's timeout, call after call): a
    transaction held meanwhile would keep a database connection idle in it, and one that
    held a call would hold up that call's own callbacks."""
    callers = [sim.call(f"+86138001380{n}") for n in (90, 91)]
    for caller in callers:
        assert caller.press("0").verbs()[-1] == "Enqueue"
        api.call_status[caller.sid] = "in-progress"
    clock.advance(61)
    in_transaction: list[bool] = []
    api.on_call_read = lambda _sid: in_transaction.append(db.in_transaction())

    assert _settle(app) == 0
    assert in_transaction == [False, False]
