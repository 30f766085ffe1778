"""The floor under ``POST /twilio/voice``: the least work a new call's webhook can do here.

Run from the repository root: ``.venv/bin/python -m benchmarks.voice_floor``. Needs what
benchmarks/twilio_webhooks.py needs (wrk, PostgreSQL, Redis) and uses its data, requests and
load generator. Prints its figures and writes benchmarks/results/voice_floor.json.

Issue 10 asks ``/twilio/voice`` to serve a tenth of what a bare FastAPI route serves in the
same run. This asks how near any implementation on this stack and machine can come: the
same signed requests, wrk and 2 uvicorn workers against

- floor: a FastAPI ``async def`` route that does only what a new call cannot do without:
  it reads the form, checks Twilio's signature (twilio's RequestValidator), normalises the
  caller ID, looks the caller up with the service's own statement (the pop's cards,
  compiled once for PostgreSQL), inserts the call row with that record and commits
  (psycopg's async connections, one per concurrent request, no ORM, no pydantic), appends
  ``call.ringing`` to the event stream, and answers with a fixed TwiML greeting. It skips
  all the service adds: the console's pop (earlier calls, fee card, SLA deadlines), the
  IVR's state, middleware, metrics, TwiML built per call;
- bare: the route of twilio_webhooks.py that returns a constant.

Nothing here asserts timings: the figures are printed and stored.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.dialects import postgresql
from twilio.request_validator import RequestValidator

from benchmarks import twilio_webhooks as tw
from benchmarks.machine import machine, wait_for_quiet_machine
from core.bus import STREAM_MAXLEN
from core.keys import EVENTS_STREAM
from orders.phones import try_normalize_phone
from orders.services.lookup import _CARDS

RESULTS = Path(__file__).parent / "results" / "voice_floor.json"
CONNECTIONS_PER_WORKER = 4
"""Database connections each worker holds: wrk's 8 connections over 2 workers."""
PG_DSN = "host=127.0.0.1 user=postgres dbname=test options=-csearch_path=" + tw.SCHEMA

_COMPILED = _CARDS.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
CARDS_SQL = str(_COMPILED)
"""The service's caller lookup, as PostgreSQL receives it (one statement, every card)..."""
CARDS_PARAMS = dict(_COMPILED.params)
"""...with the values bound in it (limits, states); the caller's number is added per call."""
INSERT_SQL = (
    "INSERT INTO call (id, channel, direction, provider_id, from_number, from_e164,"
    " to_number, customer_ids, pop, state, ringing_at, answered_at)"
    " VALUES (%s, 'twilio', 'inbound', %s, %s, %s, %s, %s, %s, 'in_ivr', %s, %s)"
)
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1"'
    ' action="/twilio/gather" timeout="5"><Say language="zh-CN">您好，欢迎致电售后服务热线。'
    "</Say></Gather></Response>"
)
VALIDATOR = RequestValidator(tw.AUTH_TOKEN)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(CONNECTIONS_PER_WORKER):
        pool.put_nowait(await psycopg.AsyncConnection.connect(PG_DSN))
    app.state.pool = pool
    app.state.bus = aioredis.Redis.from_url(tw.REDIS_URL)
    try:
        yield
    finally:
        while not pool.empty():
            await pool.get_nowait().close()
        await app.state.bus.aclose()


floor_app = FastAPI(lifespan=_lifespan)


@floor_app.post("/twilio/voice")
async def voice(request: Request) -> Response:
    params = {key: str(value) for key, value in (await request.form()).items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    if not VALIDATOR.validate(tw.PUBLIC_URL + "/twilio/voice", params, signature):
        return Response(status_code=403)
    caller = params.get("From", "")
    e164 = try_normalize_phone(caller, default_region="CN")
    now = datetime.now(UTC)
    call_id = uuid.uuid4().hex
    pool = request.app.state.pool
    connection = await pool.get()
    try:
        async with connection.transaction():
            rows = []
            if e164 is not None:
                cursor = await connection.execute(CARDS_SQL, {**CARDS_PARAMS, "e164": e164})
                rows = await cursor.fetchall()
            customers = [row[0] for row in rows]
            pop = json.dumps({"phone": e164 or caller, "cards": rows}, default=str)
            await connection.execute(
                INSERT_SQL,
                (
                    call_id,
                    params["CallSid"],
                    caller,
                    e164,
                    params.get("To", ""),
                    json.dumps(customers),
                    pop,
                    now,
                    now,
                ),
            )
    finally:
        pool.put_nowait(connection)
    event = {"call_id": call_id, "from_number": caller, "at": now.isoformat(), "pop": pop}
    await request.app.state.bus.xadd(
        EVENTS_STREAM,
        {"name": "call.ringing", "data": json.dumps(event)},
        maxlen=STREAM_MAXLEN,
        approximate=True,
    )
    return Response(TWIML, media_type="application/xml")


def floor_phases(bench: tw.Bench) -> list[tw.Phase]:
    """A fresh database with the customers of twilio_webhooks.py, then voice at each
    concurrency against the floor."""
    config, load = bench.config, bench.load
    data_dir = bench.work / "data"
    tw.flush_redis()
    with tw.database("postgresql", data_dir):
        phones = tw.seed(tw.SERVICE_POSTGRES_URL, config.customers, bench.rng)

        def new_calls(name: str, count: int) -> Path:
            return load.files(name, tw.voice_requests(count, phones, config.known_share, bench.rng))

        argv = [
            str(tw.VENV_BIN / "uvicorn"),
            "benchmarks.voice_floor:floor_app",
            "--workers",
            str(tw.WORKERS),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        log = bench.work / "floor.log"
        phases = []
        with tw.server(bench.processes, argv, dict(os.environ), log, "/openapi.json") as base:
            for connections in config.connections:
                load.warm(base, new_calls("warm", config.voice_requests // 4), "once", connections)
                phases.append(
                    load.measure(
                        "floor",
                        base,
                        lambda: new_calls("floor", config.voice_requests),
                        "once",
                        connections,
                    )
                )
    if any(phase.errors for phase in phases):
        print(f"floor log, last lines:\n{log.read_text()[-4000:]}", file=sys.stderr)
    return phases


def parse_args() -> tw.Config:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", default="8,2", help="wrk connections (default 8,2)")
    parser.add_argument("--duration", type=int, default=15, help="seconds per timed phase")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per round")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--voice-requests", type=int, default=60_000)
    args = parser.parse_args()
    return tw.Config(
        databases=("postgresql",),
        connections=tuple(int(c) for c in args.connections.split(",")),
        threads=1,
        duration_s=args.duration,
        warmup_s=args.warmup,
        customers=args.customers,
        known_share=0.9,
        voice_requests=args.voice_requests,
    )


def main() -> None:
    config = parse_args()
    wrk_version = tw.require_wrk()
    busy = wait_for_quiet_machine()
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    processes = tw.Processes()
    with tempfile.TemporaryDirectory(prefix="bench-voice-floor-") as work:
        bench = tw.Bench(config=config, work=Path(work), processes=processes)
        try:
            floor = floor_phases(bench)
            bare = bench.bare()
        finally:
            processes.stop_all()
    rows = []
    for phase in floor:
        yardsticks = {p.name: p for p in bare if p.connections == phase.connections}
        row = {
            "connections": phase.connections,
            "floor_requests_per_s": phase.requests_per_s,
            "floor_p99_ms": phase.p99_ms,
            "bare_requests_per_s": yardsticks["bare"].requests_per_s,
            "floor_ratio_to_bare": round(
                phase.requests_per_s / yardsticks["bare"].requests_per_s, 4
            ),
            "floor_ratio_to_bare_sync": round(
                phase.requests_per_s / yardsticks["bare-sync"].requests_per_s, 4
            ),
            "errors": phase.errors,
        }
        rows.append(row)
        print(json.dumps(row))
    result = {
        "benchmark": "voice_floor",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_generator": {"tool": wrk_version, "target": "127.0.0.1 (loopback)"},
        "before": {"load_average": os.getloadavg(), "cpu_busy_share": busy},
        "configuration": {**asdict(config), "uvicorn_workers": tw.WORKERS},
        "floor": [asdict(p) for p in floor],
        "bare": [asdict(p) for p in bare],
        "summary": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {RESULTS.relative_to(tw.ROOT)}")


if __name__ == "__main__":
    main()
