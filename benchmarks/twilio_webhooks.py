"""Twilio webhook throughput: signed /twilio/voice and Gather actions against a bare endpoint.

Run from the repository root: ``.venv/bin/python -m benchmarks.twilio_webhooks``. Needs
``wrk`` on the PATH (Debian: ``apt-get install wrk``), PostgreSQL at 127.0.0.1:5432
(database ``test``; the schema ``bench_twilio`` is created and dropped) and Redis at
127.0.0.1:6379 (db 5 is flushed). Prints its figures and writes
benchmarks/results/twilio_webhooks.json.

Measured with wrk over loopback, each server with 2 uvicorn workers, at each concurrency:

- voice: ``POST /twilio/voice``, every request a new call (unique CallSid), 90 % of them
  from customers on file so that the caller lookup finds a returning caller;
- gather: ``Digits=2`` posted to the Gather action of the calls made so far, cycling
  through them. A call alternates between the main menu (2 = order status: the flow asks
  for an order number) and the order-number prompt (2: order WO2 is looked up, not found,
  back to the menu); both are read-mostly steps;
- bare / bare-sync: the same request bodies posted to a FastAPI endpoint that returns a
  constant (``async def`` and plain ``def``, the latter paying the threadpool hop that
  the service's sync webhooks pay too).

Every request is signed before the timed window, so signing is not measured. Nothing here
asserts timings: the figures are printed and stored.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from sqlalchemy import create_engine
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from benchmarks.machine import (
    cpu_ticks,
    foreign_share,
    machine,
    wait_for_idle_cores,
    wait_for_quiet_machine,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "twilio_webhooks.json"
VENV_BIN = Path(sys.executable).parent

PUBLIC_URL = "https://hotline.example.com"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-twilio-auth-token"
HOTLINE = "+864008001234"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_twilio"
SERVICE_POSTGRES_URL = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{SCHEMA}"
REDIS_URL = "redis://127.0.0.1:6379/5"
WORKERS = 2
GOAL_RATIO = 0.4
GOAL_P99_MS = 50.0
FOREIGN_LIMIT = 0.10
ATTEMPTS = 3

# The built-in flow answers with the after-hours callback menu outside 08:00-20:00 Shanghai
# time; the benchmark runs the same flow open around the clock so that its figures do not
# depend on when it is run.
OPEN_ALL_DAY = ('open: "08:00"\n    close: "20:00"', 'open: "00:00"\n    close: "24:00"')

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"

bare_app = FastAPI()


@bare_app.post("/bare")
async def bare() -> PlainTextResponse:
    """The yardstick: the same server and framework, no work at all."""
    return PlainTextResponse("ok")


@bare_app.post("/bare-sync")
def bare_sync() -> PlainTextResponse:
    """As /bare, but run in the threadpool like the service's sync webhooks."""
    return PlainTextResponse("ok")


# wrk drives every run. Each thread reads its own file of pre-built requests (one per line:
# path, signature, form body) in init(), so nothing is built or signed while timing. In
# "once" mode a thread stops when its requests run out (the count bound) and says so; the
# runner then refuses the figures, since wrk would divide by the whole time window.
WRK_SCRIPT = r"""
threads = {}
exhausted = 0
local requests = {}
local index = 0
local mode = "once"

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode = args[2]
  for line in io.lines(args[1] .. "." .. id) do
    local path, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = signature,
    }, body)
  end
end

function request()
  index = index + 1
  if index > #requests then
    if mode == "cycle" then
      index = 1
    else
      exhausted = 1
      wrk.thread:stop()
      index = #requests
    end
  end
  return requests[index]
end

function done(summary, latency, requests)
  local ran_out = 0
  for _, thread in ipairs(threads) do
    ran_out = ran_out + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT duration_us=%d requests=%d connect=%d read=%d write=%d status=%d "
      .. "timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d exhausted=%d\n",
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    ran_out))
end
"""


@dataclass(frozen=True)
class Config:
    databases: tuple[str, ...]
    connections: tuple[int, ...]
    threads: int
    duration_s: int
    warmup_s: int
    customers: int
    known_share: float
    voice_requests: int


@dataclass(frozen=True)
class Request:
    path: str
    signature: str
    body: str


@dataclass
class Phase:
    name: str
    connections: int
    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    foreign_cpu_share: float = 0.0
    """Share of all cores other people's processes used during the phase."""
    attempts: int = 1


class RanOut(Exception):
    """A wrk thread used up its pre-built requests before the time bound."""


# ---------------------------------------------------------------- machine and neighbours


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit(
            "error: this benchmark needs wrk as its load generator "
            "(Debian/Ubuntu: apt-get install wrk); it was not found on the PATH"
        )
    version = subprocess.run([found, "--version"], capture_output=True, text=True)
    return (version.stdout or version.stderr).splitlines()[0].split(" Copyright")[0]


# ------------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """Every server this run starts, each in its own process group so its workers go too."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            if process.poll() is not None:
                break
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with suppress(subprocess.TimeoutExpired):
                process.wait(wait_s)
        # A worker may outlive the uvicorn supervisor; the whole group goes.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


@contextmanager
def server(
    processes: Processes, argv: list[str], env: dict[str, str], log: Path, probe: str
) -> Iterator[str]:
    """A server on a free loopback port for the length of the block; yields its base URL."""
    port = free_port()
    process = processes.start([*argv, "--host", "127.0.0.1", "--port", str(port)], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + probe, process, log)
        yield base
    finally:
        processes.stop(process)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within 60 s:\n{log.read_text()[-3000:]}")


def service_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        CALLCENTER_DATA_DIR=str(data_dir),
        CALLCENTER_DATABASE_URL=database_url,
        CALLCENTER_REDIS_URL=REDIS_URL,
        CALLCENTER_PUBLIC_URL=PUBLIC_URL,
        CALLCENTER_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        CALLCENTER_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        CALLCENTER_LOG_LEVEL="WARNING",
        CALLCENTER_IVR_FLOWS_DIR=str(data_dir / "flows"),
    )
    return env


def write_open_flow(data_dir: Path) -> None:
    from ivr.flow import BUILTIN_FLOWS

    source = (BUILTIN_FLOWS / "hotline.yaml").read_text()
    if OPEN_ALL_DAY[0] not in source:
        raise RuntimeError("the built-in flow's hours changed; update OPEN_ALL_DAY")
    (data_dir / "flows").mkdir(parents=True)
    (data_dir / "flows" / "hotline.yaml").write_text(source.replace(*OPEN_ALL_DAY))


# ----------------------------------------------------------------------- database


@contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str]:
    """A fresh, migrated database for the service; PostgreSQL's schema is dropped after."""
    if kind == "sqlite":
        url = f"sqlite:///{data_dir / 'callcenter.sqlite3'}"
    else:
        url = SERVICE_POSTGRES_URL
    with postgres_schema() if kind == "postgresql" else nullcontext():
        subprocess.run(
            [str(VENV_BIN / "callcenter"), "db", "upgrade"],
            env=service_env(data_dir, url),
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        yield url


@contextmanager
def postgres_schema() -> Iterator[None]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        yield
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.dispose()


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()


def seed(url: str, customers: int, rng: random.Random) -> list[str]:
    """Customers with a phone, an address and a fridge; every fourth with an open order.

    Returns their numbers. Written through the ORM in bulk: the domain services would also
    write an audit row per customer, which no webhook reads.
    """
    from core.db import make_engine

    engine = make_engine(url)
    phones = [f"+86138{n:08d}" for n in rng.sample(range(10**8), customers)]
    # Rows carry their times: the service's clock is the only source of time, and there
    # are no database defaults for them.
    now = datetime.now(UTC)
    with Session(engine) as session:
        ids = _customers(session, phones, rng, now)
        fridges = _belongings(session, ids, phones, now)
        _open_orders(session, ids[::4], fridges[::4], now)
        session.commit()
    engine.dispose()
    return phones


def _customers(session: Session, phones: list[str], rng: random.Random, now: datetime) -> list[int]:
    from orders.models import Customer

    people = [
        Customer(
            name=rng.choice(SURNAMES) + "建国",
            title=rng.choice(["先生", "女士"]),
            created_at=now,
            updated_at=now,
        )
        for _ in phones
    ]
    session.add_all(people)
    session.flush()
    return [person.id for person in people if person.id is not None]


def _belongings(session: Session, ids: list[int], phones: list[str], now: datetime) -> list[Any]:
    from orders.enums import ApplianceCategory
    from orders.models import Address, Appliance, CustomerPhone

    fridges = []
    for customer_id, phone in zip(ids, phones, strict=True):
        session.add(CustomerPhone(customer_id=customer_id, e164=phone, label="mobile"))
        session.add(
            Address(
                customer_id=customer_id,
                province="广东省",
                city="广州市",
                street="天河路 1 号",
                is_primary=True,
            )
        )
        fridges.append(
            Appliance(
                customer_id=customer_id,
                category=ApplianceCategory.REFRIGERATOR,
                brand="美的",
                purchase_date=date(2025, 6, 1),
                has_invoice=True,
                created_at=now,
                updated_at=now,
            )
        )
    session.add_all(fridges)
    session.flush()
    return fridges


def _open_orders(session: Session, ids: list[int], fridges: list[Any], now: datetime) -> None:
    from orders.enums import Channel, OrderStatus, OrderType, ServiceMode, WarrantyStatus
    from orders.models import WorkOrder

    for index, (customer_id, fridge) in enumerate(zip(ids, fridges, strict=True)):
        session.add(
            WorkOrder(
                number=f"WO20261122{index:08d}",
                customer_id=customer_id,
                appliance_id=fridge.id,
                order_type=OrderType.REPAIR,
                service_mode=ServiceMode.ON_SITE,
                channel=Channel.PHONE,
                warranty_status=WarrantyStatus.IN_WARRANTY,
                status=OrderStatus.NEW,
                fault_description="冰箱不制冷",
                created_at=now,
                updated_at=now,
            )
        )


def logged_calls(url: str) -> list[tuple[str, str, str]]:
    """(call id, CallSid, caller) of every call the service has logged."""
    from core.db import make_engine
    from telephony.models import Call

    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(Call.id, Call.provider_id, Call.from_number)).all()
    engine.dispose()
    return [(call_id, sid or "", caller) for call_id, sid, caller in rows]


# ----------------------------------------------------------------------- requests


def _signed(validator: RequestValidator, path: str, params: dict[str, str]) -> Request:
    signature = validator.compute_signature(PUBLIC_URL + path, params)
    return Request(path=path, signature=signature, body=urlencode(params))


def voice_requests(
    count: int, phones: list[str], known_share: float, rng: random.Random
) -> list[Request]:
    validator = RequestValidator(AUTH_TOKEN)
    out = []
    for _ in range(count):
        caller = rng.choice(phones) if rng.random() < known_share else _stranger(rng)
        params = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": ACCOUNT_SID,
            "From": caller,
            "To": HOTLINE,
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        out.append(_signed(validator, "/twilio/voice", params))
    return out


def _stranger(rng: random.Random) -> str:
    # 139… numbers are never seeded, so these callers are unknown.
    return f"+86139{rng.randrange(10**8):08d}"


def gather_requests(calls: list[tuple[str, str, str]], rng: random.Random) -> list[Request]:
    validator = RequestValidator(AUTH_TOKEN)
    out = []
    for call_id, sid, caller in calls:
        params = {
            "CallSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": caller,
            "To": HOTLINE,
            "Direction": "inbound",
            "CallStatus": "in-progress",
            "Digits": "2",
        }
        out.append(_signed(validator, f"/twilio/gather?call={call_id}", params))
    # One fixed order, cycled: a call's next step comes a whole pass after its last one,
    # never while that one is still in flight.
    rng.shuffle(out)
    return out


def write_request_files(prefix: Path, requests: list[Request], threads: int) -> None:
    """One file per wrk thread, dealt round-robin so each thread's requests are disjoint."""
    for thread in range(threads):
        lines = (f"{r.path}\t{r.signature}\t{r.body}\n" for r in requests[thread::threads])
        Path(f"{prefix}.{thread}").write_text("".join(lines))


# ---------------------------------------------------------------------------- wrk


@dataclass
class Load:
    """wrk with this run's settings, over request files in a scratch directory."""

    config: Config
    work: Path

    def files(self, name: str, requests: list[Request]) -> Path:
        prefix = self.work / name
        write_request_files(prefix, requests, self.config.threads)
        return prefix

    def warm(self, base: str, files: Path, mode: str, connections: int) -> None:
        self.wrk("warm-up", base, files, mode, self.config.warmup_s, connections)

    def measure(
        self, name: str, base: str, files: Callable[[], Path], mode: str, connections: int
    ) -> Phase:
        """One timed phase; run again (up to ATTEMPTS) if other people's work got in the way.

        ``files`` is called once per attempt, so that each voice attempt has fresh calls.
        """
        for attempt in range(1, ATTEMPTS + 1):
            before = cpu_ticks()
            got = self.wrk(name, base, files(), mode, self.config.duration_s, connections)
            share = foreign_share(before, cpu_ticks(), got["duration_us"] / 1e6)
            if share <= FOREIGN_LIMIT or attempt == ATTEMPTS:
                break
            print(f"{name} c={connections}: other processes took {share:.0%}; again", flush=True)
            wait_for_idle_cores(10 * 60)
        return _phase(name, connections, got, share, attempt)

    def wrk(
        self, name: str, base: str, files: Path, mode: str, seconds: int, connections: int
    ) -> dict[str, int]:
        script = self.work / "requests.lua"
        script.write_text(WRK_SCRIPT)
        argv = [
            "wrk",
            f"--threads={self.config.threads}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            "--timeout=10s",
            "--latency",
            f"--script={script}",
            base,
            "--",
            str(files),
            mode,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
        match = re.search(r"^WRK_RESULT (.*)$", done.stdout, re.MULTILINE)
        if done.returncode != 0 or match is None:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        got = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
        if got["exhausted"]:
            raise RanOut(f"{name}: pre-built requests ran out; raise --voice-requests")
        return got


def _phase(
    name: str, connections: int, got: dict[str, int], foreign: float, attempts: int
) -> Phase:
    seconds = got["duration_us"] / 1e6
    return Phase(
        name=name,
        connections=connections,
        requests=got["requests"],
        duration_s=round(seconds, 2),
        requests_per_s=round(got["requests"] / seconds, 1),
        p50_ms=got["p50_us"] / 1000,
        p90_ms=got["p90_us"] / 1000,
        p99_ms=got["p99_us"] / 1000,
        max_ms=got["max_us"] / 1000,
        errors={k: got[k] for k in ("connect", "read", "write", "status", "timeout") if got[k]},
        foreign_cpu_share=foreign,
        attempts=attempts,
    )


# ------------------------------------------------------------------------ phases


@dataclass
class Bench:
    config: Config
    work: Path
    processes: Processes
    rng: random.Random = field(default_factory=lambda: random.Random(2026))

    @property
    def load(self) -> Load:
        return Load(self.config, self.work)

    def service(self, kind: str) -> list[Phase]:
        """A fresh database and Redis, customers, then voice and gather at each concurrency."""
        data_dir = self.work / f"data-{kind}"
        write_open_flow(data_dir)
        flush_redis()
        with database(kind, data_dir) as url:
            phones = seed(url, self.config.customers, self.rng)
            argv = [str(VENV_BIN / "callcenter"), "serve", "--workers", str(WORKERS)]
            env = service_env(data_dir, url)
            log = self.work / f"service-{kind}.log"
            with server(self.processes, argv, env, log, "/healthz") as base:
                phases = []
                for connections in self.config.connections:
                    phases += self._service_round(base, url, phones, connections)
        if any(phase.errors for phase in phases):
            # wrk counts failures but does not say what they were; the service log does.
            print(f"service log ({kind}), last lines:\n{log.read_text()[-4000:]}", file=sys.stderr)
        return phases

    def _service_round(
        self, base: str, url: str, phones: list[str], connections: int
    ) -> list[Phase]:
        cfg, load = self.config, self.load

        def new_calls(name: str, count: int) -> Path:
            return load.files(name, voice_requests(count, phones, cfg.known_share, self.rng))

        # The warm-up's calls also give the gather phase calls to answer.
        load.warm(base, new_calls("warm", cfg.voice_requests // 4), "once", connections)
        voice = load.measure(
            "voice", base, lambda: new_calls("voice", cfg.voice_requests), "once", connections
        )
        files = load.files("gather", gather_requests(logged_calls(url), self.rng))
        gather = load.measure("gather", base, lambda: files, "cycle", connections)
        return [voice, gather]

    def bare(self) -> list[Phase]:
        """The voice bodies posted to constant endpoints; cycled, since they are ignored."""
        argv = [
            str(VENV_BIN / "uvicorn"),
            "benchmarks.twilio_webhooks:bare_app",
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        cfg, load = self.config, self.load
        bodies = voice_requests(cfg.voice_requests // 4, [HOTLINE], 0.0, self.rng)
        files = {
            path: load.files(path.strip("/"), [Request(path, r.signature, r.body) for r in bodies])
            for path in ("/bare", "/bare-sync")
        }
        phases = []
        log = self.work / "bare.log"
        with server(self.processes, argv, dict(os.environ), log, "/openapi.json") as base:
            for connections in cfg.connections:
                load.warm(base, files["/bare"], "cycle", connections)
                for path, prefix in files.items():
                    name = path.strip("/")
                    phases.append(
                        load.measure(name, base, lambda p=prefix: p, "cycle", connections)
                    )
        return phases


# ------------------------------------------------------------------------ report


def summarize(service: list[Phase], bare: list[Phase]) -> list[dict[str, object]]:
    """Per concurrency: each webhook against the bare endpoint, and whether the goal holds."""
    rows = []
    for connections in sorted({phase.connections for phase in service}, reverse=True):
        by_name = {p.name: p for p in [*service, *bare] if p.connections == connections}
        voice, gather, yardstick = by_name["voice"], by_name["gather"], by_name["bare"]
        # A call's first two webhooks, one of each, on the same workers.
        mix = 2 / (1 / voice.requests_per_s + 1 / gather.requests_per_s)
        row: dict[str, object] = {"connections": connections}
        for phase in (voice, gather):
            ratio = phase.requests_per_s / yardstick.requests_per_s
            row[f"{phase.name}_ratio_to_bare"] = round(ratio, 4)
            row[f"{phase.name}_ratio_to_bare_sync"] = round(
                phase.requests_per_s / by_name["bare-sync"].requests_per_s, 4
            )
            row[f"{phase.name}_goal_met"] = ratio >= GOAL_RATIO and phase.p99_ms < GOAL_P99_MS
            if phase.errors.get("status"):
                # Failed requests are quick: such a rate flatters the service.
                row[f"{phase.name}_non_2xx_share"] = round(
                    phase.errors["status"] / max(phase.requests, 1), 4
                )
        row["voice_plus_gather_requests_per_s"] = round(mix, 1)
        row["voice_plus_gather_ratio_to_bare"] = round(mix / yardstick.requests_per_s, 4)
        rows.append(row)
    return rows


def print_figures(runs: dict[str, list[Phase]], bare: list[Phase]) -> None:
    yardsticks = {p.connections: p for p in bare if p.name == "bare"}
    print(f"{'':>22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'of bare':>8} {'others':>7}")
    for label, phases in [*((f"service {k}", v) for k, v in runs.items()), ("bare", bare)]:
        for phase in phases:
            ratio = phase.requests_per_s / yardsticks[phase.connections].requests_per_s
            errors = f"  errors {phase.errors}" if phase.errors else ""
            title = f"{label.split()[-1]} {phase.name} c={phase.connections}"
            print(
                f"{title:>22} {phase.requests_per_s:>9.1f} {phase.p50_ms:>8.2f} "
                f"{phase.p99_ms:>8.2f} {ratio:>8.1%} {phase.foreign_cpu_share:>7.1%}{errors}"
            )


def report(
    config: Config, context: dict[str, object], runs: dict[str, list[Phase]], bare: list[Phase]
) -> None:
    print_figures(runs, bare)
    summary = {kind: summarize(phases, bare) for kind, phases in runs.items()}
    print(json.dumps(summary, indent=2))
    result = {
        "benchmark": "twilio_webhooks",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **context,
        "configuration": {
            **asdict(config),
            "uvicorn_workers": WORKERS,
            "redis": REDIS_URL,
            "postgresql": SERVICE_POSTGRES_URL,
            "ivr_flow": "built-in hotline, business hours widened to 00:00-24:00",
            "goal": {"min_ratio_to_bare": GOAL_RATIO, "max_p99_ms": GOAL_P99_MS},
        },
        "service": {kind: [asdict(p) for p in phases] for kind, phases in runs.items()},
        "bare": [asdict(p) for p in bare],
        "summary": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


def parse_args() -> Config:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--database",
        action="append",
        choices=["postgresql", "sqlite"],
        help="service database; repeat for both (default: postgresql)",
    )
    parser.add_argument(
        "--connections",
        default="8,2",
        # More new calls at once than a worker admits (http.max_new_calls_in_flight, 8)
        # are refused at once with 503: wrk would count those quick refusals as throughput.
        help="wrk connections, comma-separated (default 8,2)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--duration", type=int, default=15, help="seconds per timed phase")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per round")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument(
        "--voice-requests", type=int, default=20_000, help="pre-built new calls per voice phase"
    )
    args = parser.parse_args()
    return Config(
        databases=tuple(args.database or ["postgresql"]),
        connections=tuple(int(c) for c in args.connections.split(",")),
        threads=args.threads,
        duration_s=args.duration,
        warmup_s=args.warmup,
        customers=args.customers,
        known_share=0.9,
        voice_requests=args.voice_requests,
    )


def main() -> None:
    config = parse_args()
    wrk_version = require_wrk()
    busy = wait_for_quiet_machine()
    # SIGTERM would otherwise skip the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    context: dict[str, object] = {
        "load_generator": {"tool": wrk_version, "target": "127.0.0.1 (loopback)"},
        "before": {"load_average": os.getloadavg(), "cpu_busy_share": busy},
    }
    processes = Processes()
    with tempfile.TemporaryDirectory(prefix="bench-twilio-") as work:
        bench = Bench(config=config, work=Path(work), processes=processes)
        try:
            runs = {kind: bench.service(kind) for kind in config.databases}
            bare = bench.bare()
        finally:
            processes.stop_all()
    report(config, context, runs, bare)


if __name__ == "__main__":
    main()
