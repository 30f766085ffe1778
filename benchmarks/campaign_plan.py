"""Planning a satisfaction-callback campaign at hotline scale, on PostgreSQL.

Run from the repository root: ``.venv/bin/python -m benchmarks.campaign_plan``. Needs
PostgreSQL at 127.0.0.1:5432 (database ``test``; the schema ``bench_campaign_plan`` is
dropped first, migrated to head, and dropped at the end unless ``--keep``). Prints its
figures and writes benchmarks/results/campaign_plan.json. Nothing here asserts timings.

What is loaded, with COPY (benchmarks/lookup.py's ``load_table``), seed fixed:

- 200 stations with 5 engineers each, whose loads are skewed (stations log-normal, the
  first engineer of a station doing about half of its work), and 10 appliance categories,
  also skewed: about 10,000 strata (station, engineer, category);
- 1,000,000 repairs, each with its transition to ``completed`` at a moment spread over the
  2 days before the planning moment T, Monday 2026-11-23 09:00 in Shanghai (a working day),
  so that their 2 h-48 h callback windows end inside the planning week; 600,000 customers,
  every one with an order and some with several, each with a mobile number (3 % also a
  landline, added after it); 1 % of the customers speak English;
- 1 % of customers with an unresolved complaint owned by one of 20 supervisors (who have
  no calendar), as many with a resolved one; 3,000 numbers on the do-not-call list (300 of
  them not on file); 3,000 customers' contact preferences (a third opted out, the others
  with narrower calling hours); 5,000 customers called back in the last week;
- 500 agents, each with a calendar: Asia/Shanghai, Monday-Friday 09:00-12:00 and
  13:00-18:00, 10 calls an hour, speaking ``zh``: 80,000 slots before the last deadline.

Then one campaign (``callbacks.services.campaigns.create_campaign``): ratio 0.3, stratified
by station, engineer and category, agent calls, window 2-48 h, customers called within 7
days excluded, starting 3 days before T.

What is timed, each in a fresh child process (multiprocessing, spawn), so that its peak
resident memory (VmHWM; ``ru_maxrss`` would carry the parent's over the exec) is the
work's own, not the data generator's:

1. ``orders.services.completions.completions`` alone, iterated to the end with the
   campaign's arguments: the read that planning starts with;
2. ``plan_campaign`` at T, as a whole (the figure the goal is about). Inside it, without
   changing the code under test, a few functions that run a handful of times are wrapped
   with a timer (``_Planner.__init__``, ``_Planner.flush``, ``_Planner.save_strata``,
   ``calendars.schedule_pending``, ``calendars.load_agents``, ``scheduling.place``), so the
   run splits into phases; the per-order work (reading and deciding) is what remains;
3. ``plan_campaign`` again 5 minutes later, as the worker's next periodic run: nothing new
   to decide, the unplaced tasks placed again;
4. with ``--profile``: the data reset to before the plan and (2) again under cProfile, to
   show where the time goes (cProfile slows Python-heavy code; its total is not the time).

PostgreSQL's CPU during each run is read from /proc (every ``postgres`` process: other
schemas' work in the same server counts too), as is the share of the cores other
processes took. The goal (from the issue): the plan under 10 s and 1 GB.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import pstats
import random
import re
import resource
import subprocess
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from itertools import accumulate
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, text
from sqlalchemy.engine import Engine

from benchmarks import lookup
from benchmarks.machine import (
    cpu_busy,
    cpu_ticks,
    foreign_share,
    machine,
    wait_for_idle_cores,
    wait_for_quiet_machine,
)
from callbacks import scheduling
from callbacks.enums import CampaignMode, StratumField
from callbacks.models import (
    AgentCalendarRow,
    ContactPreference,
    DncEntry,
    OutboundTask,
)
from callbacks.schemas import CampaignIn
from callbacks.services import calendars, campaigns
from core.db import ServiceSession, make_engine, table_of, writer
from orders import SYSTEM, OrderStatus
from orders.enums import (
    ApplianceCategory,
    ComplaintStatus,
    CustomerGrade,
    OrderType,
    Role,
)
from orders.models import (
    Appliance,
    Complaint,
    Customer,
    CustomerPhone,
    Engineer,
    OrderTransition,
    Station,
    User,
    WorkOrder,
    default_working_hours,
)
from orders.services.completions import completions

RESULTS = Path(__file__).parent / "results" / "campaign_plan.json"
SCHEMA = "bench_campaign_plan"
T = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
"""The planning moment: Monday 09:00 in Shanghai, a working day."""
SPREAD = timedelta(days=2)
"""Orders completed over the 2 days before T."""
REPLAN_AFTER = timedelta(minutes=5)
"""The worker plans every five minutes (callbacks.jobs.PLAN_MINUTES)."""
GOAL_SECONDS = 10.0
GOAL_RSS_MB = 1024.0

STATIONS = 200
ENGINEERS_PER_STATION = 5
SUPERVISORS = 20
DNC_ON_FILE = 2_700
DNC_UNKNOWN = 300
PREFERENCES = 3_000
CALLED_LAST_WEEK = 5_000
WEEK = {str(day): [["09:00", "12:00"], ["13:00", "18:00"]] for day in range(1, 6)}
CATEGORY_WEIGHTS = {
    ApplianceCategory.AIR_CONDITIONER: 24,
    ApplianceCategory.WASHING_MACHINE: 20,
    ApplianceCategory.REFRIGERATOR: 16,
    ApplianceCategory.WATER_HEATER: 12,
    ApplianceCategory.TV: 8,
    ApplianceCategory.RANGE_HOOD: 7,
    ApplianceCategory.GAS_STOVE: 5,
    ApplianceCategory.MICROWAVE: 4,
    ApplianceCategory.DISHWASHER: 3,
    ApplianceCategory.OTHER: 1,
}
NARROW_HOURS = (
    # (call_from, call_to, weekdays): evenings only, lunch only, weekends only.
    ("18:00", "20:00", [1, 2, 3, 4, 5, 6, 7]),
    ("12:00", "14:00", [1, 2, 3, 4, 5]),
    ("10:00", "17:00", [6, 7]),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"

UNDER_TEST = (
    "callbacks/services/campaigns.py",
    "callbacks/services/calendars.py",
    "callbacks/scheduling.py",
    "callbacks/sampling.py",
    "orders/services/completions.py",
    "orders/services/satisfaction.py",
)
"""The code the figures belong to: hashed in each run, as it was when the run began."""
ROOT = Path(__file__).resolve().parent.parent

Row = dict[str, Any]


# Data plan: what is drawn up front, so that the tables agree with one another.


@dataclass
class Plan:
    customers: int
    orders: int
    agents: int
    order_customer: list[int]
    """The customer of each order, in id order."""
    order_engineer: list[int]
    order_category: list[int]
    """Index into CATEGORY_WEIGHTS."""
    completed_s: list[float]
    """Seconds from T (negative) at which each order was completed."""
    created_s: list[float]
    mobiles: list[int]
    """The 8 digits after +86139 of each customer's mobile, by customer id - 1."""
    landline_customers: list[int]
    english: set[int]
    supervisors: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.supervisors = list(range(self.agents + 1, self.agents + SUPERVISORS + 1))

    def mobile(self, customer_id: int) -> str:
        return f"+86139{self.mobiles[customer_id - 1]:08d}"


def make_plan(rng: random.Random, customers: int, orders: int, agents: int) -> Plan:
    if customers > orders:
        raise SystemExit("every customer has an order: --customers must not exceed --orders")
    buyers = list(range(1, customers + 1))
    buyers += rng.choices(range(1, customers + 1), k=orders - customers)
    rng.shuffle(buyers)
    station_weights = [rng.lognormvariate(0.0, 0.6) for _ in range(STATIONS)]
    engineer_weights = [
        station_weights[s] * 2.0**-j for s in range(STATIONS) for j in range(ENGINEERS_PER_STATION)
    ]
    engineers = rng.choices(
        range(1, len(engineer_weights) + 1),
        cum_weights=list(accumulate(engineer_weights)),
        k=orders,
    )
    categories = rng.choices(
        range(len(CATEGORY_WEIGHTS)), list(CATEGORY_WEIGHTS.values()), k=orders
    )
    span = SPREAD.total_seconds()
    completed = [-span + 60 + rng.random() * (span - 120) for _ in range(orders)]
    created = [at - rng.uniform(2 * 3600, 7 * 86_400) for at in completed]
    # Order ids follow creation, as they do when orders are taken one after another; the
    # transitions (loaded later) follow completion.
    by_creation = sorted(range(orders), key=created.__getitem__)
    return Plan(
        customers=customers,
        orders=orders,
        agents=agents,
        order_customer=[buyers[i] for i in by_creation],
        order_engineer=[engineers[i] for i in by_creation],
        order_category=[categories[i] for i in by_creation],
        completed_s=[completed[i] for i in by_creation],
        created_s=[created[i] for i in by_creation],
        mobiles=rng.sample(range(10**8), customers),
        landline_customers=sorted(rng.sample(range(1, customers + 1), customers * 3 // 100)),
        english=set(rng.sample(range(1, customers + 1), customers // 100)),
    )


def _at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


# Row generators, one per table.


def station_rows() -> Iterator[Row]:
    hours = json.dumps(default_working_hours())
    for station_id in range(1, STATIONS + 1):
        yield {
            "id": station_id,
            "code": f"ST{station_id:03d}",
            "name": f"服务网点{station_id:03d}",
            "phone": "",
            "time_zone": "Asia/Shanghai",
            "working_hours": hours,
            "is_active": True,
            "created_at": T - timedelta(days=400),
        }


def engineer_rows(rng: random.Random) -> Iterator[Row]:
    every = json.dumps([c.value for c in CATEGORY_WEIGHTS])
    for engineer_id in range(1, STATIONS * ENGINEERS_PER_STATION + 1):
        yield {
            "id": engineer_id,
            "station_id": (engineer_id - 1) // ENGINEERS_PER_STATION + 1,
            "name": rng.choice(SURNAMES) + f"师傅{engineer_id}",
            "phone": "",
            "categories": every,
            "service_types": json.dumps([OrderType.REPAIR.value]),
            "level": 1,
            "certificate_no": f"C{engineer_id:06d}",
            "is_active": True,
            "created_at": T - timedelta(days=300),
        }


def user_rows(plan: Plan) -> Iterator[Row]:
    for user_id in range(1, plan.agents + SUPERVISORS + 1):
        agent = user_id <= plan.agents
        yield {
            "id": user_id,
            "username": f"agent{user_id:04d}" if agent else f"super{user_id:04d}",
            "full_name": "",
            "role": (Role.AGENT if agent else Role.SUPERVISOR).value,
            "password_hash": "not-a-hash",
            "is_active": True,
            "token_version": 0,
            "created_at": T - timedelta(days=200),
            "updated_at": T - timedelta(days=200),
        }


def calendar_rows(plan: Plan) -> Iterator[Row]:
    week = json.dumps(WEEK)
    for user_id in range(1, plan.agents + 1):
        yield {
            "user_id": user_id,
            "time_zone": "Asia/Shanghai",
            "weekly_hours": week,
            "capacity_per_hour": 10,
            "skills": "[]",
            "languages": '["zh"]',
            "updated_at": T - timedelta(days=30),
        }


def customer_rows(plan: Plan, rng: random.Random) -> Iterator[Row]:
    grades = [g.value for g in CustomerGrade]
    for customer_id in range(1, plan.customers + 1):
        created = T - timedelta(seconds=rng.uniform(8 * 86_400, 3 * 365 * 86_400))
        yield {
            "id": customer_id,
            "name": rng.choice(SURNAMES) + "客户",
            "title": "",
            "preferred_language": "en" if customer_id in plan.english else "zh-CN",
            "grade": grades[0] if rng.random() < 0.97 else rng.choice(grades[1:]),
            "notes": "",
            "created_at": created,
            "updated_at": created,
        }


def phone_rows(plan: Plan, rng: random.Random) -> Iterator[Row]:
    # The mobile first (its id is the customer's): it is the number a callback dials.
    for customer_id in range(1, plan.customers + 1):
        yield {
            "id": customer_id,
            "customer_id": customer_id,
            "e164": plan.mobile(customer_id),
            "label": "手机",
        }
    landlines = rng.sample(range(10**7), len(plan.landline_customers))
    for n, (customer_id, number) in enumerate(zip(plan.landline_customers, landlines, strict=True)):
        yield {
            "id": plan.customers + n + 1,
            "customer_id": customer_id,
            "e164": f"+86106{number:07d}",
            "label": "家",
        }


def appliance_rows(plan: Plan) -> Iterator[Row]:
    # One appliance per order, with the order's id.
    names = [c.value for c in CATEGORY_WEIGHTS]
    for index in range(plan.orders):
        created = _at(plan.created_s[index])
        yield {
            "id": index + 1,
            "customer_id": plan.order_customer[index],
            "category": names[plan.order_category[index]],
            "brand": "海尔",
            "model": "",
            "serial": "",
            "has_invoice": False,
            "warranty_months": 12,
            "created_at": created,
            "updated_at": created,
        }


def order_rows(plan: Plan) -> Iterator[Row]:
    for index in range(plan.orders):
        order_id = index + 1
        engineer = plan.order_engineer[index]
        created = _at(plan.created_s[index])
        yield {
            "id": order_id,
            "number": f"WO{order_id:09d}",
            "customer_id": plan.order_customer[index],
            "appliance_id": order_id,
            "station_id": (engineer - 1) // ENGINEERS_PER_STATION + 1,
            "engineer_id": engineer,
            "station_reported": False,
            "urban": True,
            "order_type": "repair",
            "service_mode": "on_site",
            "urgency": "normal",
            "channel": "phone",
            "fault_description": "",
            "warranty_status": "in_warranty",
            "status": "completed",
            "callback_state": "not_sampled",
            "satisfaction_comment": "",
            "created_at": created,
            "updated_at": _at(plan.completed_s[index]),
        }


def transition_rows(plan: Plan) -> Iterator[Row]:
    # Written as they happen: ids follow the moment.
    for transition_id, index in enumerate(
        sorted(range(plan.orders), key=plan.completed_s.__getitem__), start=1
    ):
        yield {
            "id": transition_id,
            "order_id": index + 1,
            "from_status": "in_service",
            "to_status": "completed",
            "actor_name": "师傅",
            "at": _at(plan.completed_s[index]),
            "note": "",
        }


def complaint_rows(plan: Plan, rng: random.Random) -> Iterator[Row]:
    count = plan.customers // 100
    owners = rng.sample(range(1, plan.customers + 1), 2 * count)
    for complaint_id, customer_id in enumerate(owners, start=1):
        unresolved = complaint_id <= count
        status = rng.choice((ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS))
        created = T - timedelta(seconds=rng.uniform(3600, 30 * 86_400))
        yield {
            "id": complaint_id,
            "customer_id": customer_id,
            "topic": "服务态度",
            "crisis_level": 1,
            "description": "",
            "status": (status if unresolved else ComplaintStatus.RESOLVED).value,
            "owner_id": rng.choice(plan.supervisors),
            "due_at": created + timedelta(days=3),
            "raised_by_rule": "",
            "created_at": created,
        }


def dnc_rows(plan: Plan, rng: random.Random) -> Iterator[Row]:
    numbers = [plan.mobile(c) for c in rng.sample(range(1, plan.customers + 1), DNC_ON_FILE)]
    numbers += [f"+86137{n:08d}" for n in rng.sample(range(10**8), DNC_UNKNOWN)]
    for entry_id, number in enumerate(numbers, start=1):
        yield {
            "id": entry_id,
            "e164": number,
            "reason": "客户要求不再回访",
            "added_by": "bench",
            "added_at": T - timedelta(days=rng.uniform(1, 300)),
        }


def preference_rows(plan: Plan, rng: random.Random) -> Iterator[Row]:
    chosen = sorted(rng.sample(range(1, plan.customers + 1), PREFERENCES))
    for n, customer_id in enumerate(chosen):
        opted_out = n % 3 == 0
        start, end, weekdays = ("09:00", "20:00", list(range(1, 8)))
        if not opted_out:
            start, end, weekdays = rng.choice(NARROW_HOURS)
        yield {
            "customer_id": customer_id,
            "time_zone": "Asia/Shanghai",
            "call_from": start,
            "call_to": end,
            "weekdays": json.dumps(weekdays),
            "opted_out": opted_out,
            "updated_at": T - timedelta(days=10),
        }


def earlier_task_rows(plan: Plan, rng: random.Random) -> Iterator[Row]:
    """Satisfaction callbacks made last week (of no campaign here): those customers are
    excluded as recently called."""
    for task_id, customer_id in enumerate(
        rng.sample(range(1, plan.customers + 1), CALLED_LAST_WEEK), start=1
    ):
        attempted = T - timedelta(seconds=rng.uniform(3600, 6 * 86_400))
        created = attempted - timedelta(hours=rng.uniform(2, 40))
        yield {
            "id": task_id,
            "purpose": "satisfaction",
            "customer_id": customer_id,
            "phone": plan.mobile(customer_id),
            "earliest_at": created,
            "deadline_at": created + timedelta(hours=48),
            "assignee_kind": "team",
            "assignee_id": rng.randint(1, plan.agents),
            "language": "zh",
            "priority": 0,
            "status": "done",
            "due_at": attempted,
            "slot_end": attempted + timedelta(minutes=6),
            "unplaced_reason": "",
            "attempts": 1,
            "max_attempts": 3,
            "last_attempt_at": attempted,
            "outcome": "reached",
            "note": "",
            "created_by": "bench",
            "created_at": created,
            "updated_at": attempted,
        }


def generate(engine: Engine, plan: Plan, seed: int) -> dict[str, Any]:
    """Load every table; rows and seconds per table."""
    rng = random.Random(seed + 1)
    steps: list[tuple[Any, Callable[[], Iterable[Row]]]] = [
        (Station, station_rows),
        (Engineer, lambda: engineer_rows(rng)),
        (User, lambda: user_rows(plan)),
        (AgentCalendarRow, lambda: calendar_rows(plan)),
        (Customer, lambda: customer_rows(plan, rng)),
        (CustomerPhone, lambda: phone_rows(plan, rng)),
        (Appliance, lambda: appliance_rows(plan)),
        (WorkOrder, lambda: order_rows(plan)),
        (OrderTransition, lambda: transition_rows(plan)),
        (Complaint, lambda: complaint_rows(plan, rng)),
        (DncEntry, lambda: dnc_rows(plan, rng)),
        (ContactPreference, lambda: preference_rows(plan, rng)),
        (OutboundTask, lambda: earlier_task_rows(plan, rng)),
    ]
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for model, make_rows in steps:
        table = table_of(model)
        begun = time.perf_counter()
        rows[table.name] = lookup.load_table(engine, table, make_rows())
        seconds[table.name] = round(time.perf_counter() - begun, 1)
        print(f"  {table.name:<26} {rows[table.name]:>10,} rows in {seconds[table.name]:6.1f} s")
    begun = time.perf_counter()
    finish(engine, [table_of(model) for model, _ in steps])
    seconds["vacuum_analyze_checkpoint"] = round(time.perf_counter() - begun, 1)
    print(f"  {'vacuum, analyze, checkpoint':<37} in {seconds['vacuum_analyze_checkpoint']:6.1f} s")
    return {"rows": rows, "seconds": seconds}


def finish(engine: Engine, tables: list[Table]) -> None:
    """As benchmarks/lookup.py's ``_finish``, with quoted names (``user`` is reserved): the
    sequences moved past the ids given, VACUUM (ANALYZE) as autovacuum would have run on a
    live database (only our tables: the database is shared), and a CHECKPOINT so the timed
    runs do not share the disk with the load's writes."""
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:
        for table in tables:
            if "id" in table.columns:
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{quote(table.name)}', 'id'), "
                    f"(SELECT max(id) FROM {quote(table.name)}))"
                )
    names = ", ".join(quote(table.name) for table in tables)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (ANALYZE) {names}")
        connection.exec_driver_sql("CHECKPOINT")


def create_campaign(engine: Engine, ratio: float) -> int:
    data = CampaignIn(
        name="满意度回访 benchmark",
        sampling_ratio=ratio,
        stratify_by=[StratumField.STATION, StratumField.ENGINEER, StratumField.CATEGORY],
        mode=CampaignMode.AGENT_CALL,
        window_from_hours=2.0,
        window_to_hours=48.0,
        exclude_called_days=7,
        starts_at=T - timedelta(days=3),
    )
    with ServiceSession(writer(engine), expire_on_commit=False) as session:
        return campaigns.create_campaign(session, data, actor=SYSTEM, now=T - timedelta(days=3)).id


def reset(engine: Engine, campaign_id: int) -> None:
    """Undo a plan: the campaign's decisions, strata and tasks gone, orders unsampled."""
    with engine.begin() as connection:
        for table in ("outbound_task", "campaign_decision", "campaign_stratum"):
            connection.execute(
                text(f"DELETE FROM {table} WHERE campaign_id = :c"), {"c": campaign_id}
            )
        connection.execute(
            text(
                "UPDATE work_order SET callback_state = 'not_sampled'"
                " WHERE callback_state <> 'not_sampled'"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(
            "VACUUM (ANALYZE) outbound_task, campaign_decision, campaign_stratum, work_order"
        )
        connection.exec_driver_sql("CHECKPOINT")


# Measuring, in a child process.


def _rss_mb() -> float:
    """Peak resident memory of this process so far: VmHWM, the high-water mark of its own
    address space, which the exec of a spawned child starts afresh.

    Not ``ru_maxrss``: Linux carries the high-water mark of the address space an exec
    replaces into it, so a spawned child's starts at its parent's size at the fork (the
    data generator's 400 MB here), and a smaller peak of its own would not show.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status")


def _ru_maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Timers:
    """Wraps a few functions that run a handful of times with a timer: total seconds, calls,
    and the first start and last end (perf_counter) of each."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.first_start: dict[str, float] = {}
        self.last_end: dict[str, float] = {}

    def wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)
        label = name.strip("_")

        def timed(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            self.first_start.setdefault(label, begun)
            try:
                return original(*args, **kwargs)
            finally:
                ended = time.perf_counter()
                self.seconds[label] += ended - begun
                self.calls[label] += 1
                self.last_end[label] = ended

        setattr(owner, name, timed)


def _phases(timers: Timers, begun: float, ended: float) -> dict[str, Any]:
    """The plan's wall time split at the wrapped functions."""
    setup_end = timers.last_end["init"]
    save_start = timers.first_start["save_strata"]
    schedule_start = timers.first_start["schedule_pending"]
    schedule = timers.seconds["schedule_pending"]
    placing = timers.seconds["place"] + timers.seconds["load_agents"]
    return {
        "setup_s": round(setup_end - begun, 3),
        "setup_covers": "lock, last decision, decided orders, strata, do-not-call, opt-outs, "
        "recently called",
        "read_and_decide_s": round(save_start - setup_end - timers.seconds["flush"], 3),
        "read_and_decide_covers": "completions query fetched and every order decided, "
        "in Python (writes excluded)",
        "flush_s": round(timers.seconds["flush"], 3),
        "flush_calls": timers.calls["flush"],
        "flush_covers": "INSERT decisions and tasks, UPDATE work_order.callback_state",
        "save_strata_and_commit_s": round(schedule_start - save_start, 3),
        "schedule_pending_s": round(schedule, 3),
        "schedule_pending_load_agents_s": round(timers.seconds["load_agents"], 3),
        "schedule_pending_place_s": round(timers.seconds["place"], 3),
        "schedule_pending_rest_s": round(schedule - placing, 3),
        "schedule_pending_rest_covers": "open tasks read, preferences read, tasks built, "
        "placements written (UPDATE), commit",
        "after_schedule_s": round(ended - timers.last_end["schedule_pending"], 3),
    }


def _child(job: str, url: str, campaign_id: int, now: datetime, sender: Connection) -> None:
    """Runs in a fresh interpreter (spawn): one job, figures sent back through ``sender``."""
    try:
        sender.send(_job(job, url, campaign_id, now))
    except BaseException:
        sender.send({"error": traceback.format_exc()})
        raise
    finally:
        sender.close()


def code_under_test() -> dict[str, str]:
    """The first 12 hex digits of each file's SHA-256: others edit these files while a run
    takes minutes, so each run says which version it timed."""
    return {
        path: hashlib.sha256((ROOT / path).read_bytes()).hexdigest()[:12] for path in UNDER_TEST
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "modified_under_test": git("status", "--porcelain", "--", *UNDER_TEST).splitlines(),
    }


def _job(job: str, url: str, campaign_id: int, now: datetime) -> dict[str, Any]:
    rss_before = _rss_mb()
    code = code_under_test()
    engine = writer(make_engine(url))
    backends: list[int] = []

    def remember(dbapi_connection: Any, _record: Any) -> None:
        backends.append(dbapi_connection.info.backend_pid)

    # The server processes serving this job end with its connections, before the parent
    # looks again: their CPU is read here, while they still run.
    event.listen(engine, "connect", remember)
    timers = Timers()
    if job in ("plan", "replan"):
        timers.wrap(campaigns._Planner, "__init__")
        timers.wrap(campaigns._Planner, "flush")
        timers.wrap(campaigns._Planner, "save_strata")
        timers.wrap(calendars, "schedule_pending")
        timers.wrap(calendars, "load_agents")
        timers.wrap(scheduling, "place")
    profiler = cProfile.Profile() if job == "profile" else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures: dict[str, Any] = {}
    with ServiceSession(engine, expire_on_commit=False) as session:
        campaign = campaigns.get_campaign_row(session, campaign_id)
        session.commit()
        served_before = _ticks(backends)
        begun = time.perf_counter()
        if job == "completions":
            found = completions(
                session,
                statuses=[OrderStatus(s) for s in campaign.trigger_statuses],
                since=campaign.starts_at,
                until=now,
            )
            count = sum(1 for _ in found)
            figures["completions"] = count
        else:
            if profiler is not None:
                profiler.enable()
            summary = campaigns.plan_campaign(session, campaign_id, now=now)
            if profiler is not None:
                profiler.disable()
            figures["summary"] = summary.model_dump()
        ended = time.perf_counter()
        served = _ticks(backends) - served_before
    after = resource.getrusage(resource.RUSAGE_SELF)
    engine.dispose()
    figures.update(
        {
            "job": job,
            "wall_s": round(ended - begun, 3),
            "process_cpu_s": round(
                after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime, 3
            ),
            "peak_rss_mb": _rss_mb(),
            "rss_before_mb": rss_before,
            "ru_maxrss_mb": _ru_maxrss_mb(),
            "code": code,
            "postgresql_backend_cpu_s": round(served / os.sysconf("SC_CLK_TCK"), 2),
            "postgresql_backends": len(backends),
        }
    )
    if job in ("plan", "replan") and "init" in timers.last_end:
        figures["phases"] = _phases(timers, begun, ended)
    if profiler is not None:
        figures["profile"] = _profile_top(profiler)
    return figures


def _ticks(pids: list[int]) -> int:
    """CPU clock ticks (user + system) the processes spent so far."""
    every = cpu_ticks()
    return sum(every[pid][2] for pid in pids if pid in every)


def _profile_top(profiler: cProfile.Profile, count: int = 25) -> dict[str, Any]:
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]

    def where(key: tuple[str, int, str]) -> str:
        filename, line, name = key
        if filename.startswith(str(ROOT)):
            filename = filename[len(str(ROOT)) + 1 :]
        elif "site-packages/" in filename:
            filename = filename.split("site-packages/", 1)[1]
        return f"{filename}:{line}({name})" if line else name

    def top(index: int) -> list[dict[str, Any]]:
        ranked = sorted(entries.items(), key=lambda item: item[1][index], reverse=True)
        return [
            {
                "function": where(key),
                "calls": value[1],
                "own_s": round(value[2], 3),
                "cumulative_s": round(value[3], 3),
            }
            for key, value in ranked[:count]
        ]

    text_out = io.StringIO()
    pstats.Stats(profiler, stream=text_out).sort_stats("tottime").print_stats(count)
    return {"by_own_time": top(2), "by_cumulative": top(3), "text": text_out.getvalue()}


def run_child(job: str, url: str, campaign_id: int, now: datetime) -> dict[str, Any]:
    """One job in a fresh process, with the CPU PostgreSQL and others spent meanwhile."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(job, url, campaign_id, now, sender))
    before = cpu_ticks()
    wall = time.perf_counter()
    process.start()
    sender.close()
    figures: dict[str, Any] = receiver.recv()
    process.join()
    seconds = time.perf_counter() - wall
    after = cpu_ticks()
    if "error" in figures:
        raise SystemExit(f"{job} failed in its child process:\n{figures['error']}")
    # The job's own server processes have exited by now: what is left are PostgreSQL's
    # background processes (WAL writer, checkpointer, autovacuum) and other clients'.
    ticks = sum(
        used - before.get(pid, (0, "", 0))[2]
        for pid, (_parent, comm, used) in after.items()
        if comm == "postgres"
    )
    figures["postgresql_other_cpu_s"] = round(ticks / os.sysconf("SC_CLK_TCK"), 2)
    figures["child_process_s"] = round(seconds, 2)
    figures["foreign_cpu_share"] = foreign_share(before, after, seconds)
    return figures


def outcome(engine: Engine, campaign_id: int) -> dict[str, Any]:
    """What the plan left in the tables: tasks by status, unplaced reasons, the spread."""
    with engine.connect() as connection:
        statuses: dict[str, int] = {
            status: count
            for status, count in connection.execute(
                text(
                    "SELECT status, count(*) FROM outbound_task WHERE campaign_id = :c"
                    " GROUP BY 1 ORDER BY 1"
                ),
                {"c": campaign_id},
            ).all()
        }
        reasons = connection.execute(
            text(
                "SELECT unplaced_reason, count(*) FROM outbound_task"
                " WHERE campaign_id = :c AND status = 'unplaced'"
                " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8"
            ),
            {"c": campaign_id},
        ).all()
        per_agent = connection.execute(
            text(
                "SELECT min(n), max(n), count(*) FROM (SELECT assignee_id, count(*) AS n"
                " FROM outbound_task WHERE campaign_id = :c AND status = 'scheduled'"
                " GROUP BY 1) AS loads"
            ),
            {"c": campaign_id},
        ).one()
        strata = connection.execute(
            text("SELECT count(*) FROM campaign_stratum WHERE campaign_id = :c"),
            {"c": campaign_id},
        ).scalar_one()
    return {
        "tasks_by_status": statuses,
        "unplaced_reasons": [{"reason": r, "tasks": n} for r, n in reasons],
        "scheduled_per_agent": {"min": per_agent[0], "max": per_agent[1], "agents": per_agent[2]},
        "strata": strata,
    }


# Report.


def print_runs(runs: dict[str, dict[str, Any]]) -> None:
    header = f"{'run':<18}{'wall s':>9}{'CPU s':>8}{'PG CPU s':>10}{'PG bg s':>9}"
    print(f"\n{header}{'peak RSS MB':>13}{'RSS at start MB':>17}{'others %':>10}")
    for name, run in runs.items():
        print(
            f"{name:<18}{run['wall_s']:>9.2f}{run['process_cpu_s']:>8.2f}"
            f"{run['postgresql_backend_cpu_s']:>10.2f}{run['postgresql_other_cpu_s']:>9.2f}"
            f"{run['peak_rss_mb']:>13.1f}{run['rss_before_mb']:>17.1f}"
            f"{100 * run['foreign_cpu_share']:>10.0f}"
        )
    print(
        "CPU: this process; PG CPU: its PostgreSQL backend; PG bg: other postgres processes "
        "(WAL, checkpoints, autovacuum, other clients); others: share of the cores other "
        "programs took"
    )
    plan = runs["plan"]
    summary = plan["summary"]
    print(f"\nconsidered {summary['considered']:,} orders; decisions:")
    for kind, count in sorted(summary["decisions"].items(), key=lambda item: -item[1]):
        print(f"  {kind:<30}{count:>10,}")
    print(
        f"tasks created {summary['tasks_created']:,} (expired {summary['expired']:,}), "
        f"scheduled {summary['scheduled']:,}, unplaced {summary['unplaced']:,}"
    )
    print("phases of the plan (s):")
    for key, value in plan["phases"].items():
        if key.endswith("_s"):
            print(f"  {key.removesuffix('_s'):<32}{value:>9.3f}")


def print_outcome(found: dict[str, Any]) -> None:
    loads = found["scheduled_per_agent"]
    print(
        f"strata {found['strata']:,}; scheduled per agent {loads['min']}-{loads['max']} "
        f"over {loads['agents']} agents; unplaced reasons:"
    )
    for entry in found["unplaced_reasons"]:
        print(f"  {entry['tasks']:>8,}  {entry['reason']}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=600_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--ratio", type=float, default=0.3, help="the campaign's sampling ratio")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--postgres-url", default=lookup.POSTGRES_URL)
    parser.add_argument("--postgres-schema", default=SCHEMA, help="dropped first")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument(
        "--profile", action="store_true", help="plan once more under cProfile (data reset first)"
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="do not wait for other benchmarks and busy cores (for a trial run)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.postgres_schema):
        raise SystemExit(f"not a plain schema name: {args.postgres_schema!r}")
    if not args.no_wait:
        # Another run of this benchmark would drop the schema under this one's feet, and
        # any other would share the cores with it: wait for them before touching anything.
        wait_for_quiet_machine(limit_s=30 * 60)
    started = datetime.now(UTC)
    git = git_state()
    begun = time.perf_counter()
    plan = make_plan(random.Random(args.seed), args.customers, args.orders, args.agents)
    print(f"planned {args.orders:,} orders in {time.perf_counter() - begun:.1f} s", flush=True)
    backend = lookup.postgres_backend(args)
    separator = "&" if "?" in args.postgres_url else "?"
    url = f"{args.postgres_url}{separator}options=-csearch_path%3D{args.postgres_schema}"
    try:
        begun = time.perf_counter()
        loaded = generate(backend.engine, plan, args.seed)
        loaded["seconds"]["total"] = round(time.perf_counter() - begun, 1)
        print(f"generated in {loaded['seconds']['total']:.0f} s", flush=True)
        del plan
        campaign_id = create_campaign(backend.engine, args.ratio)
        # Loading is not timed; the runs are: on 2 cores, wait for others' work to calm down.
        busy = cpu_busy() if args.no_wait else wait_for_idle_cores(limit_s=10 * 60)
        runs: dict[str, dict[str, Any]] = {}
        for name, job, now in (
            ("completions only", "completions", T),
            ("plan", "plan", T),
            ("replan +5 min", "replan", T + REPLAN_AFTER),
        ):
            print(f"running {name}...", flush=True)
            runs[name] = run_child(job, url, campaign_id, now)
        found = outcome(backend.engine, campaign_id)
        print_runs(runs)
        print_outcome(found)
        profiled: dict[str, Any] | None = None
        if args.profile:
            print("\nresetting the plan, then planning under cProfile...", flush=True)
            reset(backend.engine, campaign_id)
            profiled = run_child("profile", url, campaign_id, T)
            print(f"under cProfile: {profiled['wall_s']:.1f} s")
            print(profiled["profile"]["text"])
    finally:
        backend.cleanup()
    plan_run = runs["plan"]
    versions = {json.dumps(run["code"], sort_keys=True) for run in runs.values()}
    if profiled is not None:
        versions.add(json.dumps(profiled["code"], sort_keys=True))
    if len(versions) > 1:
        print("warning: the code under test changed between the runs (see each run's code)")
    result = {
        "benchmark": "campaign_plan",
        "date": started.isoformat(timespec="seconds"),
        "machine": {**machine(), "cpu_busy_share_before": busy},
        "database": "postgresql",
        "libraries": {
            name: version(name) for name in ("sqlalchemy", "sqlmodel", "pydantic", "psycopg")
        },
        "configuration": {
            "orders": args.orders,
            "customers": args.customers,
            "agents": args.agents,
            "supervisors": SUPERVISORS,
            "stations": STATIONS,
            "engineers": STATIONS * ENGINEERS_PER_STATION,
            "categories": len(CATEGORY_WEIGHTS),
            "planning_moment": T.isoformat(),
            "completions_spread_hours": SPREAD.total_seconds() / 3600,
            "sampling_ratio": args.ratio,
            "stratify_by": ["station", "engineer", "category"],
            "window_hours": [2.0, 48.0],
            "exclude_called_days": 7,
            "agent_calendar": {"weekly_hours": WEEK, "capacity_per_hour": 10, "languages": ["zh"]},
            "do_not_call": DNC_ON_FILE + DNC_UNKNOWN,
            "contact_preferences": PREFERENCES,
            "called_last_week": CALLED_LAST_WEEK,
            "seed": args.seed,
            "measured_in": "a fresh child process per run (multiprocessing spawn); peak RSS "
            "is its VmHWM, imports included (rss_before_mb: at the start of the run); "
            "ru_maxrss_mb also starts at the parent's RSS at the fork (Linux keeps it "
            "across exec)",
        },
        "code": {**git, "same_in_every_run": len(versions) == 1},
        "generation": loaded,
        "runs": runs,
        "outcome": found,
        "goal": {"plan_seconds": GOAL_SECONDS, "peak_rss_mb": GOAL_RSS_MB},
        "goal_met": plan_run["wall_s"] < GOAL_SECONDS and plan_run["peak_rss_mb"] < GOAL_RSS_MB,
    }
    if profiled is not None:
        profile = profiled.pop("profile")
        result["profile"] = {
            "wall_s_under_cprofile": profiled["wall_s"],
            "code": profiled["code"],
            "by_own_time": profile["by_own_time"],
            "by_cumulative": profile["by_cumulative"],
        }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
