"""A carry-in machine repaired and waiting at the station is still awaited by its owner:
the pop shows it among the open orders and the IVR reads its status out."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from orders import SYSTEM, lookup_caller, order_status_for_caller
from orders.enums import OrderStatus, ServiceMode
from orders.schemas import OrderCreate, TransitionIn
from orders.services import work_orders
from tests.conftest import fixed_clock
from tests.test_sla import cst

STEPS = [
    OrderStatus.ASSIGNED,
    OrderStatus.ACCEPTED,
    OrderStatus.CONTACTED,
    OrderStatus.IN_SERVICE,
    OrderStatus.COMPLETED,
    OrderStatus.READY_FOR_PICKUP,
]


def test_a_machine_waiting_for_pickup_pops_and_is_read_out(
    db: Session, station: Any, make_customer: Any, make_appliance: Any
) -> None:
    customer = make_customer(phones=("13900139000",))
    tv = make_appliance(customer.id, category="tv", purchase_date=date(2025, 1, 1))
    clock = fixed_clock(cst(2025, 9, 4, 9, 0))
    order = work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id, appliance_id=tv.id, service_mode=ServiceMode.CARRY_IN
        ),
        actor=SYSTEM,
        clock=clock,
    )
    for step in STEPS:
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=clock,
        )

    pop = lookup_caller(db, phone="+8613900139000", clock=clock)
    heard = order_status_for_caller(db, customer_id=customer.id, number=None, callers=[customer.id])

    assert [o.number for o in pop.customers[0].open_orders] == [order.number]
    assert heard == (order.number, OrderStatus.READY_FOR_PICKUP)


def _repaired(db: Session, station: Any, customer: Any, appliance: Any, at: Any) -> Any:
    order = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=appliance.id),
        actor=SYSTEM,
        clock=fixed_clock(at),
    )
    for step in STEPS[:5]:
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=fixed_clock(at),
        )
    return order


def test_the_same_appliance_back_within_90_days_is_flagged_under_the_repair_warranty(
    db: Session, station: Any, make_customer: Any, make_appliance: Any
) -> None:
    customer = make_customer(phones=("13900139001",))
    washer = make_appliance(customer.id, purchase_date=date(2025, 1, 1))
    repaired = _repaired(db, station, customer, washer, cst(2025, 6, 1, 9, 0))

    again = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=washer.id),
        actor=SYSTEM,
        clock=fixed_clock(cst(2025, 8, 29, 9, 0)),  # day 89
    )
    too_late = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=washer.id),
        actor=SYSTEM,
        clock=fixed_clock(cst(2025, 9, 1, 9, 0)),  # day 92
    )
    pop = lookup_caller(db, phone="+8613900139001", clock=fixed_clock(cst(2025, 9, 1, 10, 0)))

    assert again.repair_warranty_of == repaired.id
    assert too_late.repair_warranty_of is None
    flagged = {o.number: o.repair_warranty_of for o in pop.customers[0].open_orders}
    assert flagged[again.number] == repaired.id
