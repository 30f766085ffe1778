"""The console in Debian's Chromium, driven by Playwright, against the real call path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session, func, select

from orders.enums import Role
from orders.models import WorkOrder
from tests.conftest import IN_CI, PASSWORD
from tests.live_server import serve
from tests.twilio_sim import TwilioSimulator

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("Chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def _close_pages(browser: Browser) -> Iterator[None]:
    yield
    for context in browser.contexts:
        context.close()


@pytest.fixture
def base_url(app: Any) -> Iterator[str]:
    with serve(app) as address:
        yield f"http://{address}"


def _page(browser: Browser, base_url: str, username: str) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{base_url}/console")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-console", "ready", timeout=10_000)
    return page, dialogs


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_agent_gets_the_pop_and_creates_an_order_in_one_click(
    browser: Browser,
    base_url: str,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
    db: Session,
) -> None:
    customer = make_customer(name="王建国", title="先生", phones=("13800138000",))
    appliance = make_appliance(customer.id, brand="海尔")
    open_order = make_order(customer.id, appliance.id, fault_description="不脱水")
    make_user(Role.AGENT, username="agent-ui")
    page, dialogs = _page(browser, base_url, "agent-ui")
    page.click("#go-available")
    expect(page.locator("#agent-state")).to_have_text("available")

    sim.call("+8613800138000").press("0")
    card = page.locator(".customer")
    expect(card.locator(".customer-name")).to_have_text("王建国 先生", timeout=10_000)
    expect(card).to_contain_text("海尔")
    expect(card).to_contain_text(open_order.number)
    expect(card.locator(".badge")).to_have_text("保内")
    _shot(page, "screen-pop")

    before = db.exec(select(func.count()).select_from(WorkOrder)).one()
    card.locator(".fault").fill("洗衣机漏水")
    card.locator(".create-order").click()
    expect(page.locator("#order-result")).to_contain_text("已创建工单", timeout=10_000)
    db.expire_all()
    assert db.exec(select(func.count()).select_from(WorkOrder)).one() == before + 1
    created = db.exec(select(WorkOrder).order_by(WorkOrder.id.desc())).first()
    assert (created.customer_id, created.appliance_id, created.channel) == (
        customer.id,
        appliance.id,
        "phone",
    )
    assert created.fault_description == "洗衣机漏水"
    assert dialogs == []


def test_wall_shows_waiting_calls_come_and_go(
    browser: Browser,
    base_url: str,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
) -> None:
    make_customer(name="李娜", phones=("13900139000",))
    make_user(Role.SUPERVISOR, username="wall-ui")
    page, _dialogs = _page(browser, base_url, "wall-ui")
    caller = sim.call("+8613900139000")
    caller.press("0")  # nobody is available: the caller waits
    waiting = page.locator("#queue-table tr[data-queue='hotline-zh-CN'] td").nth(1)
    expect(waiting).to_have_text("1", timeout=10_000)
    _shot(page, "wall-waiting")
    caller.status("completed")  # the caller gives up
    expect(waiting).to_have_text("0", timeout=10_000)
    abandoned = page.locator("#queue-table tr[data-queue='hotline-zh-CN'] td").nth(4)
    expect(abandoned).to_have_text("1")
    _shot(page, "wall-after")


def test_customer_fields_render_as_text_and_run_nothing(
    browser: Browser,
    base_url: str,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    evil = "<img src=x onerror=alert(1)>"
    customer = make_customer(name=evil, phones=("13700137000",))
    make_appliance(customer.id, brand="<script>alert(2)</script>")
    make_user(Role.AGENT, username="agent-xss")
    page, dialogs = _page(browser, base_url, "agent-xss")
    page.click("#go-available")
    expect(page.locator("#agent-state")).to_have_text("available")
    sim.call("+8613700137000").press("0")
    name = page.locator(".customer-name")
    expect(name).to_have_text(evil, timeout=10_000)
    assert page.locator("#pop-customers img").count() == 0
    assert page.locator("#pop-customers script").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []
