"""Quotes before paid work, completion slips and their audit, the engineer's commission,
fee statements and the stations' monthly settlement, each checked against figures worked
out by hand here (fen), not by the code under test."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, col, delete

from agent_console.config import ConsoleConfig
from agent_console.pop import build_pop
from billing.enums import ApprovalMethod, ChargedTo, Confirmation, FeeKind, ServiceKind
from billing.exceptions import InvalidSlip
from billing.schemas import (
    AuditIn,
    AuditItemIn,
    CommissionRateIn,
    FeeRateIn,
    LateDeductionIn,
    QuoteDecision,
    QuoteIn,
    QuotePartIn,
    RewardItemIn,
    SlipIn,
)
from billing.services import quotes, rates, slips, statements
from orders import SYSTEM, Actor, mark_callbacks_due
from orders.enums import ApplianceCategory, Milestone, OrderStatus, Role, WarrantyStatus
from orders.models import Engineer, SlaClockRow, Station, WorkOrder
from orders.schemas import TransitionIn
from orders.services import work_orders
from orders.services.lookup import lookup_caller
from parts.enums import IssueType, WarehouseKind
from parts.schemas import MaterialIn, PartIn, ReceiptIn, WarehouseIn
from parts.services import catalogue, materials, warehouses
from tests.conftest import OPEN_HOURS, bearer, fixed_clock

CST = ZoneInfo("Asia/Shanghai")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()
AUDITOR = Actor(id=None, name="审核员", role=Role.SUPERVISOR)


def cst(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=CST).astimezone(UTC)


@pytest.fixture
def books(
    client: TestClient,
    db: Session,
    station: Station,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> dict[str, Any]:
    """The schedule: medium repair of a washing machine 80.00 (60.00 for other kinds),
    travel 30.00 in town; commission 30.00 + 25 % of labour (70.00 outsourced); a reward
    of 10.00 for attitude, a penalty of 20.00 for a complaint; a late acknowledgement costs
    the station 20.00, a late visit the engineer 30.00. A part at 120.00 to stations, 180.00
    public."""
    for fee in (
        FeeRateIn(
            kind=FeeKind.LABOUR,
            service_kind=ServiceKind.REPAIR_MEDIUM,
            category=ApplianceCategory.WASHING_MACHINE,
            amount_fen=8000,
        ),
        FeeRateIn(kind=FeeKind.LABOUR, service_kind=ServiceKind.REPAIR_MEDIUM, amount_fen=6000),
        FeeRateIn(kind=FeeKind.TRAVEL, urban=True, amount_fen=3000),
        FeeRateIn(kind=FeeKind.TRAVEL, urban=False, amount_fen=5000),
    ):
        rates.set_fee(db, fee)
    # 30.00 a job plus 25 % of the job's labour fee: 50.00 for a washing machine's repair.
    rates.set_commission(
        db,
        CommissionRateIn(service_kind=ServiceKind.REPAIR_MEDIUM, amount_fen=3000, share_bp=2500),
    )
    rates.set_commission(
        db,
        CommissionRateIn(service_kind=ServiceKind.REPAIR_MEDIUM, outsourced=True, amount_fen=7000),
    )
    rates.set_reward_item(db, RewardItemIn(code="attitude", name="服务态度好", amount_fen=1000))
    rates.set_reward_item(db, RewardItemIn(code="complaint", name="客户投诉", amount_fen=-2000))
    rates.set_late_deduction(
        db,
        LateDeductionIn(
            milestone=Milestone.ACKNOWLEDGE, amount_fen=2000, charged_to=ChargedTo.STATION
        ),
    )
    rates.set_late_deduction(
        db,
        LateDeductionIn(
            milestone=Milestone.ON_SITE, amount_fen=3000, charged_to=ChargedTo.ENGINEER
        ),
    )
    at = fixed_clock(cst(2025, 10, 1, 9, 0))
    part = catalogue.create_part(
        db,
        data=PartIn(code="PUMP-1", name="排水泵", station_price_fen=12000, public_price_fen=18000),
        actor=SYSTEM,
        clock=at,
    )
    store = warehouses.create_warehouse(
        db,
        data=WarehouseIn(
            code=f"{station.code}-P",
            name="配件库",
            kind=WarehouseKind.STATION,
            station_id=station.id,
        ),
        actor=SYSTEM,
        clock=at,
    )
    warehouses.receive(
        db,
        warehouse_id=store.id,
        data=ReceiptIn(part_id=part.id, quantity=10),
        actor=SYSTEM,
        clock=at,
    )
    engineer = Engineer(station_id=station.id or 0, name="张师傅", created_at=OPEN_HOURS)
    db.add(engineer)
    db.commit()
    customer = make_customer()

    def order(warranty: WarrantyStatus) -> WorkOrder:
        appliance = make_appliance(customer.id, category=ApplianceCategory.WASHING_MACHINE)
        row = db.get(WorkOrder, make_order(customer.id, appliance.id).id)
        assert row is not None
        row.station_id, row.engineer_id, row.urban = station.id, engineer.id, True
        row.status, row.warranty_status = OrderStatus.CONTACTED, warranty
        db.add(row)
        db.commit()
        return row

    staff = Actor(id=None, name="站长", role=Role.STATION, station_id=station.id)
    return {
        "part": part.id,
        "engineer": engineer,
        "order": order,
        "staff": staff,
        "station": station,
    }


def _move(db: Session, order: WorkOrder, to: OrderStatus, when: datetime) -> None:
    work_orders.transition_order(
        db, order_id=order.id or 0, data=TransitionIn(to=to), actor=SYSTEM, clock=fixed_clock(when)
    )


def _repair_slip(db: Session, order: WorkOrder, staff: Actor) -> Any:
    """The station files a signed slip for a completed repair, the next morning."""
    return slips.file_slip(
        db,
        order_id=order.id or 0,
        data=SlipIn(
            service_kind=ServiceKind.REPAIR_MEDIUM,
            work_done="更换排水泵",
            confirmation=Confirmation.SIGNATURE,
            signature_png=PNG,
            engineer_score=5,
        ),
        actor=staff,
        clock=fixed_clock(cst(2025, 10, 11, 9, 0)),
    )


def test_paid_work_waits_for_the_customer_s_approval_of_the_quote(
    client: TestClient, db: Session, books: dict[str, Any], make_user: Any
) -> None:
    order = books["order"](WarrantyStatus.OUT_OF_WARRANTY)
    clerk = make_user(Role.STATION, station_id=books["station"].id)
    desk = bearer(clerk)
    start = client.post(
        f"/api/orders/{order.id}/transitions", json={"to": "in_service"}, headers=desk
    )
    assert start.status_code == 409 and start.json()["error_id"] == "quote_required"

    dear = client.post(
        f"/api/orders/{order.id}/quotes",
        json={
            "service_kind": "repair_medium",
            "parts": [{"part_id": books["part"], "quantity": 2, "unit_price_fen": 18001}],
        },
        headers=desk,
    )
    assert dear.status_code == 422
    quote = client.post(
        f"/api/orders/{order.id}/quotes",
        json={
            "service_kind": "repair_medium",
            "parts": [{"part_id": books["part"], "quantity": 2}],
        },
        headers=desk,
    )
    assert quote.status_code == 201, quote.text
    # Labour 80.00 (washing machine), two pumps at 180.00, travel in town 30.00.
    assert (quote.json()["labour_fen"], quote.json()["parts_fen"], quote.json()["travel_fen"]) == (
        8000,
        36000,
        3000,
    )
    assert quote.json()["total_fen"] == 47000
    declined = client.post(
        f"/api/quotes/{quote.json()['id']}/decision",
        json={"approve": False, "method": "phone", "customer_name": "王建国"},
        headers=desk,
    )
    assert declined.json()["status"] == "declined"
    again = client.post(
        f"/api/orders/{order.id}/transitions", json={"to": "in_service"}, headers=desk
    )
    assert again.json()["error_id"] == "quote_required"

    second = client.post(
        f"/api/orders/{order.id}/quotes", json={"service_kind": "repair_medium"}, headers=desk
    ).json()
    approved = client.post(
        f"/api/quotes/{second['id']}/decision",
        json={"approve": True, "method": "in_person", "customer_name": "王建国"},
        headers=desk,
    )
    assert (
        approved.json()["status"],
        approved.json()["method"],
        approved.json()["recorded_by"],
    ) == (
        "approved",
        "in_person",
        clerk.username,
    )
    twice = client.post(
        f"/api/quotes/{second['id']}/decision",
        json={"approve": False, "method": "phone", "customer_name": "王建国"},
        headers=desk,
    )
    assert twice.status_code == 409
    going = client.post(
        f"/api/orders/{order.id}/transitions", json={"to": "in_service"}, headers=desk
    )
    assert going.status_code == 200, going.text

    # Under warranty no quote is asked for.
    covered = books["order"](WarrantyStatus.IN_WARRANTY)
    assert (
        client.post(
            f"/api/orders/{covered.id}/transitions", json={"to": "in_service"}, headers=desk
        ).status_code
        == 200
    )


def _clocks(db: Session, order: WorkOrder, reported: datetime) -> None:
    """Acknowledged an hour late; contacted in time; the visit due at 05:00 the next day
    (made at 09:00 when the order goes into service: late); repaired in time. In place of
    the clocks the order's intake started."""
    db.exec(delete(SlaClockRow).where(col(SlaClockRow.order_id) == order.id))  # type: ignore[call-overload]
    for kind, due_h, met_h in (
        (Milestone.ACKNOWLEDGE, 2, 3),
        (Milestone.CONTACT, 4, 3.5),
        (Milestone.ON_SITE, 20, None),
        (Milestone.REPAIR, 120, 50),
    ):
        due = reported + timedelta(hours=due_h)
        db.add(
            SlaClockRow(
                order_id=order.id or 0,
                kind=kind,
                basis="wall_clock",
                started_at=reported,
                due_at=due,
                warn_at=due - timedelta(hours=1),
                next_check_at=due,
                met_at=reported + timedelta(hours=met_h) if met_h else None,
                state="met" if met_h else "pending",
            )
        )
    db.commit()


def test_audit_computes_commission_deductions_and_the_fee_statement_and_settlement_add_up(
    client: TestClient, db: Session, books: dict[str, Any]
) -> None:
    staff, part = books["staff"], books["part"]
    paid = books["order"](WarrantyStatus.OUT_OF_WARRANTY)
    free = books["order"](WarrantyStatus.IN_WARRANTY)
    _clocks(db, paid, cst(2025, 10, 9, 9, 0))
    quote = quotes.create_quote(
        db,
        order_id=paid.id or 0,
        data=QuoteIn(
            service_kind=ServiceKind.REPAIR_MEDIUM, parts=[QuotePartIn(part_id=part, quantity=2)]
        ),
        actor=staff,
        clock=fixed_clock(cst(2025, 10, 9, 10, 0)),
    )
    quotes.decide_quote(
        db,
        quote_id=quote.id,
        data=QuoteDecision(approve=True, method=ApprovalMethod.PHONE, customer_name="王建国"),
        actor=staff,
        clock=fixed_clock(cst(2025, 10, 9, 10, 5)),
    )
    for order, issue, quantity in (
        (paid, IssueType.OUT_OF_WARRANTY, 2),
        (free, IssueType.IN_WARRANTY, 1),
    ):
        _move(db, order, OrderStatus.IN_SERVICE, cst(2025, 10, 10, 9, 0))
        with pytest.raises(InvalidSlip, match="not completed"):
            slips.file_slip(
                db,
                order_id=order.id or 0,
                data=SlipIn(
                    service_kind=ServiceKind.REPAIR_MEDIUM,
                    work_done="更换排水泵",
                    confirmation=Confirmation.SIGNATURE,
                    signature_png=PNG,
                    engineer_score=5,
                ),
                actor=staff,
                clock=fixed_clock(cst(2025, 10, 10, 10, 0)),
            )
        materials.add_line(
            db,
            order_id=order.id or 0,
            data=MaterialIn(part_id=part, quantity=quantity, issue_type=issue),
            actor=staff,
            clock=fixed_clock(cst(2025, 10, 10, 10, 0)),
        )
        _move(db, order, OrderStatus.COMPLETED, cst(2025, 10, 10, 15, 0))

    signed = slips.file_slip(
        db,
        order_id=paid.id or 0,
        data=SlipIn(
            service_kind=ServiceKind.REPAIR_MEDIUM,
            work_done="更换排水泵两只",
            confirmation=Confirmation.SIGNATURE,
            signature_png=PNG,
            engineer_score=4,
        ),
        actor=staff,
        clock=fixed_clock(cst(2025, 10, 13, 9, 0)),
    )
    assert (signed.labour_fen, signed.travel_fen) == (8000, 3000)  # as quoted
    with pytest.raises(InvalidSlip, match="PNG"):
        slips.file_slip(
            db,
            order_id=free.id or 0,
            data=SlipIn(
                service_kind=ServiceKind.REPAIR_MEDIUM,
                work_done="更换排水泵",
                confirmation=Confirmation.SIGNATURE,
                signature_png=base64.b64encode(b"GIF89a").decode(),
                engineer_score=5,
            ),
            actor=staff,
            clock=fixed_clock(cst(2025, 10, 13, 9, 0)),
        )
    code = slips.issue_code(
        db, order_id=free.id or 0, actor=staff, clock=fixed_clock(cst(2025, 10, 10, 15, 0))
    ).code
    wrong = "000000" if code != "000000" else "111111"

    def by_code(given: str) -> Any:
        return slips.file_slip(
            db,
            order_id=free.id or 0,
            data=SlipIn(
                service_kind=ServiceKind.REPAIR_MEDIUM,
                work_done="更换排水泵",
                confirmation=Confirmation.CODE,
                code=given,
                engineer_score=5,
            ),
            actor=staff,
            clock=fixed_clock(cst(2025, 10, 13, 9, 30)),
        )

    with pytest.raises(InvalidSlip, match="confirmation code"):
        by_code(wrong)
    coded = by_code(code)
    assert (coded.labour_fen, coded.travel_fen) == (0, 0)  # under warranty: nothing charged

    # The auditor sends the coded slip back once, then approves both.
    sent_back = slips.audit(
        db,
        slip_id=coded.id,
        data=AuditIn(approve=False, note="工作内容写清楚"),
        actor=AUDITOR,
        clock=fixed_clock(cst(2025, 10, 14, 9, 0)),
    )
    assert sent_back.status == "returned"
    coded = by_code(code)
    assert coded.status == "submitted"
    audited = slips.audit(
        db,
        slip_id=signed.id,
        data=AuditIn(
            approve=True,
            quality_score=88,
            items=[AuditItemIn(code="attitude"), AuditItemIn(code="complaint")],
        ),
        actor=AUDITOR,
        clock=fixed_clock(cst(2025, 10, 20, 9, 0)),
    )
    # 50.00 base + 10.00 − 20.00 − 30.00 for the late visit = 10.00;
    # the hour-late acknowledgement costs the station 20.00.
    assert (audited.base_commission_fen, audited.rewards_fen, audited.engineer_deductions_fen) == (
        5000,
        -1000,
        3000,
    )
    assert audited.commission_fen == 1000
    assert audited.station_deductions_fen == 2000
    assert sorted(a.code for a in audited.adjustments) == [
        "attitude",
        "complaint",
        "late:acknowledge",
        "late:on_site",
    ]
    plain = slips.audit(
        db,
        slip_id=coded.id,
        data=AuditIn(approve=True, quality_score=95),
        actor=AUDITOR,
        clock=fixed_clock(cst(2025, 10, 21, 9, 0)),
    )
    assert plain.commission_fen == 5000
    with pytest.raises(InvalidSlip):
        slips.audit(
            db,
            slip_id=coded.id,
            data=AuditIn(approve=True, quality_score=95),
            actor=AUDITOR,
            clock=fixed_clock(cst(2025, 10, 21, 9, 0)),
        )

    bill = statements.fee_statement(db, order_id=paid.id or 0, viewer=SYSTEM)
    # Two pumps at 180.00, labour 80.00, travel 30.00: 470.00, none of it covered.
    assert (bill.parts_fen, bill.labour_fen, bill.travel_fen, bill.total_fen, bill.covered_fen) == (
        36000,
        8000,
        3000,
        47000,
        0,
    )
    covered = statements.fee_statement(db, order_id=free.id or 0, viewer=SYSTEM)
    # Nothing to pay; the warranty covered a pump at 180.00, labour 80.00 and travel 30.00.
    assert (covered.total_fen, covered.covered_fen) == (0, 29000)

    commission = statements.commission_report(db, month="2025-10", now=cst(2025, 11, 1, 9, 0))
    assert commission.sections[0].rows == [
        ["张师傅", books["station"].code, 2, 10000, -1000, 3000, 6000]
    ]
    settlement = statements.settlement_report(db, month="2025-10", now=cst(2025, 11, 1, 9, 0))
    [row] = settlement.sections[0].rows
    # Two audited orders, both settled (no callbacks yet); warranty fees 80.00 + 30.00;
    # three pumps consumed at 120.00; deductions 20.00; balance 110.00 − 20.00.
    assert row[2:] == [2, 2, 0, 11000, 3, 36000, 0, 0, 2000, 9000]
    # One of them sampled for a satisfaction callback still due: audited, not yet settled.
    mark_callbacks_due(db, [free.id or 0])
    db.commit()
    later = statements.settlement_report(db, month="2025-10", now=cst(2025, 11, 1, 9, 0))
    assert later.sections[0].rows[0][2:5] == [2, 1, 1]
    assert (
        statements.commission_report(db, month="2025-09", now=cst(2025, 11, 1, 9, 0))
        .sections[0]
        .rows
        == []
    )


def test_the_commission_report_route_answers_json_and_a_workbook_and_refuses_a_bad_month(
    client: TestClient, make_user: Any
) -> None:
    boss = bearer(make_user(Role.SUPERVISOR))
    bad = client.get("/api/reports/commission?month=2025-13", headers=boss)
    assert bad.status_code == 422
    book = client.get("/api/reports/commission?month=2025-10&format=xlsx", headers=boss)
    assert book.status_code == 200
    sheets = load_workbook(BytesIO(book.content)).sheetnames
    assert sheets[:2] == ["by engineer", "slips"]
    agent = bearer(make_user(Role.AGENT))
    assert client.get("/api/reports/commission?month=2025-10", headers=agent).status_code == 403


def test_the_pop_shows_the_fee_schedule_under_an_appliance_out_of_warranty(
    db: Session, books: dict[str, Any], make_customer: Any, make_appliance: Any
) -> None:
    now = cst(2025, 10, 9, 9, 0)
    customer = make_customer(phones=("13911112222",))
    make_appliance(
        customer.id,
        category=ApplianceCategory.WASHING_MACHINE,
        purchase_date=date(2019, 1, 1),
        model="OLD",
    )
    make_appliance(
        customer.id,
        category=ApplianceCategory.WASHING_MACHINE,
        purchase_date=date(2025, 9, 1),
        model="NEW",
    )
    lookup = lookup_caller(db, phone="13911112222", clock=fixed_clock(now))
    pop = build_pop(db, lookup=lookup, call_id="c1", now=now, config=ConsoleConfig())
    appliances = {a.model: a for a in pop.customers[0].appliances}
    # The washing machine's own medium-repair fee, then travel in town and outside.
    assert [(f.item, f.amount_fen) for f in appliances["OLD"].fees] == [
        ("repair_medium", 8000),
        ("travel_urban", 3000),
        ("travel_non_urban", 5000),
    ]
    assert appliances["NEW"].fees == []  # under warranty: nothing to charge


def test_the_slips_export_holds_the_json_s_rows_and_a_formula_like_name_stays_text(
    client: TestClient,
    db: Session,
    books: dict[str, Any],
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> None:
    name = '=HYPERLINK("http://evil.example","发票")'
    customer = make_customer(name=name, phones=("13933334444",))
    order = db.get(WorkOrder, make_order(customer.id, make_appliance(customer.id).id).id)
    assert order is not None
    order.station_id, order.status = books["station"].id, OrderStatus.IN_SERVICE
    order.warranty_status = WarrantyStatus.IN_WARRANTY
    db.add(order)
    db.commit()
    _move(db, order, OrderStatus.COMPLETED, cst(2025, 10, 10, 15, 0))
    _repair_slip(db, order, books["staff"])
    boss = bearer(make_user(Role.SUPERVISOR))
    rows = client.get("/api/completion-slips?status=submitted", headers=boss).json()
    book = client.get("/api/completion-slips?status=submitted&format=xlsx", headers=boss)
    sheet = load_workbook(BytesIO(book.content))["completion slips"]
    table = list(sheet.iter_rows(min_row=2))
    assert [row[0].value for row in table] == [r["id"] for r in rows]
    cell = table[-1][2]
    assert (cell.value, cell.data_type) == (name, "s")  # text, not a formula
    # Found: no "customer" heading, so every heading from it on named the next column.
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[2:4] == ["customer", "engineer"]
    assert header[-1] == "commission (fen)"
    assert len(header) == len(table[-1])
    assert table[-1][-1].value == rows[-1]["commission_fen"]


def test_an_engineer_lists_the_slips_of_their_own_jobs_only(
    db: Session, books: dict[str, Any], make_user: Any
) -> None:
    """Found: an engineer was shown every slip of their station, colleagues' customers and
    commissions with them (the commission report already showed them only their own)."""
    station = books["station"]
    order = books["order"](WarrantyStatus.IN_WARRANTY)
    _move(db, order, OrderStatus.IN_SERVICE, cst(2025, 10, 10, 9, 0))
    _move(db, order, OrderStatus.COMPLETED, cst(2025, 10, 10, 15, 0))
    filed = _repair_slip(db, order, books["staff"])
    viewers = {}
    for name, engineer in (("张师傅", books["engineer"]), ("李师傅", None)):
        user = make_user(Role.ENGINEER, station_id=station.id)
        if engineer is None:
            engineer = Engineer(station_id=station.id, name=name, created_at=OPEN_HOURS)
        engineer.user_id = user.id
        db.add(engineer)
        db.commit()
        viewers[name] = Actor(id=user.id, name=name, role=Role.ENGINEER, station_id=station.id)
    assert [s.id for s in slips.slips(db, viewer=viewers["张师傅"])] == [filed.id]
    assert slips.slips(db, viewer=viewers["李师傅"]) == []
    assert [s.id for s in slips.slips(db, viewer=books["staff"])] == [filed.id]


def test_a_commission_rate_is_a_fixed_amount_a_share_of_labour_or_both(
    client: TestClient, make_user: Any
) -> None:
    boss = bearer(make_user(Role.SUPERVISOR))
    rate = {"service_kind": "installation", "amount_fen": 1000, "share_bp": 10_001}
    over = client.put("/api/rates/commission", json=rate, headers=boss)
    assert over.status_code == 422  # more than the whole labour fee
    saved = client.put("/api/rates/commission", json={**rate, "share_bp": 1500}, headers=boss)
    assert saved.status_code == 200, saved.text
    listed = client.get("/api/rates", headers=boss).json()["commission"]
    assert {"service_kind": "installation", "outsourced": False, "amount_fen": 1000} | {
        "share_bp": 1500
    } in listed
