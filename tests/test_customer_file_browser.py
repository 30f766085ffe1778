"""The customer's file in Debian's Chromium: an agent with no call finds a customer from the
header's search box, opens the file, reads each section in Chinese and in English, and
prints it alone. Screenshots go to test-artifacts/ (customer-file*.png)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session

from orders.enums import Role
from orders.models import Station
from tests.browser_harness import ARTIFACTS, ON_SQLITE, login_page, shot
from tests.conftest import OPEN_HOURS
from tests.test_customer_file import SAID, seed_file

pytest_plugins = ["tests.browser_harness"]
pytestmark = [pytest.mark.clock, ON_SQLITE]
"""The file shows the seeded fixed moments."""

VIEWPORT = {"width": 1366, "height": 768}
SECTIONS = [
    "customer",
    "appliances",
    "satisfaction",
    "contacts",
    "orders",
    "records",
    "complaints",
    "callbacks",
]


def test_an_agent_finds_a_customer_not_on_the_line_reads_and_prints_the_file(
    browser: Browser,
    base_url: str,
    app: Any,
    db: Session,
    station: Station,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_call: Any,
    make_recording: Any,
) -> None:
    handler = make_user(Role.AGENT, username="file-agent")
    seeded = seed_file(
        db,
        station=station,
        handler=handler,
        recordings_dir=app.state.recordings_dir,
        make_customer=make_customer,
        make_appliance=make_appliance,
        make_call=make_call,
        make_recording=make_recording,
    )
    page, dialogs = login_page(browser, base_url, "file-agent", VIEWPORT)
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "logged_out")

    page.fill("#customer-q", "139 1234 5678")
    page.press("#customer-q", "Enter")
    results = page.locator("#file-result-list .file-result")
    expect(results).to_have_count(1)
    expect(page.locator("#file-result-count")).to_have_text("找到 1 位客户")
    expect(page.locator("#agent")).to_be_hidden()
    results.locator("a").click()

    expect(page).to_have_url(re.compile(rf"#customer/{seeded.customer.id}$"))
    body = page.locator("#file-body")
    expect(body.locator(".file-name")).to_have_text("刘晓梅 女士")
    expect(body.locator("[data-section]")).to_have_count(len(SECTIONS))
    assert [
        body.locator("[data-section]").nth(i).get_attribute("data-section")
        for i in range(len(SECTIONS))
    ] == SECTIONS
    rung = (OPEN_HOURS - timedelta(days=3)).astimezone(ZoneInfo("Asia/Shanghai"))
    call = body.locator(f".file-call[data-call='{seeded.call.id}']")
    expect(call).to_contain_text(f"{rung:%Y-%m-%d %H:%M} · 呼入 · +8613912345678 · 正常结束")
    expect(call.locator(".file-segment")).to_have_count(len(SAID))
    expect(call.locator(".file-said").first).to_have_text(SAID[0][3])
    expect(call.locator(".file-call-note")).to_contain_text("客户投诉上门超时")
    expect(body.locator(".file-call")).to_have_count(2)
    repair = body.locator(f".file-order[data-order='{seeded.repair.number}']")
    expect(repair.locator(".file-status")).to_have_text("已完工")
    expect(repair.locator(".file-step")).to_have_count(6)
    expect(body.locator(".file-installation")).to_contain_text("已调试")
    expect(body.locator(".file-maintenance")).to_contain_text("清洗滤网和蒸发器")
    expect(body.locator(".file-plan")).to_contain_text("空调清洗 · 每 12 个月")
    complaint = body.locator(".file-complaint")
    expect(complaint).to_contain_text("上门超时")
    expect(complaint.locator(".file-crisis")).to_have_text("潜在危机")
    scored = body.locator(".file-callback[data-purpose='satisfaction']")
    expect(scored).to_contain_text("满意度回访")
    expect(scored.locator(".file-outcome")).to_have_text("已评分")
    expect(scored).to_contain_text("评分 4")
    expect(body.locator(".file-score")).to_contain_text("师傅很专业")
    call.locator(".file-play").click()  # the agent handled the call: it may hear it
    expect(call.locator("audio")).to_have_attribute("src", re.compile(r"^blob:"))
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    shot(page, "customer-file")

    page.emulate_media(media="print")
    for console_part in ("header", "#agent", "#file .file-tools", ".file-play", ".file-play-from"):
        expect(page.locator(console_part).first).to_be_hidden()
    expect(body.locator(".file-name")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)  # the whole file, as it goes to paper
    page.screenshot(path=str(ARTIFACTS / "customer-file-print.png"), full_page=True)
    page.emulate_media(media="screen")

    page.reload()  # the route survives it
    expect(body.locator(".file-name")).to_have_text("刘晓梅 女士")
    page.click("#lang")
    expect(repair.locator(".file-status")).to_have_text("completed")
    expect(body.locator("[data-section='orders'] h2")).to_contain_text("Orders")
    expect(complaint.locator(".file-crisis")).to_have_text("potential crisis")
    expect(scored.locator(".file-outcome")).to_have_text("score given")
    expect(call).to_contain_text("inbound · +8613912345678 · completed")
    expect(page.locator("#file-back")).to_have_text("Back to console")
    shot(page, "customer-file-en")

    page.click("#file-back")
    expect(page.locator("#agent")).to_be_visible()
    expect(page.locator("#file")).to_be_hidden()
    page.go_back()  # the browser's back returns to the file
    expect(body.locator(".file-name")).to_be_visible()
    assert dialogs == []

    # A supervisor, sent to the file by the function the screen pop links to.
    make_user(Role.SUPERVISOR, username="file-supervisor")
    boss, boss_dialogs = login_page(browser, base_url, "file-supervisor", VIEWPORT)
    expect(boss.locator("#customer-search")).to_be_visible()
    boss.evaluate(f"openCustomerFile({seeded.customer.id})")
    expect(boss.locator("#file-body .file-name")).to_have_text("刘晓梅 女士")
    expect(boss.locator("#wall")).to_be_hidden()
    expect(boss.locator(".file-call .file-segment")).to_have_count(len(SAID))
    boss.click("#file-back")
    expect(boss.locator("#wall")).to_be_visible()
    assert boss_dialogs == []
