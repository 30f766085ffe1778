"""The back office in Debian's Chromium: on the supervisor's wall the parts desk shows a
store's stock and value, the hotline signs a parts request, and the audit desk approves a
completion slip with a reward; the engineer's phone then shows the commission computed;
an agent's pop shows the fee schedule under an appliance out of warranty."""

from __future__ import annotations

import base64
from typing import Any

from playwright.sync_api import Browser, expect
from sqlmodel import Session

from billing.enums import Confirmation, ServiceKind
from billing.schemas import CommissionRateIn, RewardItemIn, SlipIn
from billing.services import rates, slips
from orders import SYSTEM, Actor
from orders.enums import OrderStatus, Role, WarrantyStatus
from orders.models import Engineer, Station, WorkOrder
from orders.schemas import TransitionIn
from orders.services import work_orders
from parts.enums import WarehouseKind
from parts.models import PartRequest
from parts.schemas import PartIn, PartRequestIn, PartRequestLineIn, ReceiptIn, WarehouseIn
from parts.services import borrowing, catalogue, warehouses
from tests.browser_harness import ON_SQLITE, login_page, shot
from tests.conftest import OPEN_HOURS, fixed_clock

pytest_plugins = ["tests.browser_harness"]
pytestmark = ON_SQLITE

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def test_the_parts_desk_and_the_audit_desk_and_an_engineer_s_commission(
    browser: Browser,
    base_url: str,
    db: Session,
    station: Station,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> None:
    at = fixed_clock(OPEN_HOURS)
    part = catalogue.create_part(
        db,
        data=PartIn(code="FAN-9", name="室外风机", station_price_fen=25000, public_price_fen=32000),
        actor=SYSTEM,
        clock=at,
    )
    store = warehouses.create_warehouse(
        db,
        data=WarehouseIn(
            code="A-STORE", name="朝阳配件库", kind=WarehouseKind.STATION, station_id=station.id
        ),
        actor=SYSTEM,
        clock=at,
    )
    warehouses.receive(
        db,
        warehouse_id=store.id,
        data=ReceiptIn(part_id=part.id, quantity=3),
        actor=SYSTEM,
        clock=at,
    )
    staff = Actor(id=None, name="站长", role=Role.STATION, station_id=station.id)
    request = borrowing.request_parts(
        db,
        data=PartRequestIn(lines=[PartRequestLineIn(part_id=part.id, quantity=2)]),
        actor=staff,
        clock=at,
    )
    rates.set_commission(
        db, CommissionRateIn(service_kind=ServiceKind.REPAIR_MINOR, amount_fen=4000)
    )
    rates.set_reward_item(db, RewardItemIn(code="praise", name="客户表扬", amount_fen=1500))
    engineer_user = make_user(Role.ENGINEER, station_id=station.id, username="eng-office")
    engineer = Engineer(
        station_id=station.id or 0, name="赵师傅", user_id=engineer_user.id, created_at=OPEN_HOURS
    )
    db.add(engineer)
    db.commit()
    customer = make_customer()
    order = db.get(WorkOrder, make_order(customer.id, make_appliance(customer.id).id).id)
    assert order is not None
    order.station_id, order.engineer_id = station.id, engineer.id
    order.status, order.warranty_status = OrderStatus.IN_SERVICE, WarrantyStatus.IN_WARRANTY
    db.add(order)
    db.commit()
    work_orders.transition_order(
        db,
        order_id=order.id or 0,
        data=TransitionIn(to=OrderStatus.COMPLETED),
        actor=SYSTEM,
        clock=at,
    )
    slips.file_slip(
        db,
        order_id=order.id or 0,
        data=SlipIn(
            service_kind=ServiceKind.REPAIR_MINOR,
            work_done="清洗风机",
            confirmation=Confirmation.SIGNATURE,
            signature_png=PNG,
            engineer_score=5,
        ),
        actor=staff,
        clock=at,
    )
    make_user(Role.SUPERVISOR, username="office-sup")

    wall, wall_dialogs = login_page(browser, base_url, "office-sup", LAPTOP)
    wall.click("#wall-tab-desks")  # the desks sit behind the live wall
    wall.select_option("#store-choice", str(store.id))
    expect(wall.locator("#stock-table tr[data-part='FAN-9']")).to_contain_text("3")
    expect(wall.locator("#stock-value")).to_contain_text("750.00")  # three at 250.00
    expect(wall.locator("#moves .move[data-reason=receipt]")).to_contain_text("FAN-9 +3")
    asked = wall.locator(f".part-request[data-request='{request.id}']")
    asked.locator("button.approve").click()
    expect(asked.locator(".pill.ok")).to_have_text(
        "office-sup"
    )  # the hotline signed; the manager has not

    slip = wall.locator(f".slip[data-order='{order.number}']")
    slip.locator("input.quality").fill("92")
    slip.locator("input[value=praise]").check()
    shot(wall, "office-audit-desk")
    slip.locator("button.approve-slip").click()
    expect(slip).to_have_count(0)
    db.expire_all()
    pending = db.get(PartRequest, request.id)
    assert (
        pending is not None
        and pending.hotline_approved_by == "office-sup"
        and pending.status == "pending"
    )

    phone, phone_dialogs = login_page(browser, base_url, "eng-office", PHONE)
    expect(phone.locator("#commission")).to_be_visible()
    # 40.00 for a minor repair and a 15.00 reward for the customer's praise.
    expect(phone.locator(".figure-total")).to_contain_text("55.00")
    expect(phone.locator(".figure-jobs")).to_have_text("1")
    shot(phone, "office-commission")
    assert wall_dialogs == [] and phone_dialogs == []
