"""`callcenter demo --calls`: the service, serving, with simulated callers ringing in.

Callers come in through the real call path: signed Twilio webhooks posted over HTTP to the
service (``/twilio/voice``, the IVR's Gather actions, status callbacks). Twilio itself is the
one thing simulated: a local stand-in where api.twilio.com would be receives the requests
that ring agents and answers them as an agent's softphone would, so an offered call is
bridged, talked through and hung up, and the agent goes through wrap-up. A newcomer who
opens /console sees pops arrive and the wall move. Nothing here runs outside the demo.

The demo serves the service itself: a service already running on the same data directory
would ring the demo's agents through a Twilio it does not have, so the demo refuses to start
beside one and says so. Ctrl-C ends the calls still in progress and logs the simulated
agents out before the server stops, so no caller is left queued for a human agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import random
import re
import secrets
import signal
import socket
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import redis
import structlog
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from callcenter.app import create_app
from callcenter.runtime import Runtime
from callcenter.secret_key import resolve_secret_key
from callcenter.serving import WEBSOCKETS
from callcenter.settings import Settings
from core.db import writer
from core.errors import CallCenterError, ConfigurationError, Conflict
from core.types import Clock
from ivr.flow import BUILTIN_FLOWS
from orders.enums import Role
from orders.exceptions import DuplicateUsername
from orders.models import Customer, CustomerPhone, User
from orders.schemas import SYSTEM, UserCreate, UserUpdate
from orders.services import users
from telephony import AgentState, CallState, InvalidAgentState
from telephony.calls import finish
from telephony.models import Call
from telephony.switchboard import Switchboard

log = structlog.get_logger(__name__)

DEMO_ACCOUNT_SID = "AC" + "d" * 32
HOTLINE = "+864008008000"
QUEUES = ("hotline-zh-CN", "hotline-en")
SIM_AGENT = "demo-sim-agent{n}"
DEFAULT_PORT = 8000
REDIALS = 5
"""How often a demo caller tries a new call the service refused while saturated."""
_HOURS = ('open: "08:00"\n    close: "20:00"', 'open: "00:00"\n    close: "24:00"')


@dataclass(frozen=True)
class CallPlan:
    """The simulated hotline's traffic. The defaults are a realistic shift, not a crisis:
    5 calls a minute, 4 in 5 of them for an agent, each keeping its agent about 43 s
    (3 s ringing, 30 s talking, 10 s wrap-up), offer 5 x 0.8 x 43 / 60 = 2.9 Erlangs to
    4 agents. Each agent is busy about 72 % of the time and idle between calls, and Erlang C
    puts about 80 % of callers through within the queues' 20 s service level. A quarter of
    the callers speak English, so both queues, hotline-zh-CN and hotline-en, get calls.
    """

    count: int = 0
    """Calls to place; 0 keeps calling until interrupted."""
    per_minute: float = 5.0
    agents: int = 4
    """Simulated agents logged in besides any human at the console."""
    ring_seconds: float = 3.0
    """How long an agent's softphone rings before it is picked up."""
    talk_seconds: float = 30.0
    patience_seconds: float = 60.0
    """How long a waiting caller holds before hanging up."""
    wrap_up_seconds: int = 10
    known_share: float = 0.8
    """Callers who are customers on file: their numbers pop their records."""
    english_share: float = 0.25
    """Callers who are customers on file speaking English (part of ``known_share``): the
    IVR answers them in English and queues them for hotline-en."""
    agent_share: float = 0.8
    """Callers who ask for an agent; the others hear an order status or hang up in the IVR."""
    speed: float = 1.0
    """Every wait of the simulation (arrivals, listening, ringing, talking, patience, wrap-up)
    is divided by this: at 10 an hour's traffic passes in six minutes."""
    seed: int = 2026

    @property
    def wrap_up(self) -> int:
        """The queues' wrap-up at this speed, in the whole seconds they are set in."""
        return round(self.wrap_up_seconds / self.speed)


def open_around_the_clock(directory: Path) -> Path:
    """The built-in hotline flow with its business hours widened to the whole day."""
    source = (BUILTIN_FLOWS / "hotline.yaml").read_text()
    if _HOURS[0] not in source:
        raise RuntimeError("the built-in flow's business hours changed; update _HOURS")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hotline.yaml").write_text(source.replace(*_HOURS))
    return directory


def demo_settings(settings: Settings, *, public_url: str, stand_in: str) -> Settings:
    """The settings the demo serves with: Twilio is our stand-in, open around the clock."""
    token = settings.twilio.auth_token or SecretStr(secrets.token_urlsafe(24))
    twilio = settings.twilio.model_copy(
        update={
            "account_sid": settings.twilio.account_sid or DEMO_ACCOUNT_SID,
            "auth_token": token,
            "api_base_url": stand_in,
        }
    )
    flows = open_around_the_clock(settings.data_dir / "demo-flows")
    ivr = settings.ivr.model_copy(update={"flows_dir": flows})
    return settings.model_copy(
        update={"twilio": twilio, "ivr": ivr, "public_url": settings.public_url or public_url}
    )


# Where to serve


@dataclass
class Listener:
    """The socket the demo serves on, bound before the data is seeded so nothing takes it."""

    socket: socket.socket
    base: str
    note: str | None = None
    """Said when the demo serves elsewhere than asked."""


def listen(runtime: Runtime, *, host: str, port: int | None) -> Listener:
    """Where the demo serves: on ``port`` (8000 by default), never beside another callcenter
    on the same Redis, whose worker would take the demo's calls to ring agents through a
    Twilio it has not got."""
    _quiet_libraries()
    if runtime.embedded is not None and not runtime.embedded.owner:
        base = f"http://{host}:{DEFAULT_PORT if port is None else port}"
        at = f" (at {base})" if _callcenter_answers(base) else ""
        data = runtime.settings.data_dir.resolve()
        raise Conflict(
            f"a callcenter service{at} is already running on {data}; "
            "stop it first (Ctrl-C where it runs): `callcenter demo --calls` serves the demo "
            "itself, with a stand-in for Twilio"
        )
    # Over an embedded Redis this process owns, a service at the port runs on other data.
    return open_listener(host, port, redis_shared=runtime.embedded is None)


def open_listener(
    host: str, port: int | None, *, redis_shared: bool, default: int = DEFAULT_PORT
) -> Listener:
    """A socket on ``port``; without one asked for, on ``default``, or the next free port
    when another program holds that. ``redis_shared``: a callcenter at the port may be on
    the demo's Redis, and is refused."""
    wanted = default if port is None else port
    base = f"http://{host}:{wanted}"
    try:
        return Listener(_bind(host, wanted), base)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise ConfigurationError(f"cannot serve on {host}:{wanted}: {exc.strerror}") from exc
    if redis_shared and _callcenter_answers(base):
        raise Conflict(
            f"a callcenter service already answers at {base}; stop it first: "
            "`callcenter demo --calls` serves the demo itself, with a stand-in for Twilio"
        )
    if port is not None:
        raise ConfigurationError(f"port {port} on {host} is in use; choose another --port")
    sock = _free_socket(host, wanted)
    found = f"http://{host}:{sock.getsockname()[1]}"
    return Listener(sock, found, f"port {wanted} is in use; the demo serves on {found} instead")


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # As uvicorn does: a port whose last connections are still closing can be served again.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _free_socket(host: str, taken: int) -> socket.socket:
    """The first free port after ``taken`` (easy to remember, 8001 most often), else any."""
    for port in [*range(taken + 1, min(taken + 10, 65536)), 0]:
        with contextlib.suppress(OSError):
            return _bind(host, port)
    raise ConfigurationError(f"no free port to serve on at {host}")


def _quiet_libraries() -> None:
    for noisy in ("httpx", "twilio.http_client", "arq.worker", "arq.jobs"):
        # One line per request or job would drown the calls' story.
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _callcenter_answers(base: str) -> bool:
    try:
        return bool(httpx.get(f"{base}/healthz", timeout=2).json() == {"status": "ok"})
    except (httpx.HTTPError, ValueError):
        return False


# Twilio's REST API, as far as ringing agents and asking about calls go

_CALL_RESOURCE = re.compile(r"/2010-04-01/Accounts/[^/]+/Calls/([^/.]+)\.json")


class TwilioStandIn:
    """Stands where api.twilio.com stands: takes "create call" requests for agents' legs,
    and answers what becomes of a call (``status_of`` its SID: ``in-progress``,
    ``completed``, or None for a call it does not know)."""

    def __init__(
        self,
        on_ring: Callable[[dict[str, str]], None],
        status_of: Callable[[str], str | None] = lambda _sid: None,
    ) -> None:
        self.on_ring = on_ring
        self.status_of = status_of
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                sid = "CA" + uuid.uuid4().hex
                stand_in.on_ring({**form, "Sid": sid})
                self._reply(201, {"sid": sid, "status": "queued", "to": form.get("To")})

            def do_GET(self) -> None:
                call = _CALL_RESOURCE.fullmatch(self.path)
                status = stand_in.status_of(call.group(1)) if call is not None else None
                if call is None or status is None:
                    self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                else:
                    self._reply(200, {"sid": call.group(1), "status": status})

            def _reply(self, code: int, payload: dict[str, object]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# Callers


@dataclass(frozen=True)
class Numbers:
    """Customers' numbers to call from: those of English speakers apart."""

    english: list[str]
    others: list[str]


@dataclass(frozen=True)
class _Caller:
    """What one caller will do, drawn when the call is placed."""

    number: str
    choice: str
    """"0" asks for an agent, "2" hears an order's status, "" hangs up in the IVR."""
    listen: float
    patience: float
    talk: float


def draw_caller(rng: random.Random, plan: CallPlan, numbers: Numbers) -> _Caller:
    roll = rng.random()
    if roll < plan.english_share and numbers.english:
        number = rng.choice(numbers.english)
    elif roll < plan.known_share and numbers.others:
        number = rng.choice(numbers.others)
    else:
        number = f"+86137{rng.randrange(10**8):08d}"
    rest = (1 - plan.agent_share) / 2
    choice = rng.choices(("0", "2", ""), (plan.agent_share, rest, rest))[0]
    return _Caller(
        number=number,
        choice=choice,
        listen=rng.uniform(2, 5) / plan.speed,  # the greeting, and an order's status
        patience=rng.uniform(0.5, 1.5) * plan.patience_seconds / plan.speed,
        talk=rng.uniform(0.5, 1.5) * plan.talk_seconds / plan.speed,
    )


@dataclass
class _Line:
    sid: str
    caller: str
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False


class CallStream:
    """Places calls at the planned rate and plays each caller and each agent's softphone."""

    def __init__(
        self,
        *,
        base: str,
        public_url: str,
        auth_token: str,
        numbers: Numbers,
        plan: CallPlan,
        out: Console,
        clock: Clock,
    ) -> None:
        self.base = base
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.numbers = numbers
        self.plan = plan
        self.out = out
        # Callers are drawn from their own generator, in the order they call: the same seed
        # gives the same callers, however the calls' waits interleave.
        self.callers = random.Random(plan.seed)
        self.rng = random.Random(plan.seed + 1)
        self.lines: dict[str, _Line] = {}
        self.sids: dict[str, _Line] = {}
        """Every call placed, by its Twilio sid."""
        self.in_progress: set[str] = set()
        """Twilio sids of the calls whose hang-up the service has not heard of yet."""
        self.tally: Counter[str] = Counter()
        self.http = httpx.AsyncClient(base_url=base, timeout=30)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.sent: set[asyncio.Task[httpx.Response]] = set()
        """Webhooks on their way: a stop waits for their answers (see ``stop``)."""
        self.stopped = False

    async def run(self) -> Counter[str]:
        self.loop = asyncio.get_running_loop()
        placed = 0
        while not self.plan.count or placed < self.plan.count:
            placed += 1
            self._spawn(self._call(placed, draw_caller(self.callers, self.plan, self.numbers)))
            await asyncio.sleep(self.rng.expovariate(self.plan.per_minute * self.plan.speed / 60))
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
        return self.tally

    async def stop(self) -> None:
        """Callers and softphones stop where they are; their calls are left to end.

        A webhook already sent is answered first: the service would go on with it after
        the wind-down (a call created, an agent bridged) and leave that call live or that
        agent on a call nobody ends."""
        self.stopped = True
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        await asyncio.gather(*list(self.sent), return_exceptions=True)
        await self.http.aclose()

    def status_of(self, sid: str) -> str | None:
        """From the stand-in's thread: what Twilio would say of a caller's call."""
        line = self.sids.get(sid)
        if line is None:
            return None
        return "completed" if line.ended else "in-progress"

    def ring(self, form: dict[str, str]) -> None:
        """From the stand-in's thread: an agent's leg was requested."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._ring, form)

    def _ring(self, form: dict[str, str]) -> None:
        if not self.stopped:
            self._spawn(self._softphone(form))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, url: str, params: dict[str, str]) -> httpx.Response:
        path = urlsplit(url)._replace(scheme="", netloc="").geturl()
        signature = self.validator.compute_signature(self.public_url + path, params)
        sending = asyncio.create_task(
            self.http.post(path, data=params, headers={"X-Twilio-Signature": signature})
        )
        self.sent.add(sending)
        sending.add_done_callback(self.sent.discard)
        # A caller stopped mid-request stops waiting; the request itself goes on to its answer.
        return await asyncio.shield(sending)

    async def _ring_in(self, line: _Line) -> httpx.Response | None:
        """The new call's webhook; refused while the service is saturated (503 with
        Retry-After), the caller rings again when told, as a caller redials a busy line.
        None when every try was refused: the caller gives up on a busy line."""
        for attempt in range(REDIALS):
            response = await self._post("/twilio/voice", self._params(line, "ringing"))
            if response.status_code != 503 or "retry-after" not in response.headers:
                return response
            if attempt + 1 < REDIALS:
                self.tally["redialled"] += 1
                await asyncio.sleep(float(response.headers["retry-after"]))
        return None

    def _params(self, line: _Line, status: str, **extra: str) -> dict[str, str]:
        return {
            "CallSid": line.sid,
            "AccountSid": DEMO_ACCOUNT_SID,
            "From": line.caller,
            "To": HOTLINE,
            "Direction": "inbound",
            "CallStatus": status,
            **extra,
        }

    async def _call(self, index: int, caller: _Caller) -> None:
        line = _Line(sid="CA" + uuid.uuid4().hex, caller=caller.number)
        self.sids[line.sid] = line
        self.in_progress.add(line.sid)
        try:
            response = await self._ring_in(line)
            if response is None:
                self.in_progress.discard(line.sid)
                self.tally["refused"] += 1
                self._say(index, line.caller, f"hears the line busy {REDIALS} times, gives up")
                return
            twiml = await self._answered(response)
            self.lines[_call_id(twiml)] = line
            self._say(index, line.caller, "rings in")
            await asyncio.sleep(caller.listen)
            if not caller.choice:
                await self._hang_up(line, index, "hangs up in the IVR")
                return
            twiml = await self._press(line, twiml, caller.choice)
            if caller.choice == "2":
                await self._press(line, twiml, "#")
                await asyncio.sleep(caller.listen)
                await self._hang_up(line, index, "heard the order status, hangs up")
                return
            await self._wait_for_agent(line, index, caller)
        except (httpx.HTTPError, ValueError) as exc:
            # Twilio hangs up on a webhook that fails: the service learns of it by asking.
            line.ended = True
            self.tally["failed"] += 1
            self._say(index, line.caller, f"failed: {exc}", style="red")

    async def _wait_for_agent(self, line: _Line, index: int, caller: _Caller) -> None:
        try:
            await asyncio.wait_for(line.answered.wait(), caller.patience)
        except TimeoutError:
            await self._hang_up(line, index, f"gives up after {caller.patience:.0f} s in the queue")
            self.tally["abandoned"] += 1
            return
        await asyncio.sleep(caller.talk)
        await self._hang_up(line, index, "finishes talking to the agent")
        self.tally["answered"] += 1

    async def _press(self, line: _Line, twiml: ET.Element, digits: str) -> ET.Element:
        gather = twiml.find("Gather")
        if gather is None:
            raise ValueError(f"no menu to press {digits} in")
        params = self._params(line, "in-progress", Digits=digits)
        return await self._answered(await self._post(gather.attrib["action"], params))

    async def _hang_up(self, line: _Line, index: int, what: str) -> None:
        line.ended = True
        response = await self._post("/twilio/status", self._params(line, "completed"))
        response.raise_for_status()
        self.in_progress.discard(line.sid)
        self.tally["calls"] += 1
        self._say(index, line.caller, what)

    async def _answered(self, response: httpx.Response) -> ET.Element:
        response.raise_for_status()
        return ET.fromstring(response.text)

    async def _softphone(self, form: dict[str, str]) -> None:
        """An agent's softphone rings, and is picked up (unless the caller left first)."""
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.plan.ring_seconds / self.plan.speed)
        query = parse_qs(urlsplit(form["Url"]).query)
        call_id = query.get("call", [""])[0]
        line = self.lines.get(call_id)
        leg = {
            "CallSid": form["Sid"],
            "AccountSid": DEMO_ACCOUNT_SID,
            "From": form.get("From", HOTLINE),
            "To": form.get("To", ""),
            "Direction": "outbound-api",
            "CallStatus": "in-progress",
        }
        twiml = await self._answered(await self._post(form["Url"], leg))
        if line is not None and not line.ended and twiml.find("Dial") is not None:
            line.answered.set()
            agent = query.get("agent", ["?"])[0]
            self._say(0, line.caller, f"is connected to agent {agent}")

    def _say(self, index: int, caller: str, what: str, style: str = "") -> None:
        # The operator reads the story in the terminal's own zone.
        stamp = self.clock().astimezone().strftime("%H:%M:%S")
        label = f"call {index:>3}" if index else "        "
        self.out.print(f"{stamp} {label} {caller:<15} {what}", style=style or None)


def _call_id(twiml: ET.Element) -> str:
    for node in twiml.iter():
        for value in node.attrib.values():
            query = parse_qs(urlsplit(value).query)
            if "call" in query:
                return query["call"][0]
    raise ValueError("the service's TwiML names no call")


# Putting it together


def _numbers(runtime: Runtime, rng: random.Random, limit: int = 500) -> Numbers:
    """Numbers of customers on file; English speakers' mobiles apart (a landline shared
    by a family would pop two customers, and the IVR greets those in Chinese)."""
    query = (
        select(CustomerPhone.e164, CustomerPhone.label, Customer.preferred_language)
        .join(Customer, col(Customer.id) == col(CustomerPhone.customer_id))
        .order_by(col(CustomerPhone.id))
    )
    with Session(runtime.engine) as session:
        rows = session.exec(query).all()
    english = [e164 for e164, label, language in rows if language == "en" and label == "mobile"]
    others = [e164 for e164, _label, language in rows if language != "en"]
    return Numbers(
        english=rng.sample(english, min(limit, len(english))),
        others=rng.sample(others, min(limit, len(others))),
    )


@dataclass(frozen=True)
class _SimAgent:
    id: int
    username: str
    password: str


def _sim_agents(runtime: Runtime, count: int) -> list[_SimAgent]:
    """Simulated agents' accounts, with passwords of this run."""
    accounts = []
    with Session(writer(runtime.engine), expire_on_commit=False) as session:
        for n in range(1, count + 1):
            username, password = SIM_AGENT.format(n=n), secrets.token_urlsafe(12)
            data = UserCreate(username=username, role=Role.AGENT, password=password)
            try:
                user = users.create_user(session, data=data, actor=SYSTEM, clock=runtime.clock)
            except DuplicateUsername:  # from an earlier run: a new password for this one
                existing = session.exec(select(User).where(User.username == username)).one()
                assert existing.id is not None
                user = users.update_user(
                    session,
                    user_id=existing.id,
                    data=UserUpdate(password=password),
                    actor=SYSTEM,
                    clock=runtime.clock,
                )
            assert user.id is not None
            accounts.append(_SimAgent(user.id, username, password))
    return accounts


async def _log_in(base: str, agents: list[_SimAgent]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for agent in agents:
            got = await http.post(
                "/api/auth/token", data={"username": agent.username, "password": agent.password}
            )
            got.raise_for_status()
            headers = {"Authorization": f"Bearer {got.json()['access_token']}"}
            login = await http.put(
                "/api/agents/me/login", json={"queues": list(QUEUES)}, headers=headers
            )
            login.raise_for_status()


@dataclass(frozen=True)
class WoundDown:
    """What stopping the demo did: its calls ended or not, its agents logged out or not."""

    ended: int
    failed: int
    logged_out: int
    left_in: int


def wind_down(
    app: FastAPI, *, provider_ids: Iterable[str], agent_ids: Iterable[int], clock: Clock
) -> WoundDown:
    """End the demo's calls still in progress and log its simulated agents out, through the
    call service and presence as any hang-up and log-out goes: a caller left waiting would
    be offered to the next human agent who becomes available, for good. Whatever fails (the
    database or Redis away) is logged and counted, and the rest still goes: each call ends
    in a session of its own, and the agents log out whatever happened to the calls (one
    still on a call that could not end cannot, and is counted as left in)."""
    board: Switchboard = app.state.switchboard
    ids = list(provider_ids)
    ended = failed = 0
    try:
        with app.state.sessions() as session:
            live = session.exec(
                select(Call.id).where(col(Call.provider_id).in_(ids), Call.state != CallState.ENDED)
            ).all()
    except SQLAlchemyError as exc:
        log.warning("demo calls not ended: the call log cannot be read", error=str(exc))
        live, failed = [], len(ids)
    for call_id in live:
        try:
            with app.state.sessions() as session:
                finish(session, board, call_id=call_id, clock=clock)
            ended += 1
        except (CallCenterError, SQLAlchemyError, redis.RedisError) as exc:
            log.warning("demo call not ended", call=call_id, error=str(exc))
            failed += 1
    logged_out = left_in = 0
    for agent_id in agent_ids:
        try:
            if board.acd.presence.get(agent_id).state is AgentState.LOGGED_OUT:
                continue
            board.acd.presence.choose(agent_id, AgentState.LOGGED_OUT, reason="demo stopped")
            logged_out += 1
        except (InvalidAgentState, redis.RedisError) as exc:
            log.warning("demo agent not logged out", agent=agent_id, error=str(exc))
            left_in += 1
    return WoundDown(ended=ended, failed=failed, logged_out=logged_out, left_in=left_in)


def run_demo_calls(
    runtime: Runtime, *, plan: CallPlan, listener: Listener, out: Console
) -> Counter[str]:
    """Serve the demo data and stream calls into it until done or interrupted (Ctrl-C,
    SIGTERM); either way its calls end and its agents log out before the server stops."""
    _quiet_libraries()
    base = listener.base
    holder: dict[str, CallStream] = {}
    stand_in = TwilioStandIn(
        lambda form: holder["stream"].ring(form), lambda sid: holder["stream"].status_of(sid)
    )
    settings = demo_settings(runtime.settings, public_url=base, stand_in=stand_in.start())
    app = create_app(
        settings=settings,
        engine=runtime.engine,
        bus=runtime.bus,
        secret_key=resolve_secret_key(settings),
        redis_url=runtime.redis_url,
        run_worker=True,
        clock=runtime.clock,
    )
    # Callers' webhooks write at the same moments: on SQLite each transaction takes the write
    # lock as it begins, or one that read first fails at once with "database is locked".
    writes = writer(runtime.engine)
    app.state.sessions = lambda: Session(writes, expire_on_commit=False)
    acd = app.state.switchboard.acd
    for queue in QUEUES:
        acd.configure(acd.config(queue).model_copy(update={"wrap_up_seconds": plan.wrap_up}))
    assert settings.twilio.auth_token is not None
    holder["stream"] = CallStream(
        base=base,
        public_url=settings.public_url or base,
        auth_token=settings.twilio.auth_token.get_secret_value(),
        numbers=_numbers(runtime, random.Random(plan.seed)),
        plan=plan,
        out=out,
        clock=runtime.clock,
    )
    server = _DemoServer(uvicorn.Config(app, log_level="warning", **WEBSOCKETS))
    try:
        return asyncio.run(_serve_and_call(server, listener, holder["stream"], runtime, app, out))
    finally:
        stand_in.stop()


class _DemoServer(uvicorn.Server):
    """uvicorn, leaving Ctrl-C and SIGTERM to the demo, which ends its calls and logs its
    agents out while the service still runs, and only then stops the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve_and_call(
    server: uvicorn.Server,
    listener: Listener,
    stream: CallStream,
    runtime: Runtime,
    app: FastAPI,
    out: Console,
) -> Counter[str]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    serving = asyncio.create_task(server.serve(sockets=[listener.socket]))
    agents: list[_SimAgent] = []
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the service did not start")
            await asyncio.sleep(0.05)
        agents = await asyncio.to_thread(_sim_agents, runtime, stream.plan.agents)
        await _log_in(listener.base, agents)
        _banner(listener.base, stream.plan, out)
        calling = asyncio.create_task(stream.run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, calling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        calling.cancel()
        await stream.stop()
        done = await asyncio.to_thread(
            wind_down,
            app,
            provider_ids=stream.in_progress,
            agent_ids=[a.id for a in agents],
            clock=runtime.clock,
        )
        if stop.is_set():
            failed = f" ({done.failed} could not be: see the log)" if done.failed else ""
            left_in = f" ({done.left_in} could not be: see the log)" if done.left_in else ""
            out.print(
                f"stopped: {done.ended} calls in progress ended{failed}, "
                f"{done.logged_out} simulated agents logged out{left_in}"
            )
        with contextlib.suppress(asyncio.CancelledError):
            await calling  # a failure of the callers' loop itself is not hidden
        return stream.tally
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _banner(base: str, plan: CallPlan, out: Console) -> None:
    out.print(
        f"console: [bold]{base}/console[/bold]: sign in as demo-agent1 (press 就绪 / Available) "
        f"or demo-supervisor; API docs at {base}/docs",
        soft_wrap=True,
    )
    out.print(
        f"{plan.agents} simulated agents answer {' and '.join(QUEUES)}, about "
        f"{plan.per_minute * plan.speed:g} calls a minute; Ctrl-C ends the calls, logs the "
        "simulated agents out and stops",
        soft_wrap=True,
    )
