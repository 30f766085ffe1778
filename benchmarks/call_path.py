"""CPU of the call path's own work, in-process: what a call costs the service's code
without HTTP, the event loop or the thread pool.

Run from the repository root: ``.venv/bin/python -m benchmarks.call_path``. Needs
PostgreSQL (127.0.0.1:5432, database ``test``; a schema of its own, dropped at the end) and
Redis at 127.0.0.1:6379 (db 8 is flushed first and at the end; ``--redis-url`` names
another). Prints its figures and writes benchmarks/results/call_path.json.

benchmarks/screen_pop.py measures the whole service per call; this one splits off the part
that the telephony package's functions do, with the same data generator, the same flow
(straight to the agents' queue) and one agent logged in, so every call is offered:

- new call: ``calls.arrive`` then ``calls.begin``, in one session, as ``POST /twilio/voice``
  calls them: the caller looked up, the pop built and stored, the call logged, the
  ``call.ringing`` events published, the call queued and offered to the agent;
- hang-up: ``calls.provider_status`` with Twilio's ``completed``, as ``POST /twilio/status``:
  the call ended as abandoned, the agent freed.

Each step's CPU time is this process's (``time.process_time``): PostgreSQL's and Redis's
own work is not in it. The first calls warm the caches and are not counted. Nothing here
asserts timings: the figures are printed and stored.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks import lookup
from benchmarks.machine import machine, wait_for_quiet_machine
from benchmarks.screen_pop import DIRECT_FLOW
from callcenter.migrate import upgrade
from callcenter.settings import Settings
from callcenter.wiring import build_switchboard
from core.clock import system_clock
from core.db import ServiceSession, make_engine, writer
from ivr.flow import load_flows
from orders.enums import Role
from orders.models import User
from telephony import calls
from telephony.enums import CallChannel, CallState, ProviderStatus
from telephony.switchboard import Switchboard

RESULTS = Path(__file__).parent / "results" / "call_path.json"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_call_path"
REDIS_URL = "redis://127.0.0.1:6379/8"
HOTLINE = "+864008001234"
QUEUE = "hotline-zh-CN"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis db to use (flushed)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for idle cores")
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args()


def database(engine_url: str, schema: str = SCHEMA) -> Engine:
    """A migrated schema of the benchmark's own, made afresh: an engine that works in it."""
    drop_schema(engine_url, schema)
    probe = make_engine(engine_url)
    with probe.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    probe.dispose()
    url = f"{engine_url}?options=-csearch_path%3D{schema}"
    upgrade(url)
    return make_engine(url)


def drop_schema(engine_url: str, schema: str = SCHEMA) -> None:
    probe = make_engine(engine_url)
    with probe.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    probe.dispose()


def switchboard(client: redis.Redis, work: Path) -> Switchboard:
    flows = work / "flows"
    flows.mkdir()
    (flows / "hotline.yaml").write_text(DIRECT_FLOW)
    return build_switchboard(
        Settings(), client, flow=load_flows(flows)["hotline"], clock=system_clock
    )


def log_in_agent(sessions: Callable[[], Session], board: Switchboard) -> None:
    now = system_clock()
    with sessions() as session:
        agent = User(
            username="bench-agent",
            role=Role.AGENT,
            password_hash="not a password: this agent never signs in",
            created_at=now,
            updated_at=now,
        )
        session.add(agent)
        session.commit()
        assert agent.id is not None
        board.acd.presence.log_in(agent.id, queues=[QUEUE], skills=[])


def one_call(
    sessions: Callable[[], Session], board: Switchboard, caller: str
) -> tuple[float, float]:
    """CPU ms of the new call and of its hang-up."""
    sid = "CA" + uuid.uuid4().hex
    begun = time.process_time()
    with sessions() as session:
        call = calls.arrive(
            session,
            board,
            channel=CallChannel.TWILIO,
            provider_id=sid,
            from_number=caller,
            to_number=HOTLINE,
            answered=True,
            clock=system_clock,
        )
        calls.begin(session, board, call=call, clock=system_clock)
        if call.state is not CallState.OFFERED:
            raise SystemExit(f"the call was not offered to the agent ({call.state}): not the path")
    arrived = time.process_time()
    with sessions() as session:
        calls.provider_status(
            session,
            board,
            provider_id=sid,
            status=ProviderStatus.COMPLETED,
            sequence_number=None,
            clock=system_clock,
        )
    ended = time.process_time()
    return (arrived - begun) * 1000, (ended - arrived) * 1000


def cuts(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean": round(statistics.fmean(ordered), 3),
        "p50": round(ordered[len(ordered) // 2], 3),
        "p90": round(ordered[int(len(ordered) * 0.9)], 3),
    }


def code_version() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    args = parse_args()
    busy = None if args.no_wait else wait_for_quiet_machine()
    now = datetime.now(UTC)
    plan = lookup.make_plan(random.Random(args.seed), args.customers, args.orders, now)
    engine = database(POSTGRES_URL)
    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()
    try:
        lookup.generate(engine, plan, args.seed)
        numbers = lookup.caller_ids(plan, random.Random(args.seed + 1), 1_000)
        writes = writer(engine)

        def sessions() -> Session:
            return ServiceSession(writes, expire_on_commit=False)

        with tempfile.TemporaryDirectory(prefix="bench-call-path-") as work:
            board = switchboard(client, Path(work))
            log_in_agent(sessions, board)
            for index in range(args.warmup):
                one_call(sessions, board, numbers[index % len(numbers)])
            runs = [
                one_call(sessions, board, numbers[index % len(numbers)])
                for index in range(args.calls)
            ]
    finally:
        client.flushdb()
        client.close()
        engine.dispose()
        drop_schema(POSTGRES_URL)
    new_call, hang_up = [r[0] for r in runs], [r[1] for r in runs]
    figures: dict[str, Any] = {
        "new_call_cpu_ms": cuts(new_call),
        "hang_up_cpu_ms": cuts(hang_up),
        "call_cpu_ms_mean": round(statistics.fmean(new_call) + statistics.fmean(hang_up), 3),
    }
    print(json.dumps(figures))
    result = {
        "benchmark": "call_path",
        "date": now.isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code_version(),
        "libraries": {
            name: version(name) for name in ("sqlalchemy", "sqlmodel", "psycopg", "redis")
        },
        "before": {"cpu_busy_share": busy},
        "configuration": {
            "database": "postgresql",
            "customers": args.customers,
            "orders": args.orders,
            "calls": args.calls,
            "warmup_calls": args.warmup,
            "seed": args.seed,
            "ivr_flow": "straight to the queue hotline-zh-CN (screen_pop.DIRECT_FLOW)",
            "measured": "time.process_time of this process around calls.arrive + calls.begin "
            "(new call) and calls.provider_status completed (hang-up)",
        },
        "figures": figures,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.results}")


if __name__ == "__main__":
    main()
