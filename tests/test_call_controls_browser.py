"""A whole call worked from the keyboard in Chromium: accept, hold, resume, transfer to a
second agent, who hangs up. Calls come in through the Twilio webhooks; the agents' phones
answer as Twilio reports them answering; what Twilio is told is read from a fake of its
REST API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from callcenter.settings import Settings
from core.bus import EventBus, bind_events
from orders.enums import Role
from orders.schemas import SYSTEM, OrderCreate
from orders.services import work_orders
from telephony.models import Call
from tests.browser_harness import ON_SQLITE, login_page, shot
from tests.fake_twilio_api import FakeTwilioApi
from tests.twilio_sim import SimulatedCall, TwilioSimulator, run_worker_jobs

pytest_plugins = ["tests.browser_harness"]
pytestmark = [pytest.mark.clock, ON_SQLITE]
"""Business hours and offer timeouts, on the tests' clock."""

VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture
def api() -> Iterator[FakeTwilioApi]:
    server = FakeTwilioApi().start()
    placed = iter(range(1, 100))

    def reply(request: Any) -> tuple[int, dict[str, str]]:
        if request.path.endswith("/Calls.json"):
            return 201, {"sid": f"CA{next(placed):032d}"}
        return 200, {"sid": request.path.rsplit("/", 1)[-1].removesuffix(".json")}

    server.reply = reply
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, api: FakeTwilioApi) -> Settings:
    return settings.model_copy(
        update={"twilio": settings.twilio.model_copy(update={"api_base_url": api.base_url})}
    )


def _row(db: Session, caller: SimulatedCall) -> Call:
    db.expire_all()
    return db.exec(select(Call).where(Call.provider_id == caller.sid)).one()


def _picks_up(sim: TwilioSimulator, call: Call, agent_id: int, leg: str) -> None:
    """The agent's phone, rung for the offer, is answered: Twilio asks what to do."""
    params = {"CallSid": leg, "From": sim.hotline, "To": f"client:agent-{agent_id}"}
    answer = sim.post(
        f"/twilio/agent/connect?call={call.id}&agent={agent_id}",
        {**params, "CallStatus": "in-progress"},
    )
    assert "<Dial><Queue>call-" in answer.text, answer.text


def _keys(page: Page, key: str) -> None:
    page.keyboard.press(key)


def test_a_whole_call_is_handled_with_keyboard_shortcuts_only(
    browser: Browser,
    base_url: str,
    app: Any,
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    redis_url: str,
    bus: redis.Redis,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    db: Session,
    clock: Any,
) -> None:
    customer = make_customer(name="郑凯", phones=("13800138000",))
    first = make_user(Role.AGENT, username="agent-keys-1", full_name="李一")
    second = make_user(Role.AGENT, username="agent-keys-2", full_name="王二")
    one, dialogs_one = login_page(browser, base_url, "agent-keys-1", VIEWPORT)
    two, dialogs_two = login_page(browser, base_url, "agent-keys-2", VIEWPORT)
    # Off the queues, the page says so (and not that calls are awaited); the queues are
    # named; leaving the queues and signing out are told apart.
    expect(one.locator("#idle")).to_have_text("已签出：勾选队列后点“就绪”开始接听。")
    expect(one.locator("#queue-choice")).to_contain_text("中文热线")
    expect(one.locator("#go-logout")).to_have_text("签出队列")
    expect(one.locator("#logout")).to_have_text("退出登录")
    one.click("#go-available")
    expect(one.locator("#agent-state")).to_have_attribute("data-state", "available")
    expect(one.locator("#idle")).to_have_text("等待来电……")
    one.reload()  # the queues the agent is in stay ticked, and cannot change until off
    expect(one.locator("#agent-state")).to_have_attribute("data-state", "available")
    expect(one.locator("#queue-choice input[value='hotline-zh-CN']")).to_be_checked()
    expect(one.locator("#queue-choice input[value='hotline-zh-CN']")).to_be_disabled()
    # Each button names its shortcut, and a shortcut does nothing its state does not allow.
    expect(one.locator("#hang-up")).to_contain_text("Alt+X")
    expect(one.locator("#call-panel")).to_be_hidden()

    caller = sim.call("+8613800138000")
    caller.press("0")
    expect(one.locator("#call-status")).to_have_attribute("data-status", "offered")
    expect(one.locator("#hold")).to_be_disabled()
    _keys(one, "Alt+KeyX")  # not on a call yet: nothing happens
    _keys(one, "Alt+KeyA")
    expect(one.locator("#accepted-note")).to_be_visible()
    expect(one.locator("#accept")).to_be_disabled()
    call = _row(db, caller)
    _picks_up(sim, call, first.id, "CA" + "a" * 32)
    expect(one.locator("#call-status")).to_have_attribute("data-status", "bridged")
    expect(one.locator("#pop-heading")).to_have_text("通话中")
    expect(one.locator("#call-queue")).to_have_text("中文热线")
    # What another desk does for this customer during the call shows in the pop.
    washer = make_appliance(customer.id)
    logged = work_orders.create_order(
        bind_events(db, EventBus(bus)),
        data=OrderCreate(
            customer_id=customer.id, appliance_id=washer.id, fault_description="不制冷"
        ),
        actor=SYSTEM,
        clock=clock,
    )
    expect(one.locator(f".open-orders li[data-order='{logged.number}']")).to_contain_text("不制冷")
    # The customer's whole file is a click away, and the call is still there after it.
    one.locator(".customer .open-file").click()
    expect(one.locator("#file-body")).to_contain_text(logged.number)
    one.click("#file-back")
    expect(one.locator("#call-status")).to_have_attribute("data-status", "bridged")

    _keys(one, "Alt+KeyH")
    expect(one.locator("#call-status")).to_have_attribute("data-held", "yes")
    expect(one.locator("#pop-heading")).to_have_text("保持中")
    assert _row(db, caller).held_at is not None
    _keys(one, "Alt+KeyR")
    expect(one.locator("#call-status")).to_have_attribute("data-held", "no")
    assert _row(db, caller).held_at is None
    shot(one, "call-controls")

    two.click("#go-available")
    expect(two.locator("#agent-state")).to_have_attribute("data-state", "available")
    _keys(one, "Alt+KeyT")
    target = one.locator("#transfer-targets button").first
    expect(target).to_contain_text("王二")
    _keys(one, "Digit1")
    expect(one.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
    expect(two.locator("#call-status")).to_have_attribute("data-status", "offered")
    expect(two.locator(".customer-name")).to_have_text("郑凯")

    _keys(two, "Alt+KeyA")
    _picks_up(sim, call, second.id, "CA" + "b" * 32)
    expect(two.locator("#call-status")).to_have_attribute("data-status", "bridged")
    _keys(two, "Alt+KeyX")
    # The worker tells Twilio (in a thread: Playwright's loop runs in this one). The key
    # only sends the console's request: the worker's passes go on, as a running worker's
    # would, until that request has been answered and the hang-up is on the bus.
    hung_up: list[Any] = []
    deadline = time.monotonic() + 15
    while not hung_up and time.monotonic() < deadline:
        with ThreadPoolExecutor(1) as worker:
            worker.submit(run_worker_jobs, app, redis_url, bus).result(timeout=60)
        hung_up = [r for r in api.requests if r.path.endswith(f"/Calls/{caller.sid}.json")]
    assert hung_up and "<Hangup" in hung_up[-1].form["Twiml"][0]
    caller.status("completed")  # Twilio reports the caller's leg ended

    expect(two.locator("#call-status")).to_have_attribute("data-status", "ended")
    expect(two.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
    ended = _row(db, caller)
    assert (ended.state, ended.agent_id, ended.disposition) == ("ended", second.id, "completed")
    assert dialogs_one == [] and dialogs_two == []


def test_an_attended_transfer_is_worked_from_the_keyboard(
    browser: Browser,
    base_url: str,
    app: Any,
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    redis_url: str,
    bus: redis.Redis,
    make_user: Any,
    make_customer: Any,
    db: Session,
) -> None:
    make_customer(name="郑凯", phones=("13800138000",))
    first = make_user(Role.AGENT, username="agent-consult-1", full_name="李一")
    second = make_user(Role.AGENT, username="agent-consult-2", full_name="王二")
    one, dialogs_one = login_page(browser, base_url, "agent-consult-1", VIEWPORT)
    two, dialogs_two = login_page(browser, base_url, "agent-consult-2", VIEWPORT)
    one.click("#go-available")
    expect(one.locator("#agent-state")).to_have_attribute("data-state", "available")
    caller = sim.call("+8613800138000")
    caller.press("0")
    expect(one.locator("#call-status")).to_have_attribute("data-status", "offered")
    call = _row(db, caller)
    _picks_up(sim, call, first.id, "CA" + "a" * 32)
    expect(one.locator("#call-status")).to_have_attribute("data-status", "bridged")
    two.click("#go-available")
    expect(two.locator("#agent-state")).to_have_attribute("data-state", "available")

    _keys(one, "Alt+KeyC")  # a consultation: agents only, no queues
    expect(one.locator("#transfer-targets button")).to_have_count(1)
    _keys(one, "Digit1")
    expect(one.locator("#consult-note")).to_have_text("正在呼叫 王二，来电保持中……")
    expect(one.locator("#complete-transfer")).to_be_disabled()
    expect(two.locator("#consult-note")).to_contain_text("同事请求咨询")
    expect(two.locator(".customer-name")).to_have_text("郑凯")

    _keys(two, "Alt+KeyA")
    with ThreadPoolExecutor(1) as worker:  # the worker rings the colleague's phone
        worker.submit(run_worker_jobs, app, redis_url, bus).result(timeout=60)
    [ring] = [r for r in api.requests if r.path.endswith("/Calls.json")]
    connect = ring.form["Url"][0].split("/twilio/", 1)[1]
    params = {"CallSid": "CA" + "b" * 32, "From": sim.hotline, "To": f"client:agent-{second.id}"}
    answered = sim.post(f"/twilio/{connect}", {**params, "CallStatus": "in-progress"})
    assert "Conference" in answered.text
    expect(one.locator("#consult-note")).to_have_text("正在与 王二 通话，来电保持中。")
    expect(two.locator("#call-status")).to_have_text("咨询中")

    _keys(one, "Alt+KeyK")
    expect(one.locator("#call-status")).to_have_text("已转出")
    expect(one.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
    expect(two.locator("#call-status")).to_have_attribute("data-status", "bridged")
    expect(two.locator("#hang-up")).to_be_enabled()
    shot(two, "attended-transfer")
    assert _row(db, caller).agent_id == second.id
    assert dialogs_one == [] and dialogs_two == []
