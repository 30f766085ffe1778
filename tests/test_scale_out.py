"""Scale-out as operators run it past one machine: two `callcenter serve --no-worker`, two
`callcenter worker` and two `callcenter sip` processes over one PostgreSQL schema and one
Redis take a stream of calls on both channels, and one process of each kind is killed
(SIGKILL) in the middle of it.

Twilio is played by the test: its callers post signed webhooks, spread over the two serve
processes as a load balancer would (one that drops a dead process and sends a request it
could not deliver on to the other), and the REST API the workers ring agents through is the
demo's local stand-in, which answers each agent's leg by fetching its TwiML. SIP callers
are SIPp instances calling through Kamailio, each to one of the two endpoints' numbers;
the agents' softphones are SIPp instances registered to the same Kamailio. Every agent
takes calls of both channels from one queue.

What must hold: every call placed is in the call log exactly once and has ended; none was
offered to two agents at once, offered after it ended, or bridged to two; nothing is left
in the ACD and every agent is free at the end.
Calls carried by the killed SIP endpoint die with it (the caller's line is gone): they must
be ended as failed by recovery, not left live, and their agents freed. Calls on the
surviving endpoint, and every Twilio call, must reach an agent.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
import sqlalchemy
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from callcenter.demo.calls import TwilioStandIn, open_around_the_clock
from core.bus import Envelope, EventBus
from core.clock import system_clock
from core.db import make_engine
from telephony.acd import Acd
from telephony.enums import CallChannel, CallState, Disposition
from telephony.models import Call
from telephony.presence import Presence
from tests.cli_harness import CALLCENTER, PASSWORD, add_user, cli_env, until
from tests.conftest import IN_CI, POSTGRES_URL, PUBLIC_URL, SECRET, TWILIO_AUTH_TOKEN
from tests.sip_harness import (
    Kamailio,
    Sipp,
    agent_answers,
    agent_registers,
    free_udp_port,
    scenario,
)
from tests.slots import free_port, rtp_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(230)]

QUEUES = ("hotline-zh-CN", "hotline-en")
AGENTS = 6
CALLS = 24
"""Half on each channel, alternating; the kills come after call 10."""
SPACING_SECONDS = 1.5
SIP_NUMBERS = ("1000", "1001")
"""The two endpoints' registrations; the second one is killed."""
DOOMED = (4, 8, 10)
"""The calls to the second endpoint: the last two close together, so that when it is
killed one of them talks to an agent while the other rings one."""
SIP_CALLER_STAYS_MS = 18000
"""A SIP caller presses 0 at once, then stays this long (IVR, queue, agent) and hangs up."""
TWILIO_PATIENCE_SECONDS = 30.0
TWILIO_TALK_SECONDS = 3.0
AGENT_PICKS_UP_SECONDS = 2.0
"""Agents' phones, SIP and Twilio, ring this long before they pick up."""
OFFER_TIMEOUT_SECONDS = 15
"""The default: a dead endpoint's calls must be ended before an offer of theirs rings out."""
ACCOUNT_SID = "AC" + "5" * 32


# The processes


@dataclass
class Process:
    """One `callcenter` command, in a process group of its own."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, args: list[str], env: dict[str, str], logs: Path) -> Process:
        log = logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [CALLCENTER, *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, process, log)

    def alive(self) -> bool:
        return self.process.poll() is None

    def said(self, text: str) -> bool:
        assert self.alive(), f"{self.name} died:\n{self.log.read_text()[-3000:]}"
        return text in self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A PostgreSQL schema of this test's own; `callcenter db upgrade` builds it."""
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.connect():
            pass
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    schema = f"cc_scale_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


# Twilio's side: a load balancer in front of the serve processes, callers, the REST API


class Balancer:
    """Where Twilio's webhooks arrive: the live serve processes in turn. A request whose
    process died under it, or that was answered 5xx, is sent on to the next one."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = list(bases)
        self.turn = itertools.count()
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=30)
        self.validator = RequestValidator(TWILIO_AUTH_TOKEN)
        self.resent: list[str] = []

    def drop(self, base: str) -> None:
        with self.lock:
            self.bases.remove(base)

    def post(self, url: str, params: dict[str, str]) -> httpx.Response:
        path = urlsplit(url)._replace(scheme="", netloc="").geturl()
        signature = self.validator.compute_signature(PUBLIC_URL + path, params)
        for _attempt in range(4):
            with self.lock:
                base = self.bases[next(self.turn) % len(self.bases)]
            try:
                response = self.http.post(
                    base + path, data=params, headers={"X-Twilio-Signature": signature}
                )
            except httpx.TransportError as exc:
                self.resent.append(f"{path} to {base}: {exc!r}")
                continue
            if response.status_code < 500:
                return response
            self.resent.append(f"{path} to {base}: {response.status_code}")
            time.sleep(0.5)
        raise AssertionError(f"no serve process took {path}: {self.resent[-4:]}")


def twiml(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


@dataclass
class TwilioCaller:
    sid: str
    number: str
    call_id: str | None = None
    answered: threading.Event = field(default_factory=threading.Event)


class Twilio:
    """Callers posting webhooks; the REST API where workers ring agents (the demo's
    stand-in), each agent's leg picked up after a moment by fetching its TwiML."""

    def __init__(self, balancer: Balancer) -> None:
        self.balancer = balancer
        self.stand_in = TwilioStandIn(self._ring, self._status_of)
        self.rings: list[tuple[str, int]] = []
        self.connected: list[tuple[str, int]] = []
        self.callers: dict[str, TwilioCaller] = {}
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []

    def _status_of(self, sid: str) -> str | None:
        """Every caller's hang-up reaches the service (the test checks it): until then,
        their call goes on."""
        return "in-progress" if any(c.sid == sid for c in list(self.callers.values())) else None

    def _ring(self, form: dict[str, str]) -> None:
        query = parse_qs(urlsplit(form["Url"]).query)
        self.rings.append((query["call"][0], int(query["agent"][0])))
        self._spawn(self._pick_up, form)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        def guarded() -> None:
            try:
                target(*args)
            except Exception as exc:
                self.errors.append(f"{target.__name__}{args}: {exc!r}")

        thread = threading.Thread(target=guarded, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _pick_up(self, form: dict[str, str]) -> None:
        time.sleep(AGENT_PICKS_UP_SECONDS)
        leg = {
            "CallSid": form["Sid"],
            "AccountSid": ACCOUNT_SID,
            "From": form.get("From", ""),
            "To": form.get("To", ""),
            "Direction": "outbound-api",
            "CallStatus": "in-progress",
        }
        answer = twiml(self.balancer.post(form["Url"], leg))
        if answer.find("Dial") is None:
            return  # the caller left meanwhile: the agent hears so and hangs up
        query = parse_qs(urlsplit(form["Url"]).query)
        call_id, agent_id = query["call"][0], int(query["agent"][0])
        self.connected.append((call_id, agent_id))
        self.callers[call_id].answered.set()

    def call(self, number: str) -> TwilioCaller:
        caller = TwilioCaller(sid="CA" + uuid.uuid4().hex, number=number)
        self._spawn(self._caller, caller)
        return caller

    def _params(self, caller: TwilioCaller, status: str, **extra: str) -> dict[str, str]:
        return {
            "CallSid": caller.sid,
            "AccountSid": ACCOUNT_SID,
            "From": caller.number,
            "To": "+864008001234",
            "Direction": "inbound",
            "CallStatus": status,
            **extra,
        }

    def _caller(self, caller: TwilioCaller) -> None:
        """Rings in, asks for an agent, talks a while once connected, hangs up."""
        menu = twiml(self.balancer.post("/twilio/voice", self._params(caller, "ringing")))
        gather = menu.find("Gather")
        assert gather is not None, ET.tostring(menu)
        caller.call_id = parse_qs(urlsplit(gather.attrib["action"]).query)["call"][0]
        self.callers[caller.call_id] = caller
        time.sleep(0.5)
        pressed = self._params(caller, "in-progress", Digits="0")
        queued = twiml(self.balancer.post(gather.attrib["action"], pressed))
        assert queued.find("Enqueue") is not None, ET.tostring(queued)
        if caller.answered.wait(TWILIO_PATIENCE_SECONDS):
            time.sleep(TWILIO_TALK_SECONDS)
        hung_up = self.balancer.post("/twilio/status", self._params(caller, "completed"))
        assert hung_up.status_code == 204, hung_up.text


# The service


@dataclass
class Cluster:
    """Everything the test started, stopped at the end whatever happens."""

    logs: Path
    env: dict[str, str]
    stack: ExitStack
    serves: list[tuple[Process, str]] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    sips: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], **settings: str) -> Process:
        process = Process.start(name, args, {**self.env, **settings}, self.logs)
        self.stack.callback(process.stop)
        return process


def start_service(cluster: Cluster, kamailio: Kamailio) -> None:
    """Two of each process, started together; waits until each says it is up."""
    for index in range(2):
        port = free_port()
        serve = cluster.start(f"serve-{index}", ["serve", "--port", str(port), "--no-worker"])
        cluster.serves.append((serve, f"http://127.0.0.1:{port}"))
        cluster.workers.append(cluster.start(f"worker-{index}", ["worker"]))
    for index, number in enumerate(SIP_NUMBERS):
        # The RTP block a hotline of this test process would have (start_hotline), in two.
        rtp = rtp_block() + 200 * index
        sip = cluster.start(
            f"sip-{number}",
            ["sip"],
            CALLCENTER_SIP_SERVER="127.0.0.1",
            CALLCENTER_SIP_PORT=str(kamailio.port),
            CALLCENTER_SIP_USERNAME=number,
            CALLCENTER_SIP_LOCAL_IP="127.0.0.1",
            CALLCENTER_SIP_LOCAL_PORT=str(free_udp_port()),
            CALLCENTER_SIP_RTP_PORT_MIN=str(rtp),
            CALLCENTER_SIP_RTP_PORT_MAX=str(rtp + 198),
        )
        cluster.sips.append(sip)
    for serve, base in cluster.serves:
        until(lambda b=base, s=serve: s.alive() and httpx.get(f"{b}/healthz").is_success, 60)
    for worker in cluster.workers:
        until(lambda w=worker: w.said("Starting worker"), 60)
    for sip in cluster.sips:
        until(lambda s=sip: s.said("registered as"), 90)


def set_up_agents(base: str, env: dict[str, str], kamailio: Kamailio, cluster: Cluster) -> str:
    """An admin (from the command line) sets the queues and creates the agents, each with
    a softphone; the agents log in. Returns the admin's token."""
    made = add_user(env, "admin", role="admin", password=PASSWORD)
    assert made.returncode == 0, made.stderr + made.stdout
    admin = _token(base, "admin")
    for queue in QUEUES:
        config = {
            "name": queue,
            "wrap_up_seconds": 1,
            "offer_timeout_seconds": OFFER_TIMEOUT_SECONDS,
        }
        put = httpx.put(f"{base}/api/queues/{queue}", json=config, headers=admin)
        assert put.status_code == 200, put.text
    for n in range(1, AGENTS + 1):
        user = {
            "username": f"agent{n}",
            "role": "agent",
            "password": PASSWORD,
            "extension": f"sip:agent{n}@127.0.0.1",
        }
        created = httpx.post(f"{base}/api/users", json=user, headers=admin)
        assert created.status_code == 201, created.text
        softphone(f"agent{n}", kamailio, cluster)
        login = httpx.put(
            f"{base}/api/agents/me/login",
            json={"queues": list(QUEUES)},
            headers=_token(base, f"agent{n}"),
        )
        assert login.status_code == 200, login.text
    return admin["Authorization"]


def _token(base: str, username: str) -> dict[str, str]:
    got = httpx.post(
        f"{base}/api/auth/token", data={"username": username, "password": PASSWORD}, timeout=30
    )
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def softphone(user: str, kamailio: Kamailio, cluster: Cluster) -> None:
    """A SIPp registered as ``user`` that answers every call it is rung for."""
    port = free_udp_port()
    directory = cluster.logs / user
    registered = Sipp.start(
        agent_registers(user, kamailio.port),
        port=port,
        endpoint_port=kamailio.port,
        caller=user,
        directory=directory / "register",
    )
    assert registered.wait(30) == 0, registered.errors()
    phone = Sipp.start(
        agent_answers(user, ring_ms=int(AGENT_PICKS_UP_SECONDS * 1000), timeout_ms=60000),
        port=port,
        endpoint_port=kamailio.port,
        caller=user,
        directory=directory,
        timeout="600s",
        extra=("-m", "1000"),
    )
    cluster.stack.callback(phone.stop)


def sip_caller(number: str, endpoint: str, kamailio: Kamailio, cluster: Cluster) -> Sipp:
    """A caller dialling ``endpoint``'s number through the proxy: 0 for an agent, then
    staying a while before hanging up."""
    steps = [("pause", 800), ("dtmf", "0"), ("pause", SIP_CALLER_STAYS_MS)]
    xml = scenario(steps, register=False, proxy=kamailio.port)
    caller = Sipp.start(
        xml.replace("1000@127.0.0.1", f"{endpoint}@127.0.0.1"),
        port=free_udp_port(),
        endpoint_port=kamailio.port,
        caller=number,
        directory=cluster.logs / f"caller-{number}",
    )
    cluster.stack.callback(caller.stop)
    return caller


# What the log and the bus say


def logged_calls(engine: sqlalchemy.Engine) -> list[Call]:
    with Session(engine) as session:
        return list(session.exec(select(Call)).all())


def offer_faults(events: list[Envelope]) -> list[str]:
    """Offers of one call to a second agent while the first still rang, offers of a call
    that had ended, and agents offered a call while busy with another, in the bus's order."""
    ringing: dict[str, int] = {}
    busy: dict[int, str] = {}
    ended: set[str] = set()
    faults = []
    for event in events:
        data = event.data
        if event.name == "call.offered":
            call_id, agent_id = data["call_id"], data["agent_id"]
            if call_id in ended:
                faults.append(f"{call_id} offered to {agent_id} after it ended")
            if call_id in ringing:
                faults.append(f"{call_id} offered to {agent_id} while ringing {ringing[call_id]}")
            if busy.get(agent_id, call_id) != call_id:
                faults.append(f"agent {agent_id} offered {call_id} while on {busy[agent_id]}")
            ringing[call_id] = agent_id
            busy[agent_id] = call_id
        elif event.name == "call.ended":
            ringing.pop(data["call_id"], None)
            ended.add(data["call_id"])
        elif event.name == "agent.state_changed":
            agent_id = data["agent_id"]
            held = busy.get(agent_id)
            if data["previous"] == "offered" and held and ringing.get(held) == agent_id:
                del ringing[held]
            if data["state"] in {"available", "break", "logged_out"}:
                busy.pop(agent_id, None)
    return faults


def bridges(events: list[Envelope]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for event in events:
        if event.name == "call.bridged":
            found.setdefault(event.data["call_id"], []).append(event.data["agent_id"])
    return found


# The test


def test_two_of_each_process_take_a_stream_of_calls_and_survive_one_of_each_killed(
    database_url: str, redis_url: str, bus: redis.Redis, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    env = cli_env(
        tmp_path / "data",
        CALLCENTER_DATABASE_URL=database_url,
        CALLCENTER_REDIS_URL=redis_url,
        CALLCENTER_AUTH_SECRET_KEY=SECRET,
        CALLCENTER_PUBLIC_URL=PUBLIC_URL,
        CALLCENTER_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        CALLCENTER_TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        CALLCENTER_IVR_FLOWS_DIR=str(open_around_the_clock(tmp_path / "flows")),
        CALLCENTER_RECORDINGS_DIR=str(tmp_path / "recordings"),
        CALLCENTER_SIP_EXTENSION_DOMAINS='["127.0.0.1"]',
        CALLCENTER_LOG_LEVEL="INFO",
        # What a killed process logged is kept, not lost in its output buffer.
        PYTHONUNBUFFERED="1",
    )
    upgraded = subprocess.run(
        [CALLCENTER, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert upgraded.returncode == 0, upgraded.stderr + upgraded.stdout
    logs = tmp_path / "logs"
    logs.mkdir()
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        kamailio = Kamailio.start(tmp_path / "kamailio")
        stack.callback(kamailio.stop)
        cluster = Cluster(logs=logs, env=env, stack=stack)
        balancer = Balancer([])
        twilio = Twilio(balancer)
        env["CALLCENTER_TWILIO_API_BASE_URL"] = twilio.stand_in.start()
        stack.callback(twilio.stand_in.stop)
        start_service(cluster, kamailio)
        for _serve, base in cluster.serves:
            balancer.bases.append(base)
        admin = set_up_agents(cluster.serves[0][1], env, kamailio, cluster)
        placed = run_the_stream(cluster, balancer, twilio, kamailio, engine, bus)
        check_outcomes(cluster, twilio, engine, bus, placed, admin)


@dataclass
class Placed:
    """The calls the test placed, by the number they came from."""

    twilio: dict[str, TwilioCaller] = field(default_factory=dict)
    sip: dict[str, tuple[str, Sipp]] = field(default_factory=dict)
    """Caller number: the endpoint's number dialled, and the caller's SIPp."""
    cut_off: set[str] = field(default_factory=set)
    """SIP callers whose call was live on the endpoint when it was killed."""


def run_the_stream(
    cluster: Cluster,
    balancer: Balancer,
    twilio: Twilio,
    kamailio: Kamailio,
    engine: sqlalchemy.Engine,
    bus: redis.Redis,
) -> Placed:
    placed = Placed()
    for n in range(1, CALLS + 1):
        if n % 2:
            number = f"+86139{n:08d}"
            placed.twilio[number] = twilio.call(number)
        else:
            number = f"137{n:08d}"
            endpoint = SIP_NUMBERS[n in DOOMED]
            placed.sip[number] = (endpoint, sip_caller(number, endpoint, kamailio, cluster))
        if n == max(DOOMED):
            placed.cut_off = kill_one_of_each(cluster, balancer, engine, bus, placed)
        time.sleep(SPACING_SECONDS)
    return placed


def kill_one_of_each(
    cluster: Cluster,
    balancer: Balancer,
    engine: sqlalchemy.Engine,
    bus: redis.Redis,
    placed: Placed,
) -> set[str]:
    """Once a call to the second endpoint talks to an agent while another rings one:
    SIGKILL that endpoint, the second worker and the second serve process."""
    doomed = {number for number, (endpoint, _) in placed.sip.items() if endpoint == "1001"}

    def on_doomed_endpoint() -> list[Call]:
        return [c for c in logged_calls(engine) if c.from_number in doomed]

    talking_and_ringing = {CallState.BRIDGED, CallState.OFFERED}
    try:
        until(lambda: {c.state for c in on_doomed_endpoint()} >= talking_and_ringing, 40)
    except AssertionError:
        faults = offer_faults(EventBus(bus).read_after("0", count=1_000_000))
        states = sorted((c.from_number, c.state.value) for c in on_doomed_endpoint())
        pytest.fail(f"none talked while another rang: {states}; faults so far: {faults[:5]}")
    serve, base = cluster.serves[1]
    for process in (cluster.sips[1], cluster.workers[1], serve):
        process.kill()
    balancer.drop(base)
    return {c.from_number for c in on_doomed_endpoint() if c.state is not CallState.ENDED}


def check_outcomes(
    cluster: Cluster,
    twilio: Twilio,
    engine: sqlalchemy.Engine,
    bus: redis.Redis,
    placed: Placed,
    admin: str,
) -> None:
    for thread in list(twilio.threads):
        thread.join(60)
    for number, (endpoint, sipp) in placed.sip.items():
        if endpoint == SIP_NUMBERS[0]:
            assert sipp.wait(60) == 0, f"caller {number}: {sipp.errors()}"
    # Calls the killed endpoint carried are ended by recovery (a worker's sweep, once their
    # live marks have expired).
    until(lambda: all(c.state is CallState.ENDED for c in logged_calls(engine)), 75)
    calls = logged_calls(engine)
    events = EventBus(bus).read_after("0", count=1_000_000)
    keep_for_diagnosis(cluster.logs, calls, events)
    assert not twilio.errors, twilio.errors
    check_call_log(calls, placed)
    check_offers(calls, events, twilio)

    # Nothing is left in the ACD, every agent is free again: also those who were on, or
    # rung for, the killed endpoint's calls.
    acd = Acd(
        bus, EventBus(bus), Presence(bus, EventBus(bus), clock=system_clock), clock=system_clock
    )
    left = [c.id for c in calls if acd.current_offer(c.id) or acd.position(c.id, c.queue or "")]
    assert left == []
    base = cluster.serves[0][1]
    headers = {"Authorization": admin}

    def agents() -> list[tuple[int, str, str]]:
        found = httpx.get(f"{base}/api/agents", headers=headers).json()
        return [(a["agent_id"], a["state"], a["reason"]) for a in found]

    deadline = time.monotonic() + 10  # the last wrap-ups end within a sweep or two
    while any(state != "available" for _, state, _ in agents()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [state for _, state, _ in agents()] == ["available"] * AGENTS, agents()


def check_call_log(calls: list[Call], placed: Placed) -> None:
    """Every call placed is logged once and ended; those the service could still serve
    reached an agent."""
    by_number = Counter(c.from_number for c in calls)
    assert sorted(by_number) == sorted([*placed.twilio, *placed.sip])  # none lost
    assert set(by_number.values()) == {1}  # none logged twice
    twilio_ids = {c.provider_id for c in calls if c.channel is CallChannel.TWILIO}
    assert twilio_ids == {caller.sid for caller in placed.twilio.values()}
    assert placed.cut_off, "no call was live on the killed endpoint"
    for call in calls:
        if call.from_number in placed.cut_off:
            # The caller's line died with the endpoint: lost as a call, but not left live.
            assert (call.state, call.disposition) == (CallState.ENDED, Disposition.FAILED), call
        else:
            assert (call.state, call.disposition) == (CallState.ENDED, Disposition.COMPLETED)
            assert call.bridged_at is not None and call.agent_id is not None, call


def check_offers(calls: list[Call], events: list[Envelope], twilio: Twilio) -> None:
    """No call rang two agents at once, or any agent after it ended; each was bridged to
    one agent at most, the one in its log row; Twilio rang agents only for live offers and
    connected each caller once."""
    assert offer_faults(events) == []
    bridged = bridges(events)
    for call in calls:
        assert bridged.get(call.id, []) == ([call.agent_id] if call.bridged_at else []), call
    offers = Counter(
        (e.data["call_id"], e.data["agent_id"]) for e in events if e.name == "call.offered"
    )
    rung = Counter(twilio.rings)
    assert all(rung[key] <= offers[key] for key in rung), (rung, offers)
    connected = Counter(call_id for call_id, _agent in twilio.connected)
    assert set(connected.values()) == {1}, connected
    bridged_twilio = {c.id for c in calls if c.channel is CallChannel.TWILIO and c.bridged_at}
    assert set(connected) == bridged_twilio


def keep_for_diagnosis(logs: Path, calls: list[Call], events: list[Envelope]) -> None:
    """The call log and the bus as the test saw them, beside the processes' logs."""
    lines = [
        f"{c.id} {c.channel} {c.from_number} {c.disposition} agent={c.agent_id}" for c in calls
    ]
    lines += [f"{e.id} {e.name} {json.dumps(e.data)}" for e in events]
    (logs / "calls-and-events.txt").write_text("\n".join(lines) + "\n")
