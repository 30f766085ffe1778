"""`callcenter demo --calls`: the service, serving, with simulated callers ringing in.

Callers come in through the real call path: signed Twilio webhooks posted over HTTP to the
service (``/twilio/voice``, the IVR's Gather actions, status callbacks). Twilio itself is the
one thing simulated: a local stand-in where api.twilio.com would be receives the requests
that ring agents and answers them as an agent's softphone would, so an offered call is
bridged, talked through and hung up, and the agent goes through wrap-up. A newcomer who
opens /console sees pops arrive and the wall move. Nothing here runs outside the demo.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from pydantic import SecretStr
from rich.console import Console
from sqlmodel import Session, func, select
from twilio.request_validator import RequestValidator

from callcenter.app import create_app
from callcenter.runtime import Runtime
from callcenter.secret_key import resolve_secret_key
from callcenter.settings import Settings
from core.db import writer
from core.types import Clock
from ivr.flow import BUILTIN_FLOWS
from orders.enums import Role
from orders.exceptions import DuplicateUsername
from orders.models import CustomerPhone, User
from orders.schemas import SYSTEM, UserCreate, UserUpdate
from orders.services import users

DEMO_ACCOUNT_SID = "AC" + "d" * 32
HOTLINE = "+864008008000"
QUEUES = ("hotline-zh-CN", "hotline-en")
SIM_AGENT = "demo-sim-agent{n}"
_HOURS = ('open: "08:00"\n    close: "20:00"', 'open: "00:00"\n    close: "24:00"')


@dataclass(frozen=True)
class CallPlan:
    count: int = 0
    """Calls to place; 0 keeps calling until interrupted."""
    per_minute: float = 12.0
    agents: int = 2
    """Simulated agents logged in besides any human at the console."""
    ring_seconds: float = 3.0
    """How long an agent's softphone rings before it is picked up."""
    talk_seconds: float = 40.0
    patience_seconds: float = 60.0
    """How long a waiting caller holds before hanging up."""
    wrap_up_seconds: int = 10
    known_share: float = 0.8
    agent_share: float = 0.8
    """Callers who ask for an agent; the others hear an order status or hang up in the IVR."""
    seed: int = 2026


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


# Twilio's REST API, as far as ringing agents goes


class TwilioStandIn:
    """Stands where api.twilio.com stands: takes "create call" requests for agents' legs."""

    def __init__(self, on_ring: Callable[[dict[str, str]], None]) -> None:
        self.on_ring = on_ring
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                sid = "CA" + uuid.uuid4().hex
                stand_in.on_ring({**form, "Sid": sid})
                reply = json.dumps({"sid": sid, "status": "queued", "to": form.get("To")})
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply.encode())

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
        numbers: list[str],
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
        self.rng = random.Random(plan.seed)
        self.lines: dict[str, _Line] = {}
        self.tally: Counter[str] = Counter()
        self.http = httpx.AsyncClient(base_url=base, timeout=30)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> Counter[str]:
        self.loop = asyncio.get_running_loop()
        placed = 0
        try:
            while not self.plan.count or placed < self.plan.count:
                placed += 1
                self._spawn(self._call(placed))
                await asyncio.sleep(self.rng.expovariate(self.plan.per_minute / 60))
            while self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
        finally:
            await self.http.aclose()
        return self.tally

    def ring(self, form: dict[str, str]) -> None:
        """From the stand-in's thread: an agent's leg was requested."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(lambda: self._spawn(self._softphone(form)))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, url: str, params: dict[str, str]) -> httpx.Response:
        path = urlsplit(url)._replace(scheme="", netloc="").geturl()
        signature = self.validator.compute_signature(self.public_url + path, params)
        return await self.http.post(path, data=params, headers={"X-Twilio-Signature": signature})

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

    async def _call(self, index: int) -> None:
        known = self.numbers and self.rng.random() < self.plan.known_share
        caller = (
            self.rng.choice(self.numbers) if known else f"+86137{self.rng.randrange(10**8):08d}"
        )
        line = _Line(sid="CA" + uuid.uuid4().hex, caller=caller)
        try:
            twiml = await self._answered(
                await self._post("/twilio/voice", self._params(line, "ringing"))
            )
            call_id = _call_id(twiml)
            self.lines[call_id] = line
            self._say(index, caller, "rings in")
            await asyncio.sleep(self.rng.uniform(2, 5))  # listening to the greeting
            rest = (1 - self.plan.agent_share) / 2
            choice = self.rng.choices(("0", "2", "hang-up"), (self.plan.agent_share, rest, rest))[0]
            if choice == "hang-up":
                await self._hang_up(line, index, "hangs up in the IVR")
                return
            twiml = await self._press(line, twiml, choice)
            if choice == "2":
                await self._press(line, twiml, "#")
                await asyncio.sleep(self.rng.uniform(3, 6))
                await self._hang_up(line, index, "heard the order status, hangs up")
                return
            await self._wait_for_agent(line, index)
        except (httpx.HTTPError, ValueError) as exc:
            self.tally["failed"] += 1
            self._say(index, caller, f"failed: {exc}", style="red")

    async def _wait_for_agent(self, line: _Line, index: int) -> None:
        patience = self.rng.uniform(0.5, 1.5) * self.plan.patience_seconds
        try:
            await asyncio.wait_for(line.answered.wait(), patience)
        except TimeoutError:
            await self._hang_up(line, index, f"gives up after {patience:.0f} s in the queue")
            self.tally["abandoned"] += 1
            return
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.plan.talk_seconds)
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
        self.tally["calls"] += 1
        self._say(index, line.caller, what)

    async def _answered(self, response: httpx.Response) -> ET.Element:
        response.raise_for_status()
        return ET.fromstring(response.text)

    async def _softphone(self, form: dict[str, str]) -> None:
        """An agent's softphone rings, and is picked up (unless the caller left first)."""
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.plan.ring_seconds)
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


def _numbers(runtime: Runtime, rng: random.Random, limit: int = 500) -> list[str]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(CustomerPhone.e164).order_by(func.random()).limit(limit)).all()
    numbers = list(rows)
    rng.shuffle(numbers)
    return numbers


def _sim_agents(runtime: Runtime, count: int) -> list[tuple[str, str]]:
    """Simulated agents' accounts, with passwords of this run."""
    accounts = []
    with Session(writer(runtime.engine), expire_on_commit=False) as session:
        for n in range(1, count + 1):
            username, password = SIM_AGENT.format(n=n), secrets.token_urlsafe(12)
            data = UserCreate(username=username, role=Role.AGENT, password=password)
            try:
                users.create_user(session, data=data, actor=SYSTEM, clock=runtime.clock)
            except DuplicateUsername:  # from an earlier run: a new password for this one
                existing = session.exec(select(User).where(User.username == username)).one()
                assert existing.id is not None
                users.update_user(
                    session,
                    user_id=existing.id,
                    data=UserUpdate(password=password),
                    actor=SYSTEM,
                    clock=runtime.clock,
                )
            accounts.append((username, password))
    return accounts


async def _log_in(base: str, accounts: list[tuple[str, str]]) -> list[str]:
    tokens = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for username, password in accounts:
            got = await http.post(
                "/api/auth/token", data={"username": username, "password": password}
            )
            got.raise_for_status()
            token = got.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            login = await http.put(
                "/api/agents/me/login", json={"queues": list(QUEUES)}, headers=headers
            )
            login.raise_for_status()
            tokens.append(token)
    return tokens


async def _log_out(base: str, tokens: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"}
            await http.put("/api/agents/me/state", json={"state": "logged_out"}, headers=headers)


def run_demo_calls(
    runtime: Runtime, *, plan: CallPlan, host: str, port: int, out: Console
) -> Counter[str]:
    """Serve the demo data and stream calls into it until done (or interrupted)."""
    for noisy in ("httpx", "twilio.http_client", "arq.worker", "arq.jobs"):
        # One line per request or job would drown the calls' story.
        logging.getLogger(noisy).setLevel(logging.WARNING)
    base = f"http://{host}:{port}"
    holder: dict[str, CallStream] = {}
    stand_in = TwilioStandIn(lambda form: holder["stream"].ring(form))
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
        acd.configure(
            acd.config(queue).model_copy(update={"wrap_up_seconds": plan.wrap_up_seconds})
        )
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
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    try:
        return asyncio.run(_serve_and_call(server, base, holder["stream"], plan, runtime, out))
    finally:
        stand_in.stop()


async def _serve_and_call(
    server: uvicorn.Server,
    base: str,
    stream: CallStream,
    plan: CallPlan,
    runtime: Runtime,
    out: Console,
) -> Counter[str]:
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the service did not start")
        await asyncio.sleep(0.05)
    tokens = await _log_in(base, await asyncio.to_thread(_sim_agents, runtime, plan.agents))
    out.print(
        f"console: [bold]{base}/console[/bold] (log in as a demo user printed by `callcenter demo`)"
    )
    out.print(f"{plan.agents} simulated agents answer in queues {', '.join(QUEUES)}; Ctrl-C stops")
    calling = asyncio.create_task(stream.run())
    done, _ = await asyncio.wait({serving, calling}, return_when=asyncio.FIRST_COMPLETED)
    if calling in done:
        await _log_out(base, tokens)
        server.should_exit = True
        await serving
        return calling.result()
    calling.cancel()  # the server was stopped (Ctrl-C)
    return stream.tally
