"""The supervisor's wall in Debian's Chromium at 1366x768, in Chinese and in English, with
a hotline's worth of data: four queues, ten agents, live calls, more SLA clocks than the
list shows, complaints at every crisis level.

The browser runs in New York while the hotline is in Shanghai: every hour and time the
wall shows must be Shanghai's. The app's clock is frozen once the data is in place, so
waits and times in state are exactly what the test set. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from pydantic import ValidationError
from sqlmodel import Session

from agent_console.config import ConsoleConfig
from callcenter.settings import ConsoleSettings, Settings, StateLimitSettings
from callcenter.wiring import console_config
from orders.enums import Role
from orders.schemas import SYSTEM, OrderCreate
from orders.services import complaints, work_orders
from telephony.acd import Acd, QueueConfig
from telephony.enums import CallState, Disposition
from telephony.models import Call
from telephony.presence import AgentState
from tests.browser_harness import ON_SQLITE, login_page, shot
from tests.conftest import OPEN_HOURS, TestClock, fixed_clock

pytest_plugins = ["tests.browser_harness"]
pytestmark = pytest.mark.clock

VIEWPORT = {"width": 1366, "height": 768}
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = "America/New_York"
ZH, EN, VIP, DISPATCH = "hotline-zh-CN", "hotline-en", "vip", "repair-dispatch"
WARNING_BG, ALARM_BG, PLAIN_BG = "rgb(255, 240, 194)", "rgb(251, 213, 218)", "rgba(0, 0, 0, 0)"
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "吴婷"]


class Hotline:
    """Calls and agents put in place through the ACD and presence themselves, with the
    app's clock set to when each thing happened."""

    def __init__(self, acd: Acd, clock: TestClock, make_call: Callable[..., Call]) -> None:
        self.acd, self.clock, self.make_call = acd, clock, make_call

    def at(self, moment: datetime) -> Hotline:
        self.clock.set(moment)
        return self

    def answer(self, agent_id: int, queue: str, *, waited: float) -> Call:
        """A call of ``queue`` answered by its one available agent after ``waited`` (and
        ten seconds in the IVR before that)."""
        now = self.clock()
        call = self.make_call(
            state=CallState.BRIDGED,
            queue=queue,
            agent_id=agent_id,
            ringing_at=now - timedelta(seconds=waited + 10),
        )
        self.at(now - timedelta(seconds=waited)).acd.enqueue(call.id, queue)
        [offer] = self.at(now).acd.dispatch(queue)
        assert offer.agent_id == agent_id
        self.acd.accept(call.id, agent_id)
        return call

    def wait(self, queue: str, *, since: datetime, **call: Any) -> Call:
        """A call waiting in ``queue`` from ``since`` on."""
        waiting = self.make_call(state=CallState.QUEUED, queue=queue, ringing_at=since, **call)
        now = self.clock()
        self.at(since).acd.enqueue(waiting.id, queue)
        self.at(now)
        return waiting


def _agents(db: Session, make_user: Callable[..., Any]) -> list[int]:
    ids = []
    for name in NAMES:
        user = make_user(Role.AGENT)
        user.full_name = name
        db.add(user)
        db.commit()
        ids.append(user.id)
    return ids


def _hotline(
    db: Session, app: Any, clock: TestClock, make_user: Any, make_call: Any, customer: int
) -> dict[str, Any]:
    """The queues, agents and calls of the wall; what the test looks for by name."""
    base = OPEN_HOURS
    acd: Acd = app.state.switchboard.acd
    presence = acd.presence
    for queue in (ZH, EN, DISPATCH):
        acd.configure(QueueConfig(name=queue))
    acd.configure(QueueConfig(name=VIP, title="VIP 专线"))
    line = Hotline(acd, clock, make_call)
    a, b, c, d, e, f, g, h, i, j = _agents(db, make_user)

    def on_break(agent: int, queue: str, reason: str, minutes: int) -> None:
        line.at(base - timedelta(minutes=minutes))
        presence.log_in(agent, queues=[queue], skills=[])
        presence.choose(agent, AgentState.BREAK, reason=reason)

    on_break(d, ZH, "rest", 40)  # past the 30 minutes of a break: an alarm
    on_break(e, EN, "lunch", 20)  # lunch has its own, longer limit: fine
    on_break(f, EN, "rest", 5)
    # VIP: three answered in time, one abandoned (75 %); the agent then in wrap-up 4 min.
    presence.log_in(c, queues=[VIP], skills=[])
    for answered in range(3):
        done = line.answer(c, VIP, waited=2)
        if answered == 2:
            line.at(base - timedelta(minutes=4))
        acd.end_call(c, VIP, done.id)
        done.state = CallState.ENDED
        db.add(done)
        if answered < 2:
            presence.choose(c, AgentState.AVAILABLE)
    gone = make_call(state=CallState.ENDED, queue=VIP)
    acd.enqueue(gone.id, VIP)
    acd.abandon(gone.id)
    # The Chinese line answered its only call after 30 s: 0 % in service level.
    line.at(base - timedelta(seconds=30))
    presence.log_in(a, queues=[ZH], skills=[])
    on_zh = line.at(base).answer(a, ZH, waited=30)
    presence.log_in(b, queues=[EN], skills=[])
    line.answer(b, EN, waited=2)
    for agent in (g, h, i):
        presence.log_in(agent, queues=[EN], skills=[])
    presence.log_in(j, queues=[ZH], skills=[])
    presence.choose(j, AgentState.LOGGED_OUT)

    line.wait(ZH, since=base - timedelta(seconds=49), customer_ids=[customer])  # a warning
    line.wait(VIP, since=base - timedelta(seconds=75))  # an alarm
    line.wait(DISPATCH, since=base - timedelta(seconds=5))
    make_call(state=CallState.IN_IVR, queue=None, ringing_at=base - timedelta(seconds=20))
    # Left unended by a restart: the log still has them, no queue or agent does.
    stale = [
        make_call(
            state=CallState.BRIDGED,
            queue=ZH,
            agent_id=a,
            ringing_at=base - timedelta(hours=1),
        ).id,
        make_call(state=CallState.QUEUED, queue=EN, ringing_at=base - timedelta(hours=2)).id,
    ]
    for hours_ago, disposition in ((2.5, Disposition.ABANDONED), (1.5, Disposition.COMPLETED)):
        ended = make_call(state=CallState.ENDED, ringing_at=base - timedelta(hours=hours_ago))
        ended.disposition = disposition
        db.add(ended)
    db.commit()
    clock.freeze(base)
    return {"agents": (a, b, c, d, e, f), "stale": stale, "on_call": on_zh.id}


def _orders_and_complaints(db: Session, make_customer: Any, make_appliance: Any) -> int:
    customer = make_customer(name="孙丽", phones=("13900139001",))
    washer = make_appliance(customer.id)
    for _ in range(13):  # past the 5 days to repair: 13 breaches, 10 listed
        work_orders.create_order(
            db,
            data=OrderCreate(customer_id=customer.id, appliance_id=washer.id),
            actor=SYSTEM,
            clock=fixed_clock(OPEN_HOURS - timedelta(days=6)),
        )
    for level in (1, 2, 2, 3):
        complaints.log_complaint(
            db,
            customer_id=customer.id,
            topic="上门超时",
            crisis_level=level,
            actor=SYSTEM,
            clock=fixed_clock(OPEN_HOURS),
        )
    return int(customer.id)


def _style(page: Page, selector: str, prop: str) -> str:
    value: str = page.eval_on_selector(
        selector, f"node => getComputedStyle(node).getPropertyValue('{prop}')"
    )
    return value


def _fits(page: Page) -> None:
    """No scroll bar on the page, and no panel of the live wall cut or scrolling."""
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= VIEWPORT["width"] and size[1] <= VIEWPORT["height"], size
    overflowing = page.evaluate(
        """[...document.querySelectorAll('#wall-live .panel, #wall-live .w-scroll, #sla-orders')]
        .filter((node) => node.scrollHeight > node.clientHeight + 1
            || node.scrollWidth > node.clientWidth + 1)
        .map((node) => `${node.parentNode.className} ${node.className}: ${node.scrollWidth}x`
            + `${node.scrollHeight} in ${node.clientWidth}x${node.clientHeight}`)"""
    )
    assert overflowing == []


def _headers_align(page: Page) -> None:
    """Each column's header is aligned as its figures are."""
    mismatched = page.evaluate(
        """[...document.querySelectorAll('#queue-table, #agent-table, #call-table')]
        .flatMap((table) => {
          const cells = table.querySelector('tbody tr').children;
          return [...table.querySelectorAll('thead th')].map((th, index) =>
            getComputedStyle(th).textAlign === getComputedStyle(cells[index]).textAlign
              ? null : `${table.id} ${th.textContent}`).filter(Boolean);
        })"""
    )
    assert mismatched == []


def _alerts(page: Page, agents: tuple[int, ...]) -> None:
    def queue_cell(queue: str, column: str) -> str:
        return f"#queue-table tr[data-queue='{queue}'] td.{column}"

    expected = {
        queue_cell(ZH, "service-level"): ("alarm", ALARM_BG),  # 0 %
        queue_cell(ZH, "longest-wait"): ("warning", WARNING_BG),  # 49 s
        queue_cell(VIP, "service-level"): ("warning", WARNING_BG),  # 75 %
        queue_cell(VIP, "longest-wait"): ("alarm", ALARM_BG),  # 75 s
        queue_cell(EN, "service-level"): ("ok", PLAIN_BG),  # 100 %
        queue_cell(EN, "longest-wait"): ("ok", PLAIN_BG),  # nobody waiting
        queue_cell(DISPATCH, "longest-wait"): ("ok", PLAIN_BG),  # 5 s
    }
    a, _b, c, d, e, f = agents
    time_in_state = "#agent-table tr[data-agent='{}'] td.time-in-state"
    expected[time_in_state.format(c)] = ("warning", WARNING_BG)  # wrap-up for 4 minutes
    expected[time_in_state.format(d)] = ("alarm", ALARM_BG)  # a 40-minute rest
    expected[time_in_state.format(e)] = ("ok", PLAIN_BG)  # 20 minutes of lunch
    expected[time_in_state.format(f)] = ("ok", PLAIN_BG)  # a 5-minute rest
    expected[time_in_state.format(a)] = ("ok", PLAIN_BG)  # on a call: no limit
    for selector, (level, colour) in expected.items():
        node = page.locator(selector)
        if level == "ok":
            expect(node).not_to_have_class(re.compile("alert-"))
        else:
            expect(node).to_have_class(re.compile(rf"\balert-{level}\b"))
        assert _style(page, selector, "background-color") == colour, selector


def _legends_match_the_bars(page: Page) -> None:
    bar = "#hour-chart .bar[data-hour='10'] .{}"
    answered = _style(page, bar.format("not-abandoned"), "background-color")
    abandoned = _style(page, bar.format("abandoned"), "background-color")
    # The calls key is a bar: its colours are both parts of one, bottom and top.
    calls_key = _style(page, ".w-hours .key.calls", "background-image")
    assert answered in calls_key and abandoned in calls_key
    assert calls_key.index(answered) < calls_key.index(abandoned)
    assert _style(page, ".w-hours .key.abandoned", "background-color") == abandoned
    for part in ("met", "missed"):
        assert _style(page, f".w-sla .key.{part}", "background-color") == _style(
            page, f"#sla-chart .bar .{part}", "background-color"
        )


def _hotline_times(page: Page, today: str) -> None:
    """Hours and times in Shanghai's zone, though the browser is in New York's (where it
    is 21:00 the day before)."""
    expect(page.locator("#hour-chart .bar.now")).to_have_attribute("data-hour", "10")
    expect(page.locator("#sla-chart .bar.now")).to_have_attribute("data-hour", "10")
    expect(page.locator("#wall-clock")).to_have_attribute("data-hour", "10")
    expect(page.locator("#wall-clock")).to_contain_text(today)
    expect(page.locator("#wall-clock")).to_contain_text("10:00")
    badge = page.locator("#sla-orders .sla").first
    due = datetime.fromisoformat(badge.get_attribute("data-due") or "").astimezone(SHANGHAI)
    expect(badge).to_have_attribute("title", re.compile(re.escape(f"{due:%H:%M}")))


@ON_SQLITE
def test_the_wall_fits_a_laptop_and_shows_what_a_supervisor_must_act_on(
    browser: Browser,
    base_url: str,
    app: Any,
    db: Session,
    clock: TestClock,
    make_user: Any,
    make_call: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    app.state.console_config = ConsoleConfig(
        wall_slow_seconds=0, wall_min_interval_seconds=0.1, live_calls=4
    )
    customer = _orders_and_complaints(db, make_customer, make_appliance)
    made = _hotline(db, app, clock, make_user, make_call, customer)
    agents = made["agents"]
    make_user(Role.SUPERVISOR, username="wall-laptop")
    page, problems = login_page(browser, base_url, "wall-laptop", VIEWPORT, timezone_id=NEW_YORK)

    expect(page.locator("#sla-breached")).to_have_text("13")
    assert problems == []
    expect(page.locator("#agent-table tbody tr")).to_have_count(10)
    expect(page.locator("#sla-orders li")).to_have_count(10)
    expect(page.locator("#sla-more")).to_have_text("还有 3 条未列出")
    # Six calls are live (the two a restart left behind are not): the oldest four listed.
    calls = page.locator("#call-table tbody tr")
    expect(calls).to_have_count(4)
    expect(page.locator("#calls-more")).to_have_text("还有 2 条未列出")
    for call_id in made["stale"]:
        expect(page.locator(f"#call-table tr[data-call='{call_id}']")).to_have_count(0)
    a = agents[0]
    expect(page.locator(f"#call-table tr[data-agent='{a}']")).to_have_count(1)
    expect(page.locator(f"#call-table tr[data-call='{made['on_call']}'] .call-agent")).to_have_text(
        NAMES[0]
    )
    expect(page.locator("#call-table tbody tr").first).to_contain_text("VIP 专线")
    names = page.locator("#queue-table td.queue-name")
    expect(names).to_have_text(["英文热线", "中文热线", "repair-dispatch", "VIP 专线"])
    levels = page.locator("#complaint-levels li")
    expect(levels).to_have_text(["0非危机", "1普通危机", "2潜在危机", "1严重危机"])
    _alerts(page, agents)
    _headers_align(page)
    _legends_match_the_bars(page)
    local = OPEN_HOURS.astimezone(SHANGHAI)
    _hotline_times(page, f"{local.month}月{local.day}日")
    shot(page, "wall-laptop-zh")
    _fits(page)

    page.click("#wall-tab-desks")
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#wall-live")).to_be_hidden()
    shot(page, "wall-laptop-desks")
    page.click("#wall-tab-live")
    expect(page.locator("#desk")).to_be_hidden()

    page.click("#lang")
    expect(names).to_have_text(["English line", "Chinese line", "repair-dispatch", "VIP 专线"])
    expect(levels).to_have_text(
        ["0No crisis", "1Ordinary crisis", "2Potential crisis", "1Severe crisis"]
    )
    expect(page.locator("#sla-more")).to_have_text("3 more")
    expect(page.locator("#calls-more")).to_have_text("2 more")
    expect(page.locator(".w-hours .legend")).to_have_text("Calls of which abandoned")
    _alerts(page, agents)
    _headers_align(page)
    _hotline_times(page, f"{local:%b} {local.day}")
    shot(page, "wall-laptop-en")
    _fits(page)
    assert problems == []


def test_the_walls_limits_come_from_the_settings() -> None:
    console = ConsoleSettings(
        timezone="Asia/Urumqi",
        service_level_warn=0.9,
        longest_wait_alarm_seconds=90,
        state_limits={
            "wrap_up": StateLimitSettings(warn_seconds=60, alarm_seconds=120),
            "break:lunch": StateLimitSettings(warn_seconds=3000, alarm_seconds=3600),
        },
    )
    config = console_config(Settings(console=console))
    assert (config.timezone, config.service_level_warn, config.longest_wait_alarm_seconds) == (
        "Asia/Urumqi",
        0.9,
        90,
    )
    lunch = config.state_limit(AgentState.BREAK, "lunch")
    assert lunch is not None and (lunch.warn_seconds, lunch.alarm_seconds) == (3000, 3600)
    assert config.state_limit(AgentState.BREAK, "rest") is None  # the table was replaced
    assert console_config(Settings()) == ConsoleConfig()
    for wrong in (
        {"state_limits": {"napping": {"warn_seconds": 1, "alarm_seconds": 2}}},
        {"timezone": "Mars/Olympus_Mons"},
        {"service_level_warn": 0.5, "service_level_alarm": 0.7},
    ):
        with pytest.raises(ValidationError):
            ConsoleSettings.model_validate(wrong)
