"""`callcenter demo --calls`: what a newcomer runs, watched live from a supervisor's console.

The command seeds the demo data, serves it, and rings simulated callers in through the
signed Twilio webhooks; a supervisor's console connected to it must see the calls ring with
their pops, be offered to agents, get answered and end, and the wall's figures move. It
runs on the embedded defaults (a SQLite file and a private Redis), as a newcomer's does,
on its default load (ten times faster), and is stopped as a newcomer stops it: Ctrl-C.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from websockets.sync.client import connect

from callcenter.demo import calls as demo_calls
from callcenter.demo.calls import HOTLINE, QUEUES
from callcenter.embedded_redis import EmbeddedRedis
from core.bus import EventBus
from core.db import make_engine
from orders.enums import Role
from orders.models import User
from telephony import calls
from telephony.acd import Acd
from telephony.enums import CallChannel, CallState
from telephony.models import Call
from telephony.presence import AgentState, Presence
from tests.cli_harness import add_user, cli_env, until
from tests.conftest import PASSWORD, TestClock, at, fixed_clock
from tests.slots import free_port

CLI = Path(sys.executable).parent / "callcenter"


def _watch(base: str, token: str, seconds: float) -> list[dict[str, Any]]:
    """Every frame a supervisor's console receives, from the first event on the bus."""
    frames: list[dict[str, Any]] = []
    with connect(base.replace("http://", "ws://") + "/ws/console") as ws:
        ws.send(json.dumps({"type": "auth", "token": token, "last_event_id": "0-0"}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with suppress(TimeoutError):
                frames.append(json.loads(ws.recv(timeout=1)))
            answered = [f for f in frames if f["type"] == "event" and f["name"] == "call.ended"]
            if answered and any(_answered(f) for f in frames):
                break
    return frames


def _answered(frame: dict[str, Any]) -> bool:
    return frame["type"] == "wall" and any(q["answered"] for q in frame["wall"]["queues"])


def test_demo_calls_ring_in_through_the_real_call_path_and_ctrl_c_leaves_nothing(
    tmp_path: Path,
) -> None:
    """Watched until calls were answered and both queues have had calls, some still in
    progress; a second demo on the same data is refused in one line; then Ctrl-C. What the
    next service on this data directory finds must be clean: no call live or waiting, the
    simulated agents logged out, nothing offered to a human agent who becomes available."""
    data = tmp_path / "data"
    env = cli_env(data, CALLCENTER_LOG_LEVEL="WARNING")
    added = add_user(env, "watcher", role="supervisor", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(CLI), "demo", "--customers", "8", "--calls", "--speed", "10", "--port", str(port)]
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    engine = make_engine(f"sqlite:///{data / 'callcenter.sqlite3'}")
    try:
        frames = _watch(base, _supervisor_token(base, demo, log), seconds=60)
        until(lambda: _both_queues_called_and_some_call_live(engine, demo), timeout=40)
        # A talk lasts 3 s at this speed: Ctrl-C waits for one to end, however quickly
        # the rest came (on a quick machine the conditions above met before any did).
        until(lambda: "finishes talking to the agent" in log.read_text(), timeout=40)
        second = subprocess.run(
            [str(CLI), "demo", "--calls", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    events = [f for f in frames if f["type"] == "event"]
    names = {f["name"] for f in events}
    assert {"call.ringing", "call.queued", "call.offered", "call.bridged", "call.ended"} <= names
    ringing = [f for f in events if f["name"] == "call.ringing"]
    assert ringing and all(f["data"]["pop"]["phone"].startswith("+86") for f in ringing)
    # Most demo callers are customers on file: their pops carry their cards.
    assert any(f["data"]["pop"]["customers"] for f in ringing)
    assert any(_answered(f) for f in frames)
    printed = log.read_text()
    assert f"{base}/console" in printed
    assert "is connected to agent" in printed and "finishes talking to the agent" in printed
    failures = [line for line in printed.splitlines() if "failed" in line]
    assert "failed" not in printed.rsplit("calls:", 1)[-1], failures

    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"error: a callcenter service (at {base}) is already running on {data}; stop it first "
        "(Ctrl-C where it runs): `callcenter demo --calls` serves the demo itself, with a "
        "stand-in for Twilio"
    ]
    stopped = re.search(
        r"stopped: (\d+) calls in progress ended, 4 simulated agents logged out", printed
    )
    assert stopped is not None and int(stopped[1]) >= 1, printed[-3000:]
    assert "Traceback" not in printed[printed.index("stopped: ") :]
    with Session(engine) as session:
        calls = session.exec(select(Call)).all()
        sim_agents = session.exec(
            select(User).where(col(User.username).startswith("demo-sim-"))
        ).all()
    engine.dispose()
    assert {c.queue for c in calls} >= {"hotline-zh-CN", "hotline-en"}
    assert [c.id for c in calls if c.state is not CallState.ENDED] == []
    redis_server = EmbeddedRedis(data)
    client = redis.Redis.from_url(redis_server.start(), decode_responses=True)
    try:
        events_bus = EventBus(client)
        clock = fixed_clock(at(2026, 5, 20, 9, 30))
        acd = Acd(client, events_bus, Presence(client, events_bus, clock=clock), clock=clock)
        assert [acd.presence.get(a.id).state for a in sim_agents] == [AgentState.LOGGED_OUT] * 4
        assert [acd.figures(q).waiting for q in QUEUES] == [0, 0]
        assert [c.id for c in calls if acd.current_offer(c.id) is not None] == []
        # A human agent pressing Available is offered nothing the demo left behind.
        acd.presence.log_in(10_000, queues=list(QUEUES), skills=[])
        assert [acd.dispatch(q) for q in QUEUES] == [[], []]
    finally:
        client.close()
        redis_server.stop()


def _supervisor_token(base: str, demo: subprocess.Popen[str], log: Path) -> str:
    deadline = time.monotonic() + 60
    while True:
        assert demo.poll() is None, log.read_text()[-3000:]
        with suppress(httpx.HTTPError):
            response = httpx.post(
                f"{base}/api/auth/token", data={"username": "watcher", "password": PASSWORD}
            )
            if response.status_code == 200:
                return str(response.json()["access_token"])
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def _both_queues_called_and_some_call_live(engine: Engine, demo: subprocess.Popen[str]) -> bool:
    assert demo.poll() is None, "the demo stopped on its own"
    with Session(engine) as session:
        calls = session.exec(select(Call)).all()
    queues = {c.queue for c in calls}
    return {"hotline-zh-CN", "hotline-en"} <= queues and any(
        c.state is not CallState.ENDED for c in calls
    )


def test_stopping_the_demo_ends_the_calls_it_can_and_logs_its_agents_out_when_one_fails(
    app: Any,
    db: Session,
    make_user: Callable[..., User],
    clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C ended the demo's calls one after the other and stopped at the first that
    failed to end (the database dropped the connection): the callers after it stayed
    queued, to be offered to the next human agent for good, and the simulated agents
    stayed logged in, available for calls nobody would answer."""
    board = app.state.switchboard
    agents = [make_user(Role.AGENT) for _ in range(2)]
    for agent in agents:
        board.acd.presence.log_in(agent.id, queues=[], skills=[])
    sids = ["CA" + "a" * 32, "CA" + "b" * 32]
    for sid in sids:
        with app.state.sessions() as session:
            call = calls.arrive(
                session,
                board,
                channel=CallChannel.TWILIO,
                provider_id=sid,
                from_number="+8613800000000",
                to_number=HOTLINE,
                answered=True,
                clock=clock,
            )
            calls.enqueue(session, board, call=call, queue=QUEUES[0], clock=clock)
    first = db.exec(select(Call.id).where(Call.provider_id == sids[0])).one()
    finish = demo_calls.finish

    def dropped_for_the_first(session: Session, board: Any, *, call_id: str, clock: Any) -> Call:
        if call_id == first:
            raise OperationalError("UPDATE call", {}, ConnectionError("server closed"))
        return finish(session, board, call_id=call_id, clock=clock)

    monkeypatch.setattr(demo_calls, "finish", dropped_for_the_first)

    done = demo_calls.wind_down(
        app, provider_ids=sids, agent_ids=[a.id for a in agents], clock=clock
    )

    assert (done.ended, done.failed, done.logged_out, done.left_in) == (1, 1, 2, 0)
    states = dict(db.exec(select(Call.provider_id, Call.state)).all())
    assert states == {sids[0]: CallState.QUEUED, sids[1]: CallState.ENDED}
    assert [board.acd.presence.get(a.id).state for a in agents] == [AgentState.LOGGED_OUT] * 2
