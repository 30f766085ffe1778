"""The stock ledger under concurrent requests, on both databases: a served app with its
own sessions (not the tests' one shared transaction), fifty requests released at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from sqlmodel import Session, col, select

from callcenter.app import create_app
from callcenter.settings import Settings
from core.db import make_engine
from orders import SYSTEM
from orders.enums import ApplianceCategory, OrderStatus, Role, WarrantyStatus
from orders.models import Station, User, WorkOrder
from orders.schemas import ApplianceCreate, CustomerCreate, OrderCreate, PhoneIn
from orders.services import appliances, customers, work_orders
from parts.enums import MovementReason, WarehouseKind
from parts.ledger import Move, book, discrepancies, on_hand
from parts.models import MaterialLine, Part, Warehouse
from tests.conftest import OPEN_HOURS, SECRET, TestClock, bearer, fixed_clock
from tests.live_server import serve

WRITERS = 50
IN_STOCK = 10


@pytest.fixture
def served(
    fresh_database: str, settings: Settings, bus: redis.Redis, redis_url: str
) -> Iterator[dict[str, Any]]:
    engine = make_engine(fresh_database)
    with Session(engine, expire_on_commit=False) as session:
        station = Station(code="CC1", name="并发服务站", created_at=OPEN_HOURS)
        session.add(station)
        session.commit()
        user = User(
            username="desk",
            role=Role.STATION,
            station_id=station.id,
            password_hash="x",
            created_at=OPEN_HOURS,
            updated_at=OPEN_HOURS,
        )
        part = Part(
            code="P1",
            name="门封",
            station_price_fen=100,
            public_price_fen=150,
            created_at=OPEN_HOURS,
        )
        store = Warehouse(
            code="CC1-P",
            name="配件库",
            kind=WarehouseKind.STATION,
            station_id=station.id,
            created_at=OPEN_HOURS,
        )
        session.add_all([user, part, store])
        session.commit()
        book(
            session,
            Move(part.id or 0, IN_STOCK, None, store.id, MovementReason.RECEIPT),
            actor=SYSTEM,
            at=OPEN_HOURS,
        )
        session.commit()
        orders = [_open_order(session, station.id or 0, index) for index in range(WRITERS)]
        app = create_app(
            settings=settings,
            engine=engine,
            bus=bus,
            secret_key=SECRET,
            redis_url=redis_url,
            clock=TestClock(OPEN_HOURS),
        )
        with serve(app) as host:
            yield {
                "session": session,
                "base": f"http://{host}",
                "headers": bearer(user),
                "part": part.id,
                "store": store.id,
                "orders": orders,
            }
    engine.dispose()


def _open_order(session: Session, station_id: int, index: int) -> int:
    clock = fixed_clock(OPEN_HOURS)
    customer = customers.create_customer(
        session,
        data=CustomerCreate(name=f"客户{index}", phones=[PhoneIn(number="13800138000")]),
        actor=SYSTEM,
        clock=clock,
    )
    appliance = appliances.create_appliance(
        session,
        data=ApplianceCreate(
            customer_id=customer.id, category=ApplianceCategory.REFRIGERATOR, brand="海尔"
        ),
        actor=SYSTEM,
        clock=clock,
    )
    order = session.get(
        WorkOrder,
        work_orders.create_order(
            session,
            data=OrderCreate(customer_id=customer.id, appliance_id=appliance.id),
            actor=SYSTEM,
            clock=clock,
        ).id,
    )
    assert order is not None
    order.station_id, order.status = station_id, OrderStatus.IN_SERVICE
    order.warranty_status = WarrantyStatus.IN_WARRANTY
    session.add(order)
    session.commit()
    return order.id or 0


def _at_once(calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[httpx.Response]:
    """Every call from its own thread, all released together."""
    start = threading.Barrier(len(calls))
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=len(calls))) as client:

        def run(call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
            start.wait()
            return call(client)

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(run, calls))


def _take(
    served: dict[str, Any], order_id: int, quantity: int = 1
) -> Callable[[httpx.Client], httpx.Response]:
    return lambda client: client.post(
        f"{served['base']}/api/orders/{order_id}/materials",
        json={"part_id": served["part"], "quantity": quantity, "issue_type": "in_warranty"},
        headers=served["headers"],
    )


def _active_quantity(session: Session) -> int:
    session.expire_all()
    return sum(
        session.exec(
            select(MaterialLine.quantity).where(col(MaterialLine.removed_at).is_(None))
        ).all()
    )


def test_fifty_takes_of_one_against_ten_give_ten_lines_and_forty_out_of_stock(
    served: dict[str, Any],
) -> None:
    answers = _at_once([_take(served, order) for order in served["orders"]])

    assert Counter(a.status_code for a in answers) == {201: IN_STOCK, 409: WRITERS - IN_STOCK}
    refused = [a.json() for a in answers if a.status_code == 409]
    assert {r["error_id"] for r in refused} == {"out_of_stock"}
    assert all(r["details"]["available"] < 1 for r in refused)
    session = served["session"]
    session.expire_all()
    assert on_hand(session, served["store"], served["part"]) == 0
    assert _active_quantity(session) == IN_STOCK
    assert discrepancies(session) == []


def test_changes_and_removals_interleaved_with_takes_keep_every_unit_accounted_for(
    served: dict[str, Any],
) -> None:
    # Five lines of one unit each first: five units left in the store.
    made = _at_once([_take(served, order) for order in served["orders"][:5]])
    lines = [(a.json()["order_id"], a.json()["id"]) for a in made]
    base, headers = served["base"], served["headers"]

    def change(order: int, line: int, quantity: int) -> Callable[[httpx.Client], httpx.Response]:
        return lambda c: c.patch(
            f"{base}/api/orders/{order}/materials/{line}",
            json={"quantity": quantity},
            headers=headers,
        )

    def remove(order: int, line: int) -> Callable[[httpx.Client], httpx.Response]:
        return lambda c: c.delete(f"{base}/api/orders/{order}/materials/{line}", headers=headers)

    calls = [
        remove(*lines[0]),
        remove(*lines[1]),
        remove(*lines[2]),
        change(*lines[3], 4),
        change(*lines[4], 3),
    ]
    calls += [_take(served, order) for order in served["orders"][5:25]]
    calls += [change(*lines[3], 2), change(*lines[4], 1)]  # the same lines changed again, at once
    answers = _at_once(calls)

    assert {a.status_code for a in answers} <= {200, 201, 409}
    assert all(a.json()["error_id"] == "out_of_stock" for a in answers if a.status_code == 409)
    assert all(a.status_code == 200 for a in answers[:3])  # removals never lack stock
    session = served["session"]
    session.expire_all()
    left = on_hand(session, served["store"], served["part"])
    assert left >= 0
    assert left + _active_quantity(session) == IN_STOCK  # not one unit made or lost
    assert discrepancies(session) == []
