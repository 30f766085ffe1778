"""The agent's callbacks in Debian's Chromium: a satisfaction callback in the agent's
calendar turns due at its time, a click calls the customer and pops their record, and the
score the agent records lands on the order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select

from callbacks.models import OutboundTask
from callbacks.schemas import CampaignIn
from callbacks.services import campaigns
from orders import SYSTEM, Role
from orders.models import WorkOrder
from tests.browser_harness import login_page, shot
from tests.conftest import OPEN_HOURS, TestClock, bearer
from tests.outbound_data import WEEK, completed_orders

pytest_plugins = ["tests.browser_harness"]
pytestmark = pytest.mark.clock

VIEWPORT = {"width": 1366, "height": 768}


def test_a_due_callback_appears_at_its_time_and_one_click_calls_and_pops_the_customer(
    browser: Browser,
    base_url: str,
    client: Any,
    db: Session,
    clock: TestClock,
    make_user: Any,
    headers: dict[str, dict[str, str]],
) -> None:
    agent = make_user(Role.AGENT, username="callback-agent")
    # One call a minute from 09:00; the clock is 50 s past 10:00, so the first free slot
    # after the window opens (5 s from now) is 10:01, about ten seconds away.
    clock.set(OPEN_HOURS + timedelta(seconds=50))
    client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 60},
        headers=headers["supervisor"],
    )
    [order] = completed_orders(
        db, count=1, start=clock() - timedelta(hours=2) + timedelta(seconds=5), span=timedelta(0)
    )
    campaign = campaigns.create_campaign(
        db,
        CampaignIn(name="回访", sampling_ratio=1.0, starts_at=clock() - timedelta(days=1)),
        actor=SYSTEM,
        now=clock(),
    )
    campaigns.plan_campaign(db, campaign.id, now=clock())
    [task] = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign.id)).all()
    assert task.due_at == OPEN_HOURS + timedelta(minutes=1), task.unplaced_reason

    page, problems = login_page(browser, base_url, agent.username, VIEWPORT)
    item = page.locator(f"#tasks li[data-task='{task.id}']")
    expect(item).to_be_visible()
    expect(item.locator(".task-name")).to_have_text("客户0")
    expect(item).not_to_have_class("task due")
    expect(page.locator("#task-alert")).to_be_hidden()

    expect(item).to_have_class("task due", timeout=30_000)
    expect(page.locator("#task-alert")).to_contain_text("回访到时")
    expect(page.locator("#task-alert")).to_contain_text("客户0")
    shot(page, "outbound-due")

    item.locator(".task-call").click()
    expect(page.locator("#pop")).to_be_visible()
    expect(page.locator("#pop-customers")).to_contain_text("客户0")
    expect(page.locator("#pop-number")).to_have_text(task.phone)
    dialling = page.locator(f"#tasks li[data-task='{task.id}'] .task-dialling a")
    expect(dialling).to_have_attribute("href", f"tel:{task.phone}")
    expect(page.locator(f"#tasks li[data-task='{task.id}']")).to_have_attribute(
        "data-status", "in_progress"
    )

    again = page.locator(f"#tasks li[data-task='{task.id}']")
    again.locator(".task-outcome select").select_option("4")
    again.locator(".task-score").click()
    expect(page.locator(f"#tasks li[data-task='{task.id}']")).to_have_attribute(
        "data-status", "done"
    )
    shot(page, "outbound-done")

    db.expire_all()
    row = db.get(WorkOrder, order.order_id)
    assert row is not None and row.satisfaction_score == 4
    pop = client.get("/api/lookup", params={"phone": task.phone}, headers=bearer(agent))
    assert pop.json()["customers"][0]["last_satisfaction_score"] == 4
    assert problems == []


def test_a_supervisor_sees_each_campaign_s_progress_and_keeps_the_do_not_call_list(
    browser: Browser,
    base_url: str,
    db: Session,
    clock: TestClock,
    make_user: Any,
) -> None:
    boss = make_user(Role.SUPERVISOR, username="outbound-boss")
    completed_orders(db, count=10, start=clock() - timedelta(hours=3), span=timedelta(minutes=9))
    campaign = campaigns.create_campaign(
        db,
        CampaignIn(name="十一月回访", sampling_ratio=0.5, starts_at=clock() - timedelta(days=1)),
        actor=SYSTEM,
        now=clock(),
    )
    campaigns.plan_campaign(db, campaign.id, now=clock())

    page, problems = login_page(browser, base_url, boss.username, VIEWPORT)
    line = page.locator(f"#campaign-table tr[data-campaign='{campaign.id}'] td")
    expect(line.nth(0)).to_have_text("十一月回访")
    expect(line.nth(1)).to_have_text("10")
    page.fill("#dnc-form input[name=phone]", "139 0000 1234")
    page.fill("#dnc-form input[name=reason]", "客户要求不再回访")
    page.click("#dnc-form button[type=submit]")
    entry = page.locator("#dnc-list li", has_text="+8613900001234")
    expect(entry).to_contain_text("客户要求不再回访")
    page.fill("#dnc-form input[name=phone]", "not a number")
    page.click("#dnc-form button[type=submit]")
    expect(page.locator("#outbound-error")).not_to_be_empty()
    shot(page, "outbound-desk")
    entry.locator("button").click()
    expect(page.locator("#dnc-list li", has_text="+8613900001234")).to_have_count(0)
    assert problems == []
