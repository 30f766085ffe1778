"""The agent's callbacks in Debian's Chromium: a satisfaction callback in the agent's
calendar turns due at its time, a click calls the customer and pops their record, and the
score the agent records lands on the order; the agent's week; a supervisor's desk with each
campaign's progress, pushed as outcomes come in, agents' calendars and the do-not-call list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select

from callbacks.models import OutboundTask
from callbacks.schemas import CampaignIn
from callbacks.services import campaigns
from orders import SYSTEM, Role
from orders.models import WorkOrder
from tests.browser_harness import ON_SQLITE, login_page, shot
from tests.conftest import OPEN_HOURS, TestClock, bearer
from tests.outbound_data import WEEK, completed_orders, task_of

pytest_plugins = ["tests.browser_harness"]
pytestmark = [pytest.mark.clock, ON_SQLITE]

VIEWPORT = {"width": 1366, "height": 768}
SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE_NATIONAL_DAY = datetime(2025, 9, 27, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
"""Saturday 10:00 in Shanghai, written out (the holiday data is for this year, so the week
never depends on the day the test runs): the week ahead holds a make-up working day (Sunday
09-28) and the first days of National Day's holidays (from Wednesday 10-01)."""


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
    mobile = task.phone.removeprefix("+86")  # shown grouped as the number is read
    expect(page.locator("#pop-number")).to_have_text(f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}")
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
    page.click("#wall-tab-desks")  # the desks sit behind the live wall
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


def test_an_agent_sees_the_week_ahead_with_shifts_days_off_holidays_and_tasks(
    browser: Browser, base_url: str, client: Any, clock: TestClock, make_user: Any
) -> None:
    clock.set(BEFORE_NATIONAL_DAY)
    agent = make_user(Role.AGENT, username="week-agent")
    boss = make_user(Role.SUPERVISOR, username="week-boss")
    calendar = client.put(
        f"/api/agents/{agent.id}/calendar",
        json={
            "weekly_hours": WEEK,
            "days": [{"day": "2025-09-30", "kind": "leave", "note": "年假"}],
        },
        headers=bearer(boss, clock=clock),
    )
    promised = client.post(
        "/api/tasks",
        json={"phone": "139 0000 1234", "at": "2025-09-29T10:00:00+08:00"},
        headers=bearer(agent, clock=clock),
    )
    assert calendar.status_code == 200, calendar.text
    assert promised.status_code == 201, promised.text
    assert promised.json()["status"] == "scheduled", promised.json()["unplaced_reason"]

    page, problems = login_page(browser, base_url, agent.username, VIEWPORT)
    week = page.locator("#week li.week-day")
    expect(week).to_have_count(7)
    kinds = {
        "2025-09-27": "rest_day",
        "2025-09-28": "make_up_day",
        "2025-09-29": "shift",
        "2025-09-30": "leave",
        "2025-10-01": "holiday",
        "2025-10-02": "holiday",
        "2025-10-03": "holiday",
    }
    for day, kind in kinds.items():
        expect(page.locator(f"#week li[data-day='{day}']")).to_have_attribute("data-kind", kind)
    make_up = page.locator("#week li[data-day='2025-09-28']")
    expect(make_up).to_contain_text("调休上班")
    expect(make_up).to_contain_text("09:00–12:00 13:00–18:00")  # Monday's hours
    monday = page.locator("#week li[data-day='2025-09-29']")
    expect(monday).to_have_attribute("data-tasks", "1")
    expect(monday.locator(".week-tasks")).to_have_text("10:00 +8613900001234")
    expect(page.locator("#week li[data-day='2025-09-30']")).to_contain_text("请假 年假")
    expect(page.locator("#week li[data-day='2025-10-01']")).to_contain_text("法定节假日")
    expect(page.locator("#week li[data-day='2025-10-01'] .week-hours")).to_have_count(0)
    week_box = page.locator("#week").bounding_box()
    assert week_box is not None and week_box["width"] <= 300, "fits the side column"
    shot(page, "outbound-week")

    page.click("#lang")
    expect(page.locator("#week li[data-day='2025-10-01']")).to_contain_text("Public holiday")
    expect(make_up).to_contain_text("Make-up working day")
    assert problems == []


def test_a_supervisor_gives_an_agent_a_day_off_and_sees_the_task_that_had_to_move(
    browser: Browser, base_url: str, client: Any, clock: TestClock, make_user: Any
) -> None:
    agent = make_user(Role.AGENT, username="leave-agent")
    boss = make_user(Role.SUPERVISOR, username="calendar-boss")
    client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK},
        headers=bearer(boss, clock=clock),
    )
    tomorrow = clock() + timedelta(days=1)
    promised = client.post(
        "/api/tasks",
        json={"phone": "139 0000 5678", "at": tomorrow.isoformat()},
        headers=bearer(agent, clock=clock),
    )
    assert promised.json()["status"] == "scheduled", promised.text
    day = tomorrow.astimezone(SHANGHAI).date().isoformat()

    page, problems = login_page(browser, base_url, boss.username, VIEWPORT)
    page.click("#wall-tab-desks")  # the desks sit behind the live wall
    page.select_option("#calendar-agent", str(agent.id))
    tuesday = page.locator(f"#agent-week li[data-day='{day}']")
    expect(tuesday).to_have_attribute("data-tasks", "1")
    monday = page.locator("#calendar-form input[data-weekday='1']")
    expect(monday).to_have_value("09:00-12:00, 13:00-18:00")

    monday.fill("9-12")
    page.fill("#calendar-form input[name=day]", day)
    page.select_option("#calendar-form select[name=day_kind]", "sick")
    page.fill("#calendar-form input[name=day_note]", "发烧")
    page.click("#calendar-form button[type=submit]")
    expect(page.locator("#calendar-error")).to_contain_text("weekly_hours")
    expect(monday).to_have_value("9-12")
    expect(page.locator("#calendar-form input[name=day]")).to_have_value(day)
    expect(page.locator("#calendar-form input[name=day_note]")).to_have_value("发烧")
    expect(tuesday).to_have_attribute("data-kind", "shift")

    monday.fill("09:00-12:00, 13:00-18:00")
    page.click("#calendar-form button[type=submit]")
    result = page.locator("#calendar-result")
    expect(result).to_have_text("已保存：移出任务 1 个，未能重新安排 1 个")
    expect(result).to_have_attribute("data-moved", "1")
    expect(result).to_have_attribute("data-unplaced", "1")
    expect(page.locator("#calendar-error")).to_be_empty()
    expect(tuesday).to_have_attribute("data-kind", "sick")
    expect(tuesday).to_have_attribute("data-tasks", "0")
    expect(page.locator(f"#calendar-days li[data-day='{day}']")).to_contain_text("病假")
    shot(page, "outbound-calendar")
    assert problems == []


def test_the_desk_s_funnel_and_scores_move_as_an_outcome_comes_in_without_a_reload(
    browser: Browser,
    base_url: str,
    client: Any,
    db: Session,
    clock: TestClock,
    make_user: Any,
    headers: dict[str, dict[str, str]],
) -> None:
    agent = make_user(Role.AGENT, username="funnel-agent")
    boss = make_user(Role.SUPERVISOR, username="funnel-boss")
    task = task_of(client, db, clock, agent, headers["supervisor"])

    page, problems = login_page(browser, base_url, boss.username, VIEWPORT)
    page.click("#wall-tab-desks")  # the desks sit behind the live wall
    charts = page.locator("#campaign-charts")
    expect(charts).to_have_attribute("data-campaign", str(task.campaign_id))
    stage = lambda name: page.locator(f"#funnel li[data-name='{name}']")  # noqa: E731
    score = lambda value: page.locator(f"#score-bars li[data-name='score-{value}']")  # noqa: E731
    for name, count in [("eligible", 1), ("sampled", 1), ("scheduled", 1), ("reached", 0)]:
        expect(stage(name)).to_have_attribute("data-count", str(count))
    expect(score(5)).to_have_attribute("data-count", "0")

    answer = client.post(
        f"/api/tasks/{task.id}/outcome",
        json={"outcome": "score_given", "score": 5},
        headers=bearer(agent, clock=clock),
    )
    assert answer.status_code == 200, answer.text

    expect(stage("attempted")).to_have_attribute("data-count", "1")
    expect(stage("reached")).to_have_attribute("data-count", "1")
    expect(stage("reached").locator(".meter-count")).to_have_text("1")
    expect(score(5)).to_have_attribute("data-count", "1")
    expect(score(4)).to_have_attribute("data-count", "0")
    row = page.locator(f"#campaign-table tr[data-campaign='{task.campaign_id}'] td")
    expect(row.nth(3)).to_have_text("1")
    expect(row.nth(4)).to_have_text("5")
    charts.scroll_into_view_if_needed()
    shot(page, "outbound-funnel")
    assert problems == []
