"""The console in Debian's Chromium, driven by Playwright, against the real call path.

Calls arrive through the Twilio webhooks (signed as Twilio signs them), the service pops
them over its websocket, and the assertions read what the agent or supervisor sees.
Screenshots of the pop and the wall are saved under test-artifacts/.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from agent_console.models import CallNote
from orders.enums import OrderStatus, Role
from orders.models import User, WorkOrder
from orders.schemas import SYSTEM, OrderCreate, TransitionIn
from orders.services import complaints, work_orders
from orders.services.users import issue_token
from telephony import routing
from telephony.acd import CallOffered
from telephony.enums import CallState
from telephony.events import CallConsultOffered
from telephony.models import Call
from telephony.presence import AgentState, AgentStateChanged
from tests.browser_harness import ON_SQLITE, PASSWORD, login_page
from tests.browser_harness import shot as _shot
from tests.conftest import OPEN_HOURS, SECRET, TestClock, at, bearer, fixed_clock
from tests.twilio_sim import TwilioSimulator

pytest_plugins = ["tests.browser_harness"]
pytestmark = [pytest.mark.clock, ON_SQLITE]
"""Business hours, offer timeouts and token expiry, all on the tests' clock."""

VIEWPORT = {"width": 1366, "height": 768}
QUEUE_ROW = "#queue-table tr[data-queue='hotline-zh-CN'] td"


def _page(browser: Browser, base_url: str, username: str) -> tuple[Page, list[str]]:
    return login_page(browser, base_url, username, VIEWPORT)


def _available(page: Page) -> None:
    page.click("#go-available")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    expect(page.locator("#agent-state")).to_have_text("就绪")


def _colleague_in_the_queue(base_url: str, make_user: Any) -> Any:
    """A second agent, logged in to the hotline's queue and free."""
    colleague = make_user(Role.AGENT)
    # Through the live server, as the browser does: a second client on the same app
    # would run the app's lifespan in another event loop.
    joined = httpx.put(
        f"{base_url}/api/agents/me/login",
        json={"queues": ["hotline-zh-CN"]},
        headers=bearer(colleague),
    )
    assert joined.status_code == 200
    return colleague


def test_agent_sees_the_whole_pop_and_creates_an_order_in_one_click(
    browser: Browser,
    base_url: str,
    app: Any,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_call: Any,
    make_recording: Any,
    db: Session,
    clock: TestClock,
) -> None:
    customer = make_customer(name="王建国", title="先生", phones=("13800138000", "01065529988"))
    washer = make_appliance(customer.id, brand="海尔")  # bought 2026-03-01, 12 months
    fridge = make_appliance(
        customer.id,
        category="refrigerator",
        brand="美的",
        purchase_date=OPEN_HOURS.date() - timedelta(days=4 * 365),
        extended_warranty_until=OPEN_HOURS.date() + timedelta(days=30),
    )
    make_appliance(
        customer.id, category="tv", brand="海信", purchase_date=OPEN_HOURS.date().replace(2019)
    )
    # Reported 105 hours before the call: 15 hours of the 5 days to repair are left.
    open_order = work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id, appliance_id=washer.id, fault_description="不脱水"
        ),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(hours=105)),
    )
    cancelled = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=fridge.id),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(days=20)),
    )
    work_orders.transition_order(
        db,
        order_id=cancelled.id,
        data=TransitionIn(to=OrderStatus.CANCELLED),
        actor=SYSTEM,
        clock=clock,
    )
    complaints.log_complaint(
        db, customer_id=customer.id, topic="上门超时", crisis_level=2, actor=SYSTEM, clock=clock
    )
    earlier = make_call(
        customer_ids=[customer.id],
        state=CallState.ENDED,
        queue=None,
        ringing_at=OPEN_HOURS - timedelta(days=3),
    )
    make_recording(earlier, app.state.recordings_dir, seconds=2.0)
    agent = make_user(Role.AGENT, username="agent-ui")
    page, dialogs = _page(browser, base_url, "agent-ui")
    _available(page)
    expect(page.locator("#state-timer")).to_have_text(re.compile(r"^\d\d:\d\d$"))

    sim.call("+8613800138000").press("0")
    card = page.locator(".customer")
    expect(card.locator(".customer-name")).to_have_text("王建国 先生")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    expect(page.locator("#call-status")).to_have_attribute("data-status", "offered")
    expect(page.locator("#pop-heading")).to_have_text("来电")
    expect(page.locator("#pop-number")).to_have_text("138 0013 8000")  # grouped as read
    expect(card.locator(".phones")).to_contain_text("138 0013 8000")
    expect(card.locator(".phones")).to_contain_text("010 6552 9988")
    expect(card.locator(".addresses")).to_contain_text("北京市北京市朝阳区建国路88号")
    appliances = card.locator(".appliance")
    expect(appliances).to_have_count(3)
    expect(appliances.nth(0)).to_contain_text("海尔")
    expect(appliances.nth(0).locator(".badge")).to_have_text("保内")
    expect(appliances.nth(0).locator(".days-left")).to_have_text("剩 97 天")
    expect(appliances.nth(1).locator(".badge")).to_have_text("延保")
    expect(appliances.nth(1).locator(".days-left")).to_have_text("剩 30 天")
    expect(appliances.nth(2).locator(".badge")).to_have_text("保外")
    expect(appliances.nth(2).locator(".days-left")).to_have_count(0)
    opened = card.locator(f".open-orders li[data-order='{open_order.number}']")
    expect(opened).to_contain_text("新建")
    expect(opened.locator(".sla")).to_have_attribute("data-sla", "warning")
    expect(opened.locator(".sla")).to_contain_text(re.compile(r"即将超时 1\d?小时"))
    expect(card.locator(".recent-orders")).to_contain_text(cancelled.number)
    expect(card.locator(".recent-orders")).to_contain_text("已取消")
    expect(card.locator(".complaints")).to_have_text("未结投诉: 1")
    expect(card.locator(".satisfaction")).to_have_text("最近满意度: 无")
    expect(card.locator(".earlier-call")).to_have_count(1)
    expect(card.locator(".earlier-call")).to_contain_text("00:02")
    expect(card.locator(".earlier-call .transcript")).to_have_text("暂无转写")
    card.locator(".earlier-call .play").click()  # fetched with the token, played from memory
    expect(card.locator(".earlier-call audio")).to_have_attribute("src", re.compile(r"^blob:"))
    # Usable at 1366x768: nothing wider than the screen, the one-click button in view.
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    button = card.locator(".create-order").bounding_box()
    assert button is not None and button["y"] + button["height"] <= VIEWPORT["height"]
    _shot(page, "screen-pop")

    # Of three appliances none is chosen for the agent: the order waits for a choice.
    card.locator(".fault").fill("洗衣机漏水")
    expect(card.locator(".create-order")).to_be_disabled()
    expect(card.locator(".choose-hint")).to_be_visible()
    page.click("#lang")  # typed text and the choice survive a change of language
    appliances.nth(0).locator("input").check()
    page.click("#lang")
    expect(card.locator(".fault")).to_have_value("洗衣机漏水")
    expect(appliances.nth(0).locator("input")).to_be_checked()
    card.locator(".create-order").dblclick()  # a double click makes one order
    expect(page.locator("#order-result")).to_contain_text("已创建工单")
    number = page.locator("#order-result").get_attribute("data-order")
    # The new order is listed under open orders at once, and the form is clear.
    expect(card.locator(f".open-orders li[data-order='{number}']")).to_contain_text("洗衣机漏水")
    expect(card.locator(".fault")).to_have_value("")
    with app.state.sessions() as session:
        made = session.exec(
            select(WorkOrder).where(WorkOrder.fault_description == "洗衣机漏水")
        ).all()
    assert [order.number for order in made] == [number]
    expect(page.locator("#disposition")).to_have_value("order_created")
    page.fill("#call-notes", "客户要求周六上门")
    page.click("#save-note")
    expect(page.locator("#note-result")).to_have_text("已保存")
    with app.state.sessions() as session:
        session.expire_all()
        created = session.exec(select(WorkOrder).where(WorkOrder.number == number)).one()
        call = session.exec(select(Call).where(Call.order_id == created.id)).one()
        note = session.exec(select(CallNote).where(CallNote.call_id == call.id)).one()
    assert (created.customer_id, created.appliance_id, created.channel) == (
        customer.id,
        washer.id,
        "phone",
    )
    assert (created.fault_description, created.created_by) == ("洗衣机漏水", agent.id)
    assert (note.agent_id, note.disposition, note.notes) == (
        agent.id,
        "order_created",
        "客户要求周六上门",
    )

    page.click("#lang")
    expect(appliances.nth(0).locator(".badge")).to_have_text("In warranty")
    expect(card.locator(".create-order")).to_have_text("Create order")
    expect(page.locator("#agent-state")).to_have_text("Ringing")
    expect(page.locator("#pop-heading")).to_have_text("Incoming call")
    expect(page.locator("#idle")).to_be_hidden()
    expect(page.locator("#order-result")).to_have_text(f"Order created: {number}")
    expect(page.locator("#note-result")).to_have_text("Saved")
    _shot(page, "screen-pop-en")
    assert dialogs == []


def test_shared_number_shows_every_candidate_and_a_new_caller_gets_a_prefilled_form(
    browser: Browser,
    base_url: str,
    app: Any,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
) -> None:
    landline = "01065520000"
    father = make_customer(name="赵国强", phones=(landline, "13600136000"))
    daughter = make_customer(name="赵小梅", phones=(landline,))
    make_appliance(father.id, brand="格力", category="air_conditioner")
    make_user(Role.AGENT, username="agent-shared")
    page, _dialogs = _page(browser, base_url, "agent-shared")
    _available(page)

    family = sim.call("+861065520000")
    family.press("0")
    names = page.locator(".customer .customer-name")
    expect(names).to_have_count(2)
    expect(names).to_have_text(["赵国强", "赵小梅"])
    expect(page.locator("#pop-shared")).to_have_text("此号码有 2 位客户，请核实来电人身份。")
    # Ringing: only answering or declining; the state buttons wait.
    expect(page.locator("#decline")).to_be_visible()
    expect(page.locator("#go-available")).to_be_disabled()
    expect(page.locator("#go-break")).to_be_disabled()
    expect(page.locator(f".customer[data-customer-id='{daughter.id}'] .order-bar")).to_have_text(
        "该客户没有登记电器。"
    )
    family.status("completed")  # they hang up; the agent is free again
    expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

    sim.call("+8615912345678").press("0")
    form = page.locator("#new-customer")
    expect(form).to_be_visible()
    expect(page.locator(".customer")).to_have_count(0)
    expect(form.locator("input[name=phone]")).to_have_value("+8615912345678")
    form.locator("input[name=name]").fill("钱多多")
    form.locator("select[name=title]").select_option("女士")
    form.locator("input[name=province]").fill("上海市")
    form.locator("input[name=city]").fill("上海市")
    form.locator("input[name=district]").fill("浦东新区")
    form.locator("input[name=street]").fill("世纪大道100号")
    form.locator("select[name=category]").select_option("water_heater")
    form.locator("input[name=brand]").fill("史密斯")
    form.locator("input[name=purchase_date]").fill(at(2026, 10, 1).date().isoformat())
    form.locator("button[type=submit]").click()
    card = page.locator(".customer")
    expect(card.locator(".customer-name")).to_have_text("钱多多 女士")
    expect(card.locator(".phones")).to_contain_text("159 1234 5678 (来电)")
    expect(card.locator(".appliance .badge")).to_have_text("保内")
    expect(form).to_be_hidden()
    card.locator(".create-order").click()
    expect(page.locator("#order-result")).to_contain_text("已创建工单")
    number = page.locator("#order-result").get_attribute("data-order")
    with app.state.sessions() as session:
        order = session.exec(select(WorkOrder).where(WorkOrder.number == number)).one()
        assert order.address_id is not None and order.channel == "phone"
        assert order.customer_id == int(card.get_attribute("data-customer-id") or 0)


def test_wall_moves_with_the_calls_and_the_supervisor_sets_an_agents_state(
    browser: Browser,
    base_url: str,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    db: Session,
    clock: TestClock,
) -> None:
    customer = make_customer(name="李娜", phones=("13900139000",))
    fridge = make_appliance(customer.id, category="refrigerator", brand="美的")
    late = work_orders.create_order(
        db,
        data=OrderCreate(customer_id=customer.id, appliance_id=fridge.id, urgency="urgent"),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(days=6)),  # past the 5 days to repair
    )
    complaints.log_complaint(
        db, customer_id=customer.id, topic="维修质量", crisis_level=3, actor=SYSTEM, clock=clock
    )
    agent = make_user(Role.AGENT, username="agent-on-wall")
    make_user(Role.SUPERVISOR, username="wall-ui")
    wall, _dialogs = _page(browser, base_url, "wall-ui")
    expect(wall.locator("#sla-breached")).to_have_text("1")
    expect(wall.locator("#sla-orders")).to_contain_text(late.number)
    expect(wall.locator("#complaint-levels li[data-level='3'] strong")).to_have_text("1")

    caller = sim.call("+8613900139000")
    caller.press("0")  # nobody is available: the caller waits
    waiting = wall.locator(QUEUE_ROW).nth(1)
    expect(waiting).to_have_text("1")
    live = wall.locator("#call-table tbody tr")
    expect(live).to_have_count(1)
    expect(live.first).to_contain_text("李娜")
    expect(live.first).to_contain_text("排队中")
    expect(live.first.locator("td").nth(5)).to_have_text(re.compile(r"^\d\d:\d\d$"))
    # The call rang at 10:00 Shanghai time (the app's clock): it counts in the 10 o'clock bar.
    expect(wall.locator("#hour-chart .bar[data-hour='10']")).to_have_attribute("data-calls", "1")
    _shot(wall, "wall-waiting")

    caller.status("completed")  # the caller gives up
    expect(waiting).to_have_text("0")
    expect(wall.locator(QUEUE_ROW).nth(4)).to_have_text("1")
    expect(live).to_have_count(0)
    expect(wall.locator("#hour-chart .bar[data-hour='10']")).to_have_attribute(
        "data-abandoned", "1"
    )

    desk, _ = _page(browser, base_url, "agent-on-wall")
    _available(desk)
    row = wall.locator(f"#agent-table tr[data-agent='{agent.id}']")
    expect(row.locator(".agent-state")).to_have_attribute("data-state", "available")
    expect(row.locator("td").nth(2)).to_have_text(re.compile(r"^\d\d:\d\d$"))
    row.locator(".set-state").select_option("break")
    row.locator(".apply-state").click()
    expect(desk.locator("#agent-state")).to_have_attribute("data-state", "break")
    expect(desk.locator("#agent-state")).to_have_text("小休")
    expect(row.locator(".agent-state")).to_have_text("小休")
    assert wall.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    _shot(wall, "wall")


def test_customer_fields_render_as_text_and_run_nothing(
    browser: Browser,
    base_url: str,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> None:
    evil = "<img src=x onerror=alert(1)>"
    customer = make_customer(
        name=evil,
        notes="<script>alert(3)</script>",
        phones=("13700137000",),
        addresses=[{"province": "<b>省</b>", "city": "市", "street": "<svg onload=alert(4)>"}],
    )
    appliance = make_appliance(customer.id, brand="<script>alert(2)</script>")
    make_order(customer.id, appliance.id, fault_description="<img src=y onerror=alert(5)>")
    make_user(Role.AGENT, username="agent-xss")
    page, dialogs = _page(browser, base_url, "agent-xss")
    # Only the page's own script may run, whatever reaches the DOM.
    policy = page.request.get(f"{base_url}/console").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    _available(page)
    sim.call("+8613700137000").press("0")
    card = page.locator(".customer")
    expect(card.locator(".customer-name")).to_have_text(evil)
    expect(card.locator(".customer-notes")).to_have_text("<script>alert(3)</script>")
    expect(card.locator(".addresses")).to_contain_text("<svg onload=alert(4)>")
    expect(card.locator(".open-orders")).to_contain_text("<img src=y onerror=alert(5)>")
    for tag in ("img", "script", "svg", "b"):
        assert page.locator(f"#pop-customers {tag}").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []


def test_an_expired_session_goes_back_to_the_login_form(
    browser: Browser, base_url: str, make_user: Any, db: Session, clock: TestClock
) -> None:
    make_user(Role.AGENT, username="agent-expiring")
    page, _dialogs = _page(browser, base_url, "agent-expiring")
    user = db.exec(select(User).where(User.username == "agent-expiring")).one()
    # A token with three seconds to live, as if the agent had logged in a shift ago.
    issued = clock() - timedelta(minutes=1) + timedelta(seconds=3)
    short = issue_token(user, secret=SECRET, minutes=1, clock=lambda: issued)
    page.evaluate("token => sessionStorage.setItem('token', token)", short.access_token)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-console", "ready")
    expect(page.locator("#agent")).to_be_visible()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-note")).to_have_text("登录已过期，请重新登录。")
    expect(page.locator("#agent")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('token')") is None


def test_the_next_agent_to_sign_in_at_the_desk_sees_their_own_state(
    browser: Browser, base_url: str, make_user: Any
) -> None:
    """One agent's session ran out and a colleague signed in in the same tab. The console
    kept the first agent's state, whose number was newer, over the colleague's own: the
    colleague, on a break, was shown available."""
    colleague = make_user(Role.AGENT, username="agent-next-shift")
    for method, path, body in (
        ("PUT", "/api/agents/me/login", {"queues": ["hotline-zh-CN"]}),
        ("PUT", "/api/agents/me/state", {"state": "break", "reason": "lunch"}),
    ):
        reply = httpx.request(method, f"{base_url}{path}", json=body, headers=bearer(colleague))
        assert reply.status_code == 200, reply.text
    make_user(Role.AGENT, username="agent-first-shift")
    page, dialogs = _page(browser, base_url, "agent-first-shift")
    _available(page)  # a move after the colleague's: a higher number

    page.evaluate("() => { state.token = 'run out'; }")  # the next request gets 401
    page.locator("#go-break").click()
    expect(page.locator("#login")).to_be_visible()
    page.fill("input[name=username]", "agent-next-shift")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-console", "ready")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "break")
    assert dialogs == []


def test_a_ringing_agent_declines_from_the_console(
    browser: Browser,
    base_url: str,
    make_user: Any,
    make_customer: Any,
    sim: Any,
) -> None:
    make_customer(name="周敏", phones=("13700137000",))
    make_user(Role.AGENT, username="agent-declines")
    page, dialogs = _page(browser, base_url, "agent-declines")
    _available(page)
    colleague = _colleague_in_the_queue(base_url, make_user)
    sim.call("+8613700137000").press("0")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    page.locator("#decline").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    expect(page.locator("#decline")).to_be_hidden()
    # The call rings for the colleague now (asked through the app, which owns the session).
    theirs = httpx.get(f"{base_url}/api/console/me", headers=bearer(colleague)).json()
    assert theirs["state"] == "offered"
    assert dialogs == []


def _reply_held(page: Page, url: str, act: Any) -> tuple[Any, Any]:
    """Does ``act`` and holds the service's reply to its request for ``url`` (made, not
    yet seen by the page): the test hands it over with ``route.fulfill(response=reply)``."""
    held: list[Any] = []
    page.route(url, lambda route: held.append((route, route.fetch())), times=1)
    act()
    for _ in range(200):
        if held:
            return held[0]
        page.wait_for_timeout(50)
    raise AssertionError(f"the page never asked for {url}")


def test_a_declines_late_reply_leaves_the_next_call_ringing_on_screen(
    browser: Browser,
    base_url: str,
    make_user: Any,
    make_customer: Any,
    sim: Any,
) -> None:
    """The agent declines, and the next caller is offered to them before the decline's
    reply reaches the page (a slow network, a busy server). The reply, older than the offer,
    set the agent's state back to available: the next call rang on screen with Accept and
    Decline disabled, until some later change of state."""
    make_customer(name="周敏", phones=("13700137000",))
    make_user(Role.AGENT, username="agent-late-reply")
    page, dialogs = _page(browser, base_url, "agent-late-reply")
    _available(page)
    _colleague_in_the_queue(base_url, make_user)
    sim.call("+8613700137000").press("0")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")

    route, reply = _reply_held(page, "**/api/agents/me/decline", page.locator("#decline").click)
    sim.call("+8613800138000").press("0")  # rings for this agent, the colleague has the first
    expect(page.locator("#call-number")).to_contain_text(re.compile(r"138\D*0013\D*8000"))
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    expect(page.locator("#call-status")).to_have_attribute("data-status", "offered")

    with page.expect_response("**/api/agents/me/decline"):
        route.fulfill(response=reply)
    # Time for the page to read the reply; a slower page only lets the test pass wrongly,
    # never fail wrongly.
    page.evaluate("() => new Promise((done) => setTimeout(done, 300))")

    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    expect(page.locator("#accept")).to_be_enabled()
    expect(page.locator("#decline")).to_be_enabled()
    assert dialogs == []


def test_a_call_offered_as_the_console_opens_rings_on_screen(
    browser: Browser,
    base_url: str,
    make_user: Any,
    make_customer: Any,
    sim: Any,
) -> None:
    """The console reads the agent's state, then opens its event stream. A call offered
    between the two reached neither: the screen stayed idle while the call rang for the
    agent, until it rang out as their miss."""
    make_customer(name="周敏", phones=("13700137000",))
    make_user(Role.AGENT, username="agent-opening")
    page, dialogs = _page(browser, base_url, "agent-opening")
    _available(page)

    # The console opens again, as on the agent's next shift.
    route, reply = _reply_held(page, "**/api/console/me", page.reload)
    sim.call("+8613700137000").press("0")  # offered to this agent, the only one free
    route.fulfill(response=reply)

    expect(page.locator("body")).to_have_attribute("data-console", "ready")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    expect(page.locator("#call-panel")).to_be_visible()
    expect(page.locator("#call-number")).to_contain_text(re.compile(r"137\D*0013\D*7000"))
    expect(page.locator("#accept")).to_be_enabled()
    assert dialogs == []


def test_a_call_that_rings_out_leaves_the_agents_screen(
    browser: Browser,
    base_url: str,
    app: Any,
    make_user: Any,
    make_customer: Any,
    sim: Any,
    db: Session,
    clock: TestClock,
) -> None:
    """The agent lets the call ring out, and it goes to the queue again. Their screen kept
    the caller's pop under "ringing", with no button to act on it, in place of the idle
    panel, until the next call."""
    make_customer(name="周敏", phones=("13700137000",))
    make_user(Role.AGENT, username="agent-rings-out")
    page, dialogs = _page(browser, base_url, "agent-rings-out")
    _available(page)
    colleague = _colleague_in_the_queue(base_url, make_user)
    sim.call("+8613700137000").press("0")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    expect(page.locator("#call-panel")).to_be_visible()

    clock.advance(60)  # past the queue's ring time
    # The worker's sweep: the one offer rings out.
    assert len(routing.expire_offers(db, acd=app.state.switchboard.acd)) == 1

    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    expect(page.locator("#call-panel")).to_be_hidden()
    expect(page.locator("#idle")).to_be_visible()
    theirs = httpx.get(f"{base_url}/api/console/me", headers=bearer(colleague)).json()
    assert theirs["state"] == "offered"
    assert dialogs == []


@pytest.mark.parametrize("kind", ["offer", "consultation"])
def test_the_late_offer_of_a_call_already_withdrawn_does_not_ring_on_screen(
    browser: Browser,
    base_url: str,
    app: Any,
    make_user: Any,
    clock: TestClock,
    kind: str,
) -> None:
    """The ACD offers a call to the agent in one process while the caller hangs up in
    another: the withdrawal, saved second, can publish first. Its state event freed the
    agent on screen, and then the offer's late event rang the gone call there, with Accept
    and Decline disabled, until the agent's next call. The same for a colleague's request
    to consult, ended (cancelled, or their ring failed) before its offer was published."""
    agent = make_user(Role.AGENT, username=f"agent-late-{kind}")
    page, dialogs = _page(browser, base_url, f"agent-late-{kind}")
    _available(page)
    mine = httpx.get(f"{base_url}/api/console/me", headers=bearer(agent)).json()
    older = mine["changes"] - 1  # saved before the agent's state now shown
    offered = {"call_id": "withdrawn", "agent_id": agent.id, "queue": "hotline-zh-CN"}
    offered |= {"customer_ids": [], "at": clock(), "changes": older}
    late = app.state.switchboard.events.publish(
        CallOffered(**offered)
        if kind == "offer"
        else CallConsultOffered(
            **offered, from_agent_id=agent.id + 1000, expires_at=clock() + timedelta(seconds=15)
        )
    )
    page.wait_for_function("(id) => state.lastEventId === id", arg=late)  # read by the page
    expect(page.locator("#call-panel")).to_be_hidden()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    assert dialogs == []


def test_the_late_end_of_an_earlier_offer_leaves_the_ringing_call_on_screen(
    browser: Browser,
    base_url: str,
    app: Any,
    make_user: Any,
    make_customer: Any,
    sim: Any,
    clock: TestClock,
) -> None:
    """Two decisions of the ACD publish their events once their scripts have run, so the
    end of an earlier offer to the agent (its caller hung up) can reach the console after
    the next call's offer. The console took it for the end of the call ringing now and put
    that call off the screen: the agent, picking up, talked with no call panel, no pop and
    no buttons."""
    make_customer(name="周敏", phones=("13700137000",))
    agent = make_user(Role.AGENT, username="agent-late-event")
    page, dialogs = _page(browser, base_url, "agent-late-event")
    _available(page)
    queued = sim.call("+8613700137000").press("0")
    assert queued.root.find("Enqueue") is not None, ET.tostring(queued.root)
    # The offer as the service has it, then as the page shows it: a failure says which.
    mine = httpx.get(f"{base_url}/api/console/me", headers=bearer(agent)).json()
    assert (mine["state"], mine["call_id"] is not None) == ("offered", True), mine
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    expect(page.locator("#call-panel")).to_be_visible()

    app.state.switchboard.events.publish(
        AgentStateChanged(
            agent_id=agent.id,
            state=AgentState.AVAILABLE,
            previous=AgentState.OFFERED,
            reason="caller left",
            call_id=None,
            at=clock(),
            changes=mine["changes"] - 1,  # older than the offer, as a late event is
        )
    )

    # The console asks the service which call rings for the agent, and shows it ringing.
    expect(page.locator("#accept")).to_be_enabled()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offered")
    expect(page.locator("#call-panel")).to_be_visible()
    expect(page.locator("#call-status")).to_have_attribute("data-status", "offered")
    assert dialogs == []
