"""The station view on a phone-sized screen, in Debian's Chromium: a station user
acknowledges an order and the supervisor's wall, open beside it, shows the SLA change
without a reload."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session

from orders import SYSTEM
from orders.enums import OrderStatus, Role
from orders.schemas import AppointmentIn, OrderCreate, TransitionIn
from orders.services import appointments, work_orders
from tests.browser_harness import login_page, shot
from tests.conftest import OPEN_HOURS, TestClock, fixed_clock

pytest_plugins = ["tests.browser_harness"]
pytestmark = pytest.mark.clock
"""The SLA clocks run on the tests' clock."""

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}


def test_a_station_user_on_a_phone_acknowledges_and_the_wall_sees_it_live(
    browser: Browser,
    base_url: str,
    db: Session,
    clock: TestClock,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    customer = make_customer(name="王建国", title="先生")
    washer = make_appliance(customer.id, brand="海尔", model="XQG100")
    dispatched = OPEN_HOURS - timedelta(minutes=100)
    order = work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id, appliance_id=washer.id, fault_description="不脱水"
        ),
        actor=SYSTEM,
        clock=fixed_clock(dispatched),
    )
    work_orders.transition_order(
        db,
        order_id=order.id,
        data=TransitionIn(to=OrderStatus.ASSIGNED, station_id=station.id),
        actor=SYSTEM,
        clock=fixed_clock(dispatched),
    )
    # 100 of the 120 minutes to acknowledge are gone: past the 75 % warning line.
    clock.set(OPEN_HOURS)
    make_user(Role.SUPERVISOR, username="desk-ui")
    make_user(Role.STATION, username="station-ui", station_id=station.id)
    wall, _ = login_page(browser, base_url, "desk-ui", LAPTOP)
    expect(wall.locator("#sla-warning")).to_have_text("1", timeout=10_000)
    expect(wall.locator("#sla-orders")).to_contain_text(order.number)

    phone, dialogs = login_page(browser, base_url, "station-ui", PHONE)
    job = phone.locator(f".job[data-order='{order.number}']")
    expect(job).to_contain_text("王建国先生")
    expect(job).to_contain_text("北京市北京市朝阳区建国路88号")
    expect(job.locator(".pill").first).to_have_text("已派单")
    expect(job.locator(".sla")).to_have_attribute("data-sla", "warning")
    # Fits the phone: nothing wider than the screen, the button big enough for a thumb.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    acknowledge = job.locator("button[data-step='accepted']")
    box = acknowledge.bounding_box()
    assert box is not None and box["height"] >= 40
    shot(phone, "station-phone")

    acknowledge.click()

    try:
        expect(job.locator(".pill").first).to_have_text("已接单", timeout=10_000)
    except AssertionError as failure:
        shown = job.locator(".error").text_content()
        raise AssertionError(f"not acknowledged; the card shows the error {shown!r}") from failure
    expect(job.locator("button[data-step='contacted']")).to_be_visible()
    expect(wall.locator("#sla-warning")).to_have_text("0", timeout=10_000)
    expect(wall.locator("#sla-orders")).not_to_contain_text(order.number)
    # Acknowledged in time: the day's attainment chart counts it in this hour.
    expect(wall.locator("#sla-attainment")).to_have_text("100%")
    expect(wall.locator("#sla-chart .bar[data-met='1']")).to_have_count(1)
    assert dialogs == []
    shot(wall, "wall-after-acknowledgement")

    # A visit agreed for 11:00 today (Shanghai) puts the job on today's round.
    appointments.schedule(
        db,
        order_id=order.id,
        data=AppointmentIn(
            window_start=OPEN_HOURS + timedelta(hours=1),
            window_end=OPEN_HOURS + timedelta(hours=3),
        ),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS),
    )
    phone.reload()
    expect(job.locator(".visit")).to_have_text("今日 11:00–13:00", timeout=10_000)
    expect(phone.locator("#station-name")).to_contain_text("今日上门 1 单")
    expect(job).to_have_class("job today")
