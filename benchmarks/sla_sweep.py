"""The SLA sweep at hotline scale: 1,000,000 open orders on PostgreSQL.

Run from the repository root: ``.venv/bin/python -m benchmarks.sla_sweep``. It loads
1,000,000 open work orders with two running milestones each (on site and the 5-day repair)
into a schema of its own (dropped first and at the end) with COPY, their warning and due
moments spread over the five days after a fixed moment T, then times:

- incremental sweeps every 15 s of the tests' time after T, as the worker runs them: each
  touches only the milestones whose moment came in those 15 s;
- a sweep after the worker was down for an hour: the whole table is looked at, the
  milestones whose moment came in that hour are marked;
- a full sweep at T + 6 days, when every milestone of every order is overdue: the worst
  catch-up there is (after a long outage), each breach marked and announced.

Events go to a scratch Redis stream that is deleted at the end. Prints its figures and
writes benchmarks/results/sla_sweep.json. Nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import text

from benchmarks.machine import machine
from callcenter.migrate import upgrade
from core.bus import EventBus, bind_events
from core.db import ServiceSession, make_engine, writer
from orders.sla import sweep

RESULTS = Path(__file__).parent / "results" / "sla_sweep.json"
T = datetime(2026, 6, 1, tzinfo=UTC)
SPREAD = timedelta(days=5)


def _copy(url: str, orders: int, seed: int) -> None:
    import psycopg

    rng = random.Random(seed)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=False) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "INSERT INTO station (code, name, phone, time_zone, working_hours, is_active,"
            " created_at) VALUES ('B1', 'bench', '', 'Asia/Shanghai', '{}', true, %s)",
            (T,),
        )
        cursor.execute(
            "INSERT INTO customer (name, title, preferred_language, grade, notes, created_at,"
            " updated_at) VALUES ('bench', '', 'zh-CN', 'individual', '', %s, %s)",
            (T, T),
        )
        with cursor.copy(
            "COPY work_order (id, number, customer_id, station_id, order_type, service_mode,"
            " urgency, channel, fault_description, warranty_status, status, station_reported,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(1, orders + 1):
                copy.write_row(
                    (
                        i,
                        f"WO{i:09d}",
                        1,
                        1,
                        "repair",
                        "on_site",
                        "normal",
                        "phone",
                        "",
                        "in_warranty",
                        "assigned",
                        False,
                        T,
                        T,
                    )
                )
        with cursor.copy(
            "COPY sla_milestone (order_id, kind, basis, pauses_in, started_at, due_at,"
            " warn_at, paused_seconds, state, next_check_at) FROM STDIN"
        ) as copy:
            for i in range(1, orders + 1):
                for kind in ("on_site", "repair"):
                    warn = T + SPREAD * rng.random()
                    due = warn + timedelta(hours=6)
                    copy.write_row(
                        (
                            i,
                            kind,
                            "wall_clock",
                            "[]",
                            T - timedelta(days=1),
                            due,
                            warn,
                            0,
                            "pending",
                            warn,
                        )
                    )
        cursor.execute("SELECT setval('work_order_id_seq', %s)", (orders,))
        connection.commit()
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--incremental", type=int, default=20)
    args = parser.parse_args()

    schema = "bench_sla_sweep"
    admin = make_engine(args.postgres)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    upgrade(url)
    started = time.perf_counter()
    _copy(url, args.orders, seed=7)
    load_s = time.perf_counter() - started
    print(f"loaded {args.orders:,} orders, {2 * args.orders:,} milestones in {load_s:.0f} s")

    engine = writer(make_engine(url))
    client = redis.Redis.from_url(args.redis)
    stream = f"bench:sla:{uuid.uuid4().hex}"
    events = EventBus(client, stream=stream)

    def run(now: datetime) -> tuple[float, int]:
        with ServiceSession(engine, expire_on_commit=False) as session:
            bind_events(session, events)
            begin = time.perf_counter()
            result = sweep(session, now=now)
            return time.perf_counter() - begin, result.warned + result.breached

    incremental = []
    for step in range(1, args.incremental + 1):
        seconds, touched = run(T + timedelta(seconds=15 * step))
        incremental.append({"seconds": round(seconds, 4), "touched": touched})
        print(f"incremental sweep {step:2d}: {touched:4d} milestones in {seconds * 1000:.1f} ms")
    last = T + timedelta(seconds=15 * args.incremental)
    outage_s, outage_touched = run(last + timedelta(hours=1))
    print(f"after an hour's outage: {outage_touched:,} milestones in {outage_s:.2f} s")
    full_s, full_touched = run(T + timedelta(days=6))
    print(f"full sweep: {full_touched:,} milestones of {args.orders:,} orders in {full_s:.1f} s")
    published = int(client.xlen(stream))
    client.delete(stream)
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()

    times = [s["seconds"] for s in incremental]
    figures = {
        "benchmark": "sla_sweep",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "database": "postgresql",
        "orders": args.orders,
        "milestones": 2 * args.orders,
        "load_seconds": round(load_s, 1),
        "incremental": {
            "sweeps": len(incremental),
            "interval_seconds": 15,
            "touched_mean": statistics.fmean(s["touched"] for s in incremental),
            "seconds_median": statistics.median(times),
            "seconds_max": max(times),
            "each": incremental,
        },
        "after_outage_1h": {"seconds": round(outage_s, 2), "touched": outage_touched},
        "full": {"seconds": round(full_s, 2), "touched": full_touched},
        "events_published": published,
        "goal": "full sweep under 10 s; incremental sweeps touch only what fell due",
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
