"""The station view on a phone-sized screen, in Debian's Chromium: a station user
acknowledges an order and the supervisor's wall, open beside it, shows the SLA change
without a reload; the station files a visit, an installation record and a cancellation
request from the phone, and the supervisor's desk reviews the request."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Route, expect
from sqlmodel import Session, select

from callbacks.models import OutboundTask
from orders import SYSTEM
from orders.enums import OrderStatus, OrderType, Role
from orders.models import WorkOrder
from orders.schemas import AppointmentIn, OrderCreate, TransitionIn
from orders.services import appointments, work_orders
from orders.sla import sweep
from tests.browser_harness import ON_SQLITE, login_page, shot
from tests.conftest import OPEN_HOURS, TestClock, fixed_clock

pytest_plugins = ["tests.browser_harness"]
pytestmark = [pytest.mark.clock, ON_SQLITE]
"""The SLA clocks run on the tests' clock."""

SHANGHAI = ZoneInfo("Asia/Shanghai")
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
    wall.click("#wall-tab-desks")  # the desks sit behind the live wall
    expect(wall.locator("#sla-warning")).to_have_text("1")
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
        expect(job.locator(".pill").first).to_have_text("已接单")
    except AssertionError as failure:
        shown = job.locator(".error").text_content()
        raise AssertionError(f"not acknowledged; the card shows the error {shown!r}") from failure
    expect(job.locator("button[data-step='contacted']")).to_be_visible()
    expect(wall.locator("#sla-warning")).to_have_text("0")
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
    expect(job.locator(".visit")).to_have_text("今日 11:00–13:00")
    expect(phone.locator("#station-name")).to_contain_text("今日上门 1 单")
    expect(job).to_have_class("job today")


def test_a_station_files_its_paperwork_from_a_phone_and_the_desk_reviews_a_cancellation(
    browser: Browser,
    base_url: str,
    db: Session,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    customer = make_customer(name="李娜", title="女士")
    aircon = make_appliance(customer.id, brand="格力", model="KFR-35GW")

    def contacted(order_type: OrderType) -> Any:
        order = work_orders.create_order(
            db,
            data=OrderCreate(
                customer_id=customer.id, appliance_id=aircon.id, order_type=order_type
            ),
            actor=SYSTEM,
            clock=fixed_clock(OPEN_HOURS),
        )
        for to in (OrderStatus.ASSIGNED, OrderStatus.ACCEPTED, OrderStatus.CONTACTED):
            work_orders.transition_order(
                db,
                order_id=order.id,
                data=TransitionIn(to=to, station_id=station.id),
                actor=SYSTEM,
                clock=fixed_clock(OPEN_HOURS),
            )
        return order

    install = contacted(OrderType.INSTALLATION)
    repair = contacted(OrderType.REPAIR)
    make_user(Role.SUPERVISOR, username="desk-forms")
    make_user(Role.STATION, username="station-forms", station_id=station.id)
    phone, phone_dialogs = login_page(browser, base_url, "station-forms", PHONE)
    job = phone.locator(f".job[data-order='{install.number}']")

    # The visit: 14:00 today in the station's zone, two hours.
    visit = OPEN_HOURS.astimezone(SHANGHAI) + timedelta(hours=4)
    job.locator("details.more summary").click()
    job.locator("form.book-visit input[name=start]").fill(f"{visit:%Y-%m-%dT%H:%M}")
    job.locator("form.book-visit button[type=submit]").click()
    expect(job.locator(".visit")).to_have_text("今日 14:00–16:00")
    job.locator("button[data-step='in_service']").click()
    expect(job.locator(".pill").first).to_have_text("服务中")

    # Completion is refused until the installation record is filed, then goes through.
    # The refusal is shown even when an event's reload redraws the card while the
    # request is under way (the answer once went to the card that was replaced).
    held: list[Route] = []
    phone.route("**/api/orders/*/transitions", lambda route: held.append(route))
    job.locator("button[data-step='completed']").click()
    while not held:
        phone.wait_for_timeout(20)
    phone.evaluate("loadStation(true)")
    held[0].continue_()
    phone.unroute("**/api/orders/*/transitions")
    expect(job.locator(".error")).to_contain_text("installation-record")
    job.locator("details.more summary").click()
    record = job.locator("form.install-record")
    for box in ("unboxing_ok", "commissioned", "training_given"):
        record.locator(f"input[name={box}]").check()
    record.locator("input[name=customer_confirmed_by]").fill("李娜")
    record.locator("button[type=submit]").click()
    expect(job.locator(".pill.ok")).to_have_text("记录已填")
    shot(phone, "station-installation-record")
    job.locator("button[data-step='completed']").click()
    expect(job).to_have_count(0)

    # Fixed on the phone: the station asks, the desk calls the customer and approves.
    other = phone.locator(f".job[data-order='{repair.number}']")
    other.locator("details.more summary").click()
    other.locator("form.ask-cancel input[name=note]").fill("电话指导用户重新设置后恢复制冷")
    other.locator("form.ask-cancel button[type=submit]").click()
    expect(other.locator(".pill.warn")).to_have_text("删单审核中")

    # A repair reported six days ago and still not done: escalated by the sweep.
    late = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=aircon.id),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(days=6)),
    )
    sweep(db, now=OPEN_HOURS)

    wall, wall_dialogs = login_page(browser, base_url, "desk-forms", LAPTOP)
    wall.click("#wall-tab-desks")  # the desks sit behind the live wall
    escalation = wall.locator(f".escalation[data-order='{late.number}']")
    expect(escalation).to_contain_text("服务站未报延期原因")
    escalation.locator(".soothe-note").fill("已致歉，告知配件预计三日内到货")
    escalation.locator("button.soothe").click()
    expect(escalation.locator(".pill.ok")).to_have_text("已安抚")

    request = wall.locator(f".cancel-request[data-order='{repair.number}']")
    expect(request).to_contain_text("电话排除故障")
    request.locator(".review-note").fill("回访用户，确认已恢复")
    request.locator("button.approve").click()
    expect(request.locator(".error")).to_contain_text("confirm with the customer")
    request.locator(".customer-confirmed").check()
    request.locator("button.approve").click()
    try:
        expect(request).to_have_count(0, timeout=15_000)
    except AssertionError as failure:
        raise AssertionError(f"still listed: {request.inner_text()!r}") from failure
    expect(other).to_have_count(0)  # cancelled: off the station's board

    db.expire_all()
    cancelled = db.get(WorkOrder, repair.id)
    completed = db.get(WorkOrder, install.id)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert completed is not None and completed.status is OrderStatus.COMPLETED
    assert phone_dialogs == [] and wall_dialogs == []


def test_a_station_user_makes_the_follow_up_of_a_completed_repair_from_a_phone(
    browser: Browser,
    base_url: str,
    db: Session,
    clock: TestClock,
    station: Any,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    customer = make_customer(name="李梅", title="女士", phones=("13700137000",))
    completed = OPEN_HOURS - timedelta(hours=3)
    order = work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id,
            appliance_id=make_appliance(customer.id, brand="美的").id,
            fault_description="不制冷",
        ),
        actor=SYSTEM,
        clock=fixed_clock(completed),
    )
    steps = (
        OrderStatus.ASSIGNED,
        OrderStatus.ACCEPTED,
        OrderStatus.CONTACTED,
        OrderStatus.IN_SERVICE,
        OrderStatus.COMPLETED,
    )
    for step in steps:
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=fixed_clock(completed),
        )
    clock.set(OPEN_HOURS)
    make_user(Role.STATION, username="station-fu", station_id=station.id)

    phone, _ = login_page(browser, base_url, "station-fu", PHONE)
    follow_up = phone.locator("#follow-ups li.follow-up")
    expect(follow_up).to_have_count(1)
    expect(follow_up).to_contain_text("李梅")
    expect(follow_up.locator("a")).to_have_attribute("href", "tel:+8613700137000")
    expect(follow_up.locator(".sla")).to_have_text(re.compile(r"剩余 1天 2[01]小时"))  # 45 of 48 h
    follow_up.locator(".follow-up-note").fill("冰箱制冷正常，用户满意")
    follow_up.locator("button[data-outcome='reached']").click()
    expect(follow_up).to_have_count(0)
    expect(phone.locator("#follow-ups .muted")).to_be_visible()
    shot(phone, "station-follow-up")

    db.expire_all()
    [task] = db.exec(
        select(OutboundTask).where(
            OutboundTask.order_id == order.id, OutboundTask.purpose == "station_follow_up"
        )
    ).all()
    assert (task.status, task.outcome, task.note) == ("done", "reached", "冰箱制冷正常，用户满意")
