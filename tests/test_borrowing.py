"""Borrowing parts from the central store and giving them back (spec §4.1, §4.3): two
approvals, the noon cut-off for shipping, return deadlines and billing in the station's
working days across National Day 2025 (holidays 10-01..10-08, make-up working days Sunday
09-28 and Saturday 10-11), loaner units through the same ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from core.errors import PermissionDenied
from orders import SYSTEM, Actor
from orders.enums import OrderStatus, Role, WarrantyStatus
from orders.models import Station, WorkOrder
from orders.schemas import TransitionIn
from orders.services import work_orders
from parts.enums import IssueType, ReturnCondition, WarehouseKind
from parts.exceptions import InvalidPartRequest, OutOfStock
from parts.ledger import discrepancies, on_hand
from parts.schemas import (
    LoanIn,
    MaterialIn,
    PartIn,
    PartRequestDecision,
    PartRequestIn,
    PartRequestLineIn,
    ReceiptIn,
    ReturnIn,
    WarehouseIn,
)
from parts.services import borrowing, catalogue, loans, materials, warehouses
from tests.conftest import fixed_clock

CST = ZoneInfo("Asia/Shanghai")
HOTLINE = Actor(id=None, name="热线班长", role=Role.SUPERVISOR)
MANAGER = Actor(id=None, name="售后经理", role=Role.ADMIN)


def cst(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=CST).astimezone(UTC)


@pytest.mark.parametrize(
    ("approved", "ships"),
    [
        (cst(2025, 9, 25, 11, 59), date(2025, 9, 25)),  # Thursday before noon: that day
        (cst(2025, 9, 25, 12, 0), date(2025, 9, 26)),  # at noon: the next working day
        (cst(2025, 9, 26, 15, 0), date(2025, 9, 28)),  # Friday afternoon: the make-up Sunday
        (cst(2025, 9, 27, 10, 0), date(2025, 9, 28)),  # a Saturday off, even before noon
        (cst(2025, 9, 30, 14, 0), date(2025, 10, 9)),  # over National Day
    ],
)
def test_the_central_store_ships_before_noon_the_same_day_else_the_next_working_day(
    approved: datetime, ships: date
) -> None:
    assert borrowing.ship_day(approved) == ships


@pytest.fixture
def desk(db: Session, station: Station) -> dict[str, Any]:
    at = fixed_clock(cst(2025, 9, 1, 9, 0))
    part = catalogue.create_part(
        db,
        data=PartIn(
            code="MOTOR-1", name="洗衣机电机", station_price_fen=30000, public_price_fen=45000
        ),
        actor=SYSTEM,
        clock=at,
    )
    stores = {
        kind: warehouses.create_warehouse(
            db,
            data=WarehouseIn(
                code=f"{station.code}-{kind.value}", name=kind.value, kind=kind, station_id=owner
            ),
            actor=SYSTEM,
            clock=at,
        ).id
        for kind, owner in (
            (WarehouseKind.CENTRAL, None),
            (WarehouseKind.DAMAGED, None),
            (WarehouseKind.STATION, station.id),
            (WarehouseKind.LOANER, station.id),
        )
    }
    warehouses.receive(
        db,
        warehouse_id=stores[WarehouseKind.CENTRAL],
        data=ReceiptIn(part_id=part.id, quantity=20),
        actor=SYSTEM,
        clock=at,
    )
    staff = Actor(id=None, name="站长", role=Role.STATION, station_id=station.id)
    return {"part": part.id, "stores": stores, "station": station, "staff": staff}


def _shipped(db: Session, desk: dict[str, Any], quantity: int, approved: datetime) -> int:
    request = borrowing.request_parts(
        db,
        data=PartRequestIn(lines=[PartRequestLineIn(part_id=desk["part"], quantity=quantity)]),
        actor=desk["staff"],
        clock=fixed_clock(approved),
    )
    with pytest.raises(InvalidPartRequest):  # not before both have signed
        borrowing.ship(db, request_id=request.id, actor=HOTLINE, clock=fixed_clock(approved))
    with pytest.raises(PermissionDenied):  # the station cannot approve its own request
        borrowing.decide(
            db,
            request_id=request.id,
            data=PartRequestDecision(approve=True),
            actor=desk["staff"],
            clock=fixed_clock(approved),
        )
    for signer in (HOTLINE, MANAGER):
        decided = borrowing.decide(
            db,
            request_id=request.id,
            data=PartRequestDecision(approve=True),
            actor=signer,
            clock=fixed_clock(approved),
        )
    assert decided.status == "approved"
    shipped = borrowing.ship(db, request_id=request.id, actor=HOTLINE, clock=fixed_clock(approved))
    assert shipped.status == "shipped"
    due = borrowing.due_returns(db, viewer=desk["staff"], clock=fixed_clock(approved))
    return due[-1].borrowed_id


def test_a_shipment_moves_central_stock_to_the_station_and_is_counted_in_its_working_days(
    db: Session, desk: dict[str, Any]
) -> None:
    stores = desk["stores"]
    borrowed = _shipped(db, desk, 4, cst(2025, 9, 26, 10, 0))  # a Friday

    assert on_hand(db, stores[WarehouseKind.CENTRAL], desk["part"]) == 16
    assert on_hand(db, stores[WarehouseKind.STATION], desk["part"]) == 4
    [line] = borrowing.due_returns(
        db, viewer=desk["staff"], clock=fixed_clock(cst(2025, 10, 10, 17, 0))
    )
    assert line.borrowed_id == borrowed
    # Out since Friday 09-26: Sun 09-28 (make-up), 09-29, 09-30, then 10-09 and 10-10.
    assert line.working_days_out == 5
    assert line.unused_due_on == date(
        2025, 10, 16
    )  # 10 working days, the Saturday 10-11 one of them
    assert line.bill_on == date(2025, 10, 30)
    assert (line.outstanding, line.state) == (4, "ok")
    [late] = borrowing.due_returns(
        db, viewer=desk["staff"], clock=fixed_clock(cst(2025, 10, 17, 9, 0))
    )
    assert late.state == "overdue"
    assert discrepancies(db) == []


def test_unused_parts_go_back_faulty_ones_come_with_their_voucher_and_the_rest_is_billed(
    db: Session, desk: dict[str, Any], make_customer: Any, make_appliance: Any, make_order: Any
) -> None:
    stores, part = desk["stores"], desk["part"]
    borrowed = _shipped(db, desk, 4, cst(2025, 9, 26, 10, 0))
    customer = make_customer()
    order = db.get(WorkOrder, make_order(customer.id, make_appliance(customer.id).id).id)
    assert order is not None
    order.station_id, order.status = desk["station"].id, OrderStatus.IN_SERVICE
    order.warranty_status = WarrantyStatus.IN_WARRANTY
    db.add(order)
    db.commit()
    materials.add_line(
        db,
        order_id=order.id or 0,
        data=MaterialIn(part_id=part, quantity=1, issue_type=IssueType.IN_WARRANTY),
        actor=desk["staff"],
        clock=fixed_clock(cst(2025, 9, 30, 9, 0)),
    )
    work_orders.transition_order(
        db,
        order_id=order.id or 0,
        data=TransitionIn(to=OrderStatus.COMPLETED),
        actor=SYSTEM,
        clock=fixed_clock(cst(2025, 9, 30, 16, 0)),
    )

    def back(
        quantity: int, condition: ReturnCondition, when: datetime, voucher: int | None = None
    ) -> Any:
        return borrowing.give_back(
            db,
            borrowed_id=borrowed,
            data=ReturnIn(quantity=quantity, condition=condition, voucher_order_id=voucher),
            actor=desk["staff"],
            clock=fixed_clock(when),
        )

    with pytest.raises(InvalidPartRequest, match="voucher"):
        back(1, ReturnCondition.FAULTY, cst(2025, 10, 14, 10, 0))
    # Completed Tuesday 09-30: five working days are 10-09, 10-10, 10-11 (make-up), 10-13, 10-14.
    faulty = back(1, ReturnCondition.FAULTY, cst(2025, 10, 15, 10, 0), voucher=order.id)
    assert (faulty.due_on, faulty.late) == (date(2025, 10, 14), True)
    unused = back(1, ReturnCondition.UNUSED, cst(2025, 10, 16, 10, 0))
    assert (unused.due_on, unused.late) == (date(2025, 10, 16), False)
    with pytest.raises(InvalidPartRequest, match="2 of these parts are out"):
        back(3, ReturnCondition.UNUSED, cst(2025, 10, 16, 11, 0))
    assert on_hand(db, stores[WarehouseKind.CENTRAL], part) == 17  # 20 - 4 shipped + 1 unused back
    assert on_hand(db, stores[WarehouseKind.DAMAGED], part) == 1  # the faulty one
    assert on_hand(db, stores[WarehouseKind.STATION], part) == 2  # 4 - 1 used - 1 back

    assert borrowing.bill_overdue(db, now=cst(2025, 10, 29, 23, 0)) == 0
    assert borrowing.bill_overdue(db, now=cst(2025, 10, 30, 9, 0)) == 2
    assert borrowing.bill_overdue(db, now=cst(2025, 10, 31, 9, 0)) == 0  # once
    [billed] = borrowing.due_returns(
        db, viewer=desk["staff"], clock=fixed_clock(cst(2025, 10, 31, 9, 0))
    )
    assert (billed.state, billed.billed_quantity, billed.billed_fen) == ("billed", 2, 2 * 30000)
    assert discrepancies(db) == []


def test_a_refused_request_never_ships_and_a_short_central_store_ships_nothing(
    db: Session, desk: dict[str, Any]
) -> None:
    at = fixed_clock(cst(2025, 9, 25, 9, 0))
    lines = [
        PartRequestLineIn(part_id=desk["part"], quantity=5),
        PartRequestLineIn(part_id=desk["part"], quantity=30),
    ]
    request = borrowing.request_parts(
        db, data=PartRequestIn(lines=lines), actor=desk["staff"], clock=at
    )
    for signer in (HOTLINE, MANAGER):
        borrowing.decide(
            db,
            request_id=request.id,
            data=PartRequestDecision(approve=True),
            actor=signer,
            clock=at,
        )
    with pytest.raises(OutOfStock):
        borrowing.ship(db, request_id=request.id, actor=HOTLINE, clock=at)
    assert (
        on_hand(db, desk["stores"][WarehouseKind.CENTRAL], desk["part"]) == 20
    )  # the first line too
    assert on_hand(db, desk["stores"][WarehouseKind.STATION], desk["part"]) == 0

    other = borrowing.request_parts(
        db, data=PartRequestIn(lines=lines[:1]), actor=desk["staff"], clock=at
    )
    with pytest.raises(InvalidPartRequest, match="reason"):
        borrowing.decide(
            db,
            request_id=other.id,
            data=PartRequestDecision(approve=False),
            actor=MANAGER,
            clock=at,
        )
    refused = borrowing.decide(
        db,
        request_id=other.id,
        data=PartRequestDecision(approve=False, reason="库存紧张，改用替代件"),
        actor=MANAGER,
        clock=at,
    )
    assert (refused.status, refused.rejected_by) == ("rejected", "售后经理")
    with pytest.raises(InvalidPartRequest):
        borrowing.ship(db, request_id=other.id, actor=HOTLINE, clock=at)


def test_only_the_hotline_and_the_manager_may_refuse_a_parts_request(
    db: Session, desk: dict[str, Any]
) -> None:
    """Found: the refusal was decided before the signer's role was looked at, so the staff
    of any station (or an engineer, or an agent) could refuse another station's request."""
    at = fixed_clock(cst(2025, 9, 25, 9, 0))
    request = borrowing.request_parts(
        db,
        data=PartRequestIn(lines=[PartRequestLineIn(part_id=desk["part"], quantity=1)]),
        actor=desk["staff"],
        clock=at,
    )
    strangers = [
        Actor(id=None, name="别站站长", role=Role.STATION, station_id=desk["station"].id + 1),
        Actor(id=None, name="工程师", role=Role.ENGINEER, station_id=desk["station"].id),
        Actor(id=None, name="坐席", role=Role.AGENT),
    ]
    for stranger in strangers:
        with pytest.raises(PermissionDenied):
            borrowing.decide(
                db,
                request_id=request.id,
                data=PartRequestDecision(approve=False, reason="不给"),
                actor=stranger,
                clock=at,
            )
    for signer in (HOTLINE, MANAGER):  # still pending: both may sign it
        decided = borrowing.decide(
            db,
            request_id=request.id,
            data=PartRequestDecision(approve=True),
            actor=signer,
            clock=at,
        )
    assert decided.status == "approved"


def test_a_loaner_unit_goes_out_and_comes_back_through_the_ledger(
    db: Session, desk: dict[str, Any], make_customer: Any, make_appliance: Any, make_order: Any
) -> None:
    loaner = desk["stores"][WarehouseKind.LOANER]
    at = fixed_clock(cst(2025, 9, 25, 9, 0))
    unit = catalogue.create_part(
        db,
        data=PartIn(
            code="LOANER-WM",
            name="备用洗衣机",
            station_price_fen=0,
            public_price_fen=0,
            sellable=False,
        ),
        actor=SYSTEM,
        clock=at,
    )
    warehouses.receive(
        db,
        warehouse_id=loaner,
        data=ReceiptIn(part_id=unit.id, quantity=1),
        actor=desk["staff"],
        clock=at,
    )
    customer = make_customer()
    order = db.get(WorkOrder, make_order(customer.id, make_appliance(customer.id).id).id)
    assert order is not None
    order.station_id = desk["station"].id
    db.add(order)
    db.commit()
    lent = loans.lend(
        db, order_id=order.id or 0, data=LoanIn(part_id=unit.id), actor=desk["staff"], clock=at
    )
    assert on_hand(db, loaner, unit.id) == 0
    with pytest.raises(OutOfStock):  # the one unit is out
        loans.lend(
            db, order_id=order.id or 0, data=LoanIn(part_id=unit.id), actor=desk["staff"], clock=at
        )
    back = loans.take_back(db, loan_id=lent.id, actor=desk["staff"], clock=at)
    assert back.status == "returned" and on_hand(db, loaner, unit.id) == 1
    assert discrepancies(db) == []
