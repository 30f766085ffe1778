"""The worker's checks of live calls against a call log of hotline size, on PostgreSQL.

Run from the repository root: ``.venv/bin/python -m benchmarks.live_calls``. It loads a
call log of 1,000,000 ended calls (a year of a mid-size hotline) and a few dozen live
ones, spread over the year before a fixed moment T, into a schema of its own (dropped
first and at the end) with one INSERT ... SELECT, then times the two reads the worker's
sweeps make every few seconds:

- ``live_call_ids``: the calls not ended, for the orphan check (every 3 s) and the agents'
  reconciliation;
- ``requeue_lost_calls``: the calls waiting in a queue that the ACD may have lost (every
  2 s, with the offer sweep), against a scratch Redis db that is flushed first and after.

Each is run ``--repeats`` times; the figures are wall milliseconds per run as this process
sees them (PostgreSQL's own work included). Prints them and writes
benchmarks/results/live_calls.json. Nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import text

from benchmarks.call_path import code_version, database, drop_schema
from benchmarks.machine import machine, wait_for_quiet_machine
from core.bus import EventBus
from core.db import ServiceSession, writer
from telephony.acd import Acd
from telephony.presence import Presence
from telephony.routing import requeue_lost_calls
from telephony.services import live_call_ids

RESULTS = Path(__file__).parent / "results" / "live_calls.json"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_live_calls"
REDIS_URL = "redis://127.0.0.1:6379/9"
T = datetime(2026, 6, 1, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ended", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=40, help="calls not ended, half waiting")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis db to use (flushed)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for idle cores")
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args()


LOAD = """
INSERT INTO call (id, channel, direction, provider_id, from_number, to_number, customer_ids,
    state, queue, disposition, ringing_at, queued_at, ended_at)
SELECT md5(n::text), 'twilio', 'inbound', 'CA' || md5(n::text), '+8613800000000',
    '+864008001234', '[]',
    CASE WHEN n > :ended THEN (CASE WHEN n % 2 = 0 THEN 'queued' ELSE 'bridged' END)
         ELSE 'ended' END,
    'hotline-zh-CN',
    CASE WHEN n > :ended THEN NULL ELSE 'completed' END,
    CASE WHEN n > :ended THEN :t - interval '1 minute'
         ELSE :t - (n::float8 * 31536000 / :ended) * interval '1 second' END,
    CASE WHEN n > :ended THEN :t - interval '1 minute' ELSE NULL END,
    CASE WHEN n > :ended THEN NULL
         ELSE :t - (n::float8 * 31536000 / :ended) * interval '1 second'
              + interval '3 minutes' END
FROM generate_series(1, :total) AS n
"""


def clock() -> datetime:
    """The fixed moment the log was loaded around."""
    return T


def _timed(runs: int, work: Any) -> dict[str, float]:
    took = []
    for _ in range(runs):
        begun = time.perf_counter()
        work()
        took.append((time.perf_counter() - begun) * 1000)
    took.sort()
    return {
        "mean_ms": round(statistics.fmean(took), 3),
        "p50_ms": round(took[len(took) // 2], 3),
        "max_ms": round(took[-1], 3),
    }


def main() -> None:
    args = parse_args()
    busy = None if args.no_wait else wait_for_quiet_machine()
    engine = database(POSTGRES_URL, SCHEMA)
    client = redis.Redis.from_url(args.redis_url)
    try:
        client.flushdb()
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(
                text(LOAD), {"ended": args.ended, "total": args.ended + args.live, "t": T}
            )
            connection.exec_driver_sql("ANALYZE call")
        loaded_s = time.perf_counter() - began
        writes = writer(engine)
        events = EventBus(client)
        acd = Acd(client, events, Presence(client, events, clock=clock), clock=clock)

        def live() -> None:
            with ServiceSession(writes) as session:
                assert len(live_call_ids(session)) == args.live

        def lost() -> None:
            with ServiceSession(writes) as session:
                requeue_lost_calls(session, acd=acd, clock=clock)

        figures = {
            "live_call_ids": _timed(args.repeats, live),
            "requeue_lost_calls": _timed(args.repeats, lost),
        }
    finally:
        client.flushdb()
        client.close()
        engine.dispose()
        drop_schema(POSTGRES_URL, SCHEMA)
    print(json.dumps(figures))
    result = {
        "benchmark": "live_calls",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code_version(),
        "before": {"cpu_busy_share": busy},
        "configuration": {
            "database": "postgresql",
            "ended_calls": args.ended,
            "live_calls": args.live,
            "repeats": args.repeats,
            "load_seconds": round(loaded_s, 1),
        },
        "figures": figures,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.results}")


if __name__ == "__main__":
    main()
