"""The stock ledger at scale, on PostgreSQL.

Run from the repository root: ``.venv/bin/python -m benchmarks.stock_ledger``. In a schema
of its own (dropped first and at the end):

1. Material lines per second: 200 stations, each with its parts store holding 50 parts
   and 20 open in-warranty orders; 16 writer threads (as the app's thread pool would run
   them, each with its own session) add lines of one or two units of a random part to a
   random order of a random station through the service that the route calls (the stock
   taken, the ledger row written, the line saved, committed). Then the same on one hot
   store and part: every writer on the same stock row.
2. The monthly settlement of every station over 1,000,000 ledger rows: the ledger is
   loaded with COPY (issues, quantity changes both ways, removals, scraps and receipts
   over one month, spread over the 200 stations), with 10 audited completion slips per
   station, and ``settlement_report`` for that month is timed.

Prints its figures and writes benchmarks/results/stock_ledger.json. Asserts no timing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from benchmarks.machine import machine
from billing.services.statements import settlement_report
from callcenter.migrate import upgrade
from core.db import ServiceSession, make_engine, writer
from orders import Actor, Role
from parts.enums import IssueType
from parts.exceptions import OutOfStock
from parts.ledger import discrepancies
from parts.schemas import MaterialIn
from parts.services.materials import add_line

RESULTS = Path(__file__).parent / "results" / "stock_ledger.json"
T = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the month's first day
STATIONS = 200
PARTS = 50
ORDERS_PER_STATION = 20
SLIPS_PER_STATION = 10
STOCK = 1_000_000


def _seed(url: str) -> None:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=False) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "INSERT INTO customer (id, name, title, preferred_language, grade, notes, created_at,"
            " updated_at) VALUES (1, 'bench', '', 'zh-CN', 'individual', '', %s, %s)",
            (T, T),
        )
        with cursor.copy(
            "COPY station (id, code, name, phone, time_zone, working_hours, is_active, created_at)"
            " FROM STDIN"
        ) as copy:
            for s in range(1, STATIONS + 1):
                copy.write_row((s, f"S{s:03d}", f"站{s}", "", "Asia/Shanghai", "{}", True, T))
        with cursor.copy(
            "COPY engineer (id, station_id, name, phone, categories, service_types, level,"
            " certificate_no, is_active, created_at) FROM STDIN"
        ) as copy:
            for s in range(1, STATIONS + 1):
                copy.write_row((s, s, f"工程师{s}", "", "[]", "[]", 1, "", True, T))
        with cursor.copy(
            "COPY part (id, code, name, models, station_price_fen, public_price_fen, sellable,"
            " is_active, created_at) FROM STDIN"
        ) as copy:
            for p in range(1, PARTS + 1):
                copy.write_row((p, f"P{p:03d}", f"配件{p}", "[]", 100 * p, 150 * p, True, True, T))
        with cursor.copy(
            "COPY warehouse (id, code, name, kind, station_id, is_active, created_at) FROM STDIN"
        ) as copy:
            for s in range(1, STATIONS + 1):
                copy.write_row((s, f"S{s:03d}-P", "配件库", "station", s, True, T))
            copy.write_row((STATIONS + 1, "DAMAGED", "报损库", "damaged", None, True, T))
        with cursor.copy(
            "COPY stock_movement (at, part_id, quantity, to_warehouse_id, reason, actor_name, note)"
            " FROM STDIN"
        ) as copy:
            for s in range(1, STATIONS + 1):
                for p in range(1, PARTS + 1):
                    copy.write_row((T - timedelta(days=1), p, STOCK, s, "receipt", "bench", ""))
        with cursor.copy("COPY stock (warehouse_id, part_id, quantity) FROM STDIN") as copy:
            for s in range(1, STATIONS + 1):
                for p in range(1, PARTS + 1):
                    copy.write_row((s, p, STOCK))
        with cursor.copy(
            "COPY work_order (id, number, customer_id, station_id, engineer_id, order_type,"
            " service_mode, urgency, channel, fault_description, warranty_status, status,"
            " station_reported, created_at, updated_at) FROM STDIN"
        ) as copy:
            for s in range(1, STATIONS + 1):
                for o in range(ORDERS_PER_STATION + SLIPS_PER_STATION):
                    number = (s - 1) * (ORDERS_PER_STATION + SLIPS_PER_STATION) + o + 1
                    status = "in_service" if o < ORDERS_PER_STATION else "completed"
                    copy.write_row(
                        (
                            number,
                            f"WO{number:09d}",
                            1,
                            s,
                            s,
                            "repair",
                            "on_site",
                            "normal",
                            "phone",
                            "",
                            "in_warranty",
                            status,
                            False,
                            T,
                            T,
                        )
                    )
        cursor.execute("SELECT setval('work_order_id_seq', %s)", (STATIONS * 30,))
        for table in ("station", "engineer", "part", "warehouse", "customer"):
            cursor.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        connection.commit()


def _ledger(url: str, rows: int, seed: int) -> None:
    """Movements of one month: three in four issues, then changes, removals, scraps and
    receipts, each at a random station, part and moment of the month."""
    import psycopg

    rng = random.Random(seed)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    month = timedelta(days=30)
    kinds = ["issue"] * 12 + ["issue_change_out", "issue_change_back", "issue_return", "scrap"]
    with psycopg.connect(plain, autocommit=False) as connection:
        cursor = connection.cursor()
        with cursor.copy(
            "COPY stock_movement (at, part_id, quantity, from_warehouse_id, to_warehouse_id,"
            " reason, order_id, actor_name, note) FROM STDIN"
        ) as copy:
            for _ in range(rows):
                station = rng.randint(1, STATIONS)
                kind = rng.choice(kinds)
                at = T + month * rng.random()
                source, target, reason = station, None, kind
                if kind == "issue_change_out":
                    reason = "issue_change"
                elif kind in ("issue_change_back", "issue_return"):
                    source, target = None, station
                    reason = "issue_change" if kind == "issue_change_back" else "issue_return"
                elif kind == "scrap":
                    target = STATIONS + 1
                order = (station - 1) * 30 + rng.randint(1, ORDERS_PER_STATION)
                copy.write_row(
                    (
                        at,
                        rng.randint(1, PARTS),
                        rng.randint(1, 2),
                        source,
                        target,
                        reason,
                        order if kind != "scrap" else None,
                        "bench",
                        "",
                    )
                )
        with cursor.copy(
            "COPY completion_slip (order_id, station_id, engineer_id, service_kind, outsourced,"
            " work_done, labour_fen, travel_fen, confirmation, signature_png, engineer_score,"
            " completed_at, received_at, filed_by, status, auditor, audited_at, quality_score,"
            " audit_note, base_commission_fen, rewards_fen, engineer_deductions_fen,"
            " station_deductions_fen, commission_fen) FROM STDIN"
        ) as copy:
            for s in range(1, STATIONS + 1):
                for o in range(SLIPS_PER_STATION):
                    order = (s - 1) * 30 + ORDERS_PER_STATION + o + 1
                    at = T + timedelta(days=rng.randint(0, 28))
                    copy.write_row(
                        (
                            order,
                            s,
                            s,
                            "repair_medium",
                            False,
                            "换件",
                            0,
                            0,
                            "code",
                            "",
                            5,
                            at,
                            at,
                            "bench",
                            "approved",
                            "bench",
                            at,
                            90,
                            "",
                            5000,
                            0,
                            0,
                            2000 * (o % 2),
                            5000,
                        )
                    )
        cursor.execute(
            "INSERT INTO fee_rate (kind, service_kind, amount_fen)"
            " VALUES ('labour', 'repair_medium', 8000)"
        )
        connection.commit()
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("ANALYZE")


def _writers(engine: object, threads: int, seconds: float, pick: object) -> dict[str, object]:
    """``threads`` writers adding lines for ``seconds``; ``pick()`` gives (order, part)."""
    actor = Actor(id=None, name="bench", role=Role.ADMIN)
    latencies: list[float] = []
    refused = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    start = threading.Barrier(threads)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[float] = []
        short = 0
        start.wait()
        while time.perf_counter() < stop:
            order, part = pick(rng)  # type: ignore[operator]
            begin = time.perf_counter()
            with ServiceSession(engine, expire_on_commit=False) as session:  # type: ignore[arg-type]
                try:
                    add_line(
                        session,
                        order_id=order,
                        data=MaterialIn(
                            part_id=part,
                            quantity=rng.randint(1, 2),
                            issue_type=IssueType.IN_WARRANTY,
                        ),
                        actor=actor,
                        clock=lambda: T,
                    )
                except OutOfStock:
                    short += 1
            mine.append(time.perf_counter() - begin)
        with lock:
            latencies.extend(mine)
            refused[0] += short

    began = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "writers": threads,
        "seconds": round(elapsed, 2),
        "lines": len(latencies),
        "lines_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "out_of_stock": refused[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    schema = "bench_stock_ledger"
    admin = make_engine(args.postgres)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    upgrade(url)
    _seed(url)
    engine = writer(make_engine(url))

    def spread(rng: random.Random) -> tuple[int, int]:
        station = rng.randint(1, STATIONS)
        return (station - 1) * 30 + rng.randint(1, ORDERS_PER_STATION), rng.randint(1, PARTS)

    spread_figures = _writers(engine, args.writers, args.seconds, spread)
    print(f"{args.writers} writers over {STATIONS} stations: {spread_figures}")
    hot_figures = _writers(
        engine, args.writers, args.seconds, lambda rng: (rng.randint(1, ORDERS_PER_STATION), 1)
    )
    print(f"{args.writers} writers on one store and part: {hot_figures}")
    with Session(engine) as session:
        wrong = discrepancies(session)
    print(f"stock rows that differ from their ledger: {len(wrong)}")

    started = time.perf_counter()
    _ledger(url, args.ledger_rows, seed=11)
    load_s = time.perf_counter() - started
    with Session(engine) as session:
        total_rows = session.execute(text("SELECT count(*) FROM stock_movement")).scalar_one()
    print(f"loaded {args.ledger_rows:,} ledger rows in {load_s:.0f} s ({total_rows:,} in all)")
    runs = []
    for _ in range(3):
        with ServiceSession(engine, expire_on_commit=False) as session:
            begin = time.perf_counter()
            report = settlement_report(session, month="2026-06", now=T + timedelta(days=31))
            runs.append(time.perf_counter() - begin)
    stations = len(report.sections[0].rows)
    print(
        f"settlement of {stations} stations over {total_rows:,} ledger rows: "
        f"{', '.join(f'{r:.2f}' for r in runs)} s"
    )
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()

    figures = {
        "benchmark": "stock_ledger",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "database": "postgresql",
        "material_lines": {
            "stations": STATIONS,
            "parts": PARTS,
            "spread": spread_figures,
            "one_hot_row": hot_figures,
        },
        "ledger_matches_stock": not wrong,
        "settlement": {
            "ledger_rows": total_rows,
            "stations": stations,
            "slips": STATIONS * SLIPS_PER_STATION,
            "load_seconds": round(load_s, 1),
            "seconds": [round(r, 2) for r in runs],
        },
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
