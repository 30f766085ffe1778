"""Automated satisfaction surveys: the survey flow on the IVR engine, and survey calls
placed through the real Twilio SDK (pointed at a local server standing for Twilio's API),
answered by simulated Twilio webhooks signed with the SDK's own validator."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from callbacks import claim_due_dials
from callcenter.app import worker_context
from callcenter.settings import Settings
from ivr import BUILTIN_FLOWS, CallerInput, Engine, Hangup, load_flows
from orders import SYSTEM, CallerLookup, Role
from orders.enums import OrderStatus, ServiceMode
from orders.models import Complaint, WorkOrder
from orders.schemas import OrderCreate, TransitionIn
from orders.services import work_orders
from telephony.enums import CallChannel
from telephony.models import Call
from telephony.services import start_outbound_call
from telephony.twilio.jobs import dial_surveys, send_sms_surveys
from tests.conftest import TestClock, at, bearer
from tests.fake_twilio_api import FakeTwilioApi
from tests.outbound_data import survey_due, task_of
from tests.twilio_sim import SimulatedCall, TwilioSimulator, TwiML, run_worker_jobs

CALLER_ID = "+864008001234"
SURVEY = load_flows(BUILTIN_FLOWS)["survey"]


@dataclass
class Answers:
    """The engine's Backend, keeping what a survey hands over."""

    surveys: list[dict[str, str]] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime(2026, 11, 23, 2, 0)

    def create_repair(self, *, customer_id: int, appliance_id: int, description: str) -> str:
        raise AssertionError("a survey takes no repair")

    def order_status(self, *, customer_id: int | None, number: str | None) -> None:
        return None

    def book_callback(self, *, call_id: str, customer_id: int | None, band: str) -> None:
        raise AssertionError("a survey books no callback")

    def callback_slots(self, *, customer_id: int | None, count: int) -> list[datetime]:
        return []

    def book_callback_at(self, *, call_id: str, customer_id: int | None, at: datetime) -> None:
        raise AssertionError("a survey books no callback")

    def record_survey(self, *, call_id: str, answers: dict[str, str]) -> None:
        self.surveys.append(answers)


@pytest.mark.parametrize(
    ("inputs", "answers"),
    [
        ([CallerInput(digits="1"), CallerInput(digits="4")], [{"working": "1", "score": "4"}]),
        (
            [CallerInput(speech="不正常", speech_confidence=0.9), CallerInput(speech="五分")],
            [{"working": "2", "score": "5"}],
        ),
        ([CallerInput(digits="2"), CallerInput(digits="9"), CallerInput(digits="")], []),
    ],
    ids=["keys", "speech", "no-score"],
)
def test_the_survey_flow_keeps_the_answers_and_hands_them_over_once(
    inputs: list[CallerInput], answers: list[dict[str, str]]
) -> None:
    backend = Answers()
    engine = Engine(SURVEY, backend)
    state, turn = engine.start(call_id="c1", pop=CallerLookup(phone="+8613900000000", customers=[]))
    for given in inputs:
        state, turn = engine.handle(state, given)

    assert backend.surveys == answers
    assert isinstance(turn.actions[-1], Hangup)
    assert state.finished


@pytest.fixture
def settings(settings: Settings, api: FakeTwilioApi) -> Settings:
    twilio = settings.twilio.model_copy(
        update={"api_base_url": api.base_url, "caller_id": CALLER_ID}
    )
    return settings.model_copy(update={"twilio": twilio})


def _dial(app: Any) -> int:
    placed: int = asyncio.run(dial_surveys(worker_context(app)))
    return placed


def _picked_up(
    sim: TwilioSimulator, api: FakeTwilioApi, *, answered_by: str = "human"
) -> SimulatedCall:
    """Twilio fetches the call's URL once the customer picks up."""
    created = api.requests[-1].form
    url = created["Url"][0]
    sid = "CA" + "b" * 32
    params = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER_ID,
        "To": created["To"][0],
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
        "AnsweredBy": answered_by,
    }
    twiml = TwiML.parse(sim.post(url, params))
    return SimulatedCall(sim=sim, sid=sid, caller=created["To"][0], twiml=twiml, heard=twiml.said())


SID = "CA" + "b" * 32


@pytest.mark.parametrize("score", ["4", "1"])
def test_a_survey_call_collects_the_score_into_the_order_and_the_next_pop(
    app: Any,
    client: TestClient,
    db: Session,
    clock: TestClock,
    api: FakeTwilioApi,
    headers: dict[str, dict[str, str]],
    score: str,
) -> None:
    order, task = survey_due(db, clock)
    api.replies.append((201, {"sid": SID, "status": "queued", "to": task.phone}))
    sim = TwilioSimulator(client)

    placed = _dial(app)
    again = _dial(app)
    call = _picked_up(sim, api)
    call.press("1")
    last = call.press(score)
    ended = call.status("completed")
    db.expire_all()

    assert (placed, again) == (1, 0), "a claimed task is dialled once"
    [request] = api.requests
    assert request.path.endswith("/Calls.json")
    assert request.form["To"] == [task.phone]
    assert request.form["From"] == [CALLER_ID]
    assert request.form["MachineDetection"] == ["Enable"]
    assert urlsplit(request.form["Url"][0]).path == "/twilio/survey"
    assert "一分钟" in call.heard[0]
    assert last.verbs()[-1] == "Hangup"
    assert ended.status_code == 204
    row = db.get(WorkOrder, order.order_id)
    assert row is not None and row.satisfaction_score == int(score)
    db.refresh(task)
    assert (task.status, task.outcome, task.attempts) == ("done", "score_given", 1)
    [placed_call] = db.exec(select(Call).where(Call.task_id == task.id)).all()
    assert (placed_call.direction, placed_call.provider_id) == ("outbound", SID)
    pop = client.get("/api/lookup", params={"phone": task.phone}, headers=headers["agent"])
    assert pop.json()["customers"][0]["last_satisfaction_score"] == int(score)
    complaints = db.exec(select(Complaint).where(Complaint.order_id == order.order_id)).all()
    if score == "1":
        assert [c.topic for c in complaints] == ["unsatisfied_callback"]
        assert row.status == "reopened"
    else:
        assert complaints == []
        assert row.status == "completed"


def test_no_answer_and_an_answering_machine_are_tried_again_later(
    app: Any, client: TestClient, db: Session, clock: TestClock, api: FakeTwilioApi
) -> None:
    _, task = survey_due(db, clock)
    sim = TwilioSimulator(client)
    api.replies.append((201, {"sid": SID, "status": "queued", "to": task.phone}))
    _dial(app)

    machine = _picked_up(sim, api, answered_by="machine_start")
    late = sim.post(
        "/twilio/status",
        {"CallSid": SID, "AccountSid": "AC" + "0" * 32, "CallStatus": "completed"},
    )
    db.refresh(task)

    assert machine.twiml.verbs() == ["Hangup"]
    assert late.status_code == 204
    assert (task.status, task.outcome, task.attempts) == ("scheduled", "voicemail", 1)
    assert task.due_at is not None and task.due_at >= clock() + timedelta(hours=1, minutes=59)

    clock.set(task.due_at + timedelta(seconds=1))
    second = "CA" + "c" * 32
    api.replies.append((201, {"sid": second, "status": "queued", "to": task.phone}))
    assert _dial(app) == 1
    unanswered = sim.post(
        "/twilio/status",
        {"CallSid": second, "AccountSid": "AC" + "0" * 32, "CallStatus": "no-answer"},
    )
    db.refresh(task)

    assert unanswered.status_code == 204
    assert (task.status, task.outcome, task.attempts) == ("scheduled", "no_answer", 2)
    assert len([r for r in api.requests if r.path.endswith("/Calls.json")]) == 2


def test_a_number_twilio_refuses_is_a_wrong_number_and_a_listed_one_is_never_dialled(
    app: Any,
    client: TestClient,
    db: Session,
    clock: TestClock,
    api: FakeTwilioApi,
    headers: dict[str, dict[str, str]],
) -> None:
    _, task = survey_due(db, clock)
    api.replies.append(
        (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    )

    _dial(app)
    db.refresh(task)

    assert (task.status, task.outcome) == ("done", "wrong_number")
    _, listed = survey_due(db, clock, seed=3)
    client.post("/api/dnc", json={"phone": listed.phone}, headers=headers["supervisor"])
    before = len(api.requests)
    assert _dial(app) == 0
    db.refresh(listed)
    assert listed.status == "cancelled"
    assert len(api.requests) == before


def _text(sim: TwilioSimulator, phone: str, body: str) -> str:
    params = {
        "MessageSid": "SM" + "d" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": CALLER_ID,
        "Body": body,
    }
    response = sim.post("/twilio/sms", params)
    assert response.status_code == 200, response.text
    return response.text


def test_an_sms_survey_is_answered_with_a_digit_and_asked_again_after_anything_else(
    app: Any, client: TestClient, db: Session, clock: TestClock, api: FakeTwilioApi
) -> None:
    _, task = survey_due(db, clock, mode="sms_survey", seed=5)
    sim = TwilioSimulator(client)
    api.replies.append((201, {"sid": "SM" + "e" * 32, "status": "queued"}))

    sent = asyncio.run(send_sms_surveys(worker_context(app)))
    unclear = _text(sim, task.phone, "还行吧")
    scored = _text(sim, task.phone, "４")
    after = _text(sim, task.phone, "5")
    forged = sim.post("/twilio/sms", {"From": task.phone, "Body": "1"}, signature="not-twilio")
    db.refresh(task)

    assert sent == 1
    [request] = api.requests
    assert request.path.endswith("/Messages.json")
    assert request.form["To"] == [task.phone]
    assert "1-5" in request.form["Body"][0]
    assert "请回复数字1-5" in unclear
    assert "感谢" in scored
    assert "<Message>" not in after, "a survey answered is not answered twice"
    assert forged.status_code == 403
    assert (task.status, task.outcome) == ("done", "score_given")
    order = db.get(WorkOrder, task.order_id)
    assert order is not None and order.satisfaction_score == 4


def test_an_sms_survey_answered_td_opts_the_customer_out(
    app: Any,
    client: TestClient,
    db: Session,
    clock: TestClock,
    api: FakeTwilioApi,
    headers: dict[str, dict[str, str]],
) -> None:
    _, task = survey_due(db, clock, mode="sms_survey", seed=5)
    sim = TwilioSimulator(client)
    api.replies.append((201, {"sid": "SM" + "e" * 32, "status": "queued"}))
    asyncio.run(send_sms_surveys(worker_context(app)))

    stopped = _text(sim, task.phone, "td")
    db.refresh(task)

    assert "退订" in stopped
    assert (task.status, task.outcome) == ("done", "opted_out")
    preference = client.get(
        f"/api/customers/{task.customer_id}/contact-preferences",
        headers=headers["agent"],
    )
    assert preference.json()["opted_out"] is True


def test_through_twilio_the_agent_s_phone_rings_then_the_customer_s(
    app: Any,
    client: TestClient,
    db: Session,
    clock: TestClock,
    make_user: Any,
    headers: dict[str, dict[str, str]],
    api: FakeTwilioApi,
    redis_url: str,
    bus: Any,
) -> None:
    agent = make_user(Role.AGENT)
    task = task_of(client, db, clock, agent, headers["supervisor"])
    api.replies.append((201, {"sid": "CA" + "a" * 32, "status": "queued"}))

    placed = client.post(f"/api/tasks/{task.id}/call", headers=bearer(agent))
    run_worker_jobs(app, redis_url, bus)
    [ring] = api.requests
    answered = TwilioSimulator(client).post(
        ring.form["Url"][0],
        {"CallSid": "CA" + "a" * 32, "AccountSid": "AC" + "0" * 32, "CallStatus": "in-progress"},
    )

    assert placed.json()["dialled_by"] == "twilio"
    assert ring.form["To"] == [f"client:agent-{agent.id}"]
    assert ring.form["From"] == [CALLER_ID]
    dial = TwiML.parse(answered).root.find("Dial")
    assert dial is not None and dial.attrib["callerId"] == CALLER_ID
    assert [n.text for n in dial.iter("Number")] == [task.phone]


def test_a_dial_lost_with_a_killed_worker_is_dialled_once_later_and_counts_no_attempt(
    app: Any, client: TestClient, db: Session, clock: TestClock, api: FakeTwilioApi
) -> None:
    _, task = survey_due(db, clock)
    # The fault: a worker claims the task and logs its call, then dies before dialling.
    [claimed] = claim_due_dials(db, now=clock())
    orphan = start_outbound_call(
        db,
        channel=CallChannel.TWILIO,
        to_number=claimed.phone,
        from_number=CALLER_ID,
        task_id=claimed.task_id,
        clock=clock,
    )
    assert _dial(app) == 0, "a claimed task is not dialled by another worker meanwhile"
    assert api.requests == []

    # Past the claim timeout the next run releases the lost claim and dials it at once.
    clock.advance(11 * 60)
    api.replies.append((201, {"sid": SID, "status": "queued", "to": task.phone}))
    dialled = _dial(app)
    clock.advance(11 * 60)
    assert _dial(app) == 0, "a dial Twilio has is left to its status callbacks"
    db.refresh(task)
    db.refresh(orphan)

    assert dialled == 1
    assert len(api.requests) == 1
    assert (task.status, task.attempts) == ("in_progress", 0)
    assert (orphan.state, orphan.disposition) == ("ended", "failed")


def test_a_call_twilio_placed_for_a_worker_killed_before_keeping_its_sid_is_not_placed_again(
    app: Any, client: TestClient, db: Session, clock: TestClock, api: FakeTwilioApi
) -> None:
    """The fault: Twilio accepts the call and the worker dies before it stores the SID.
    Twilio's first status callback names our call (``?call=``), so the call is adopted and
    the dial is not mistaken for one that never happened."""
    order, task = survey_due(db, clock)
    api.replies.append((201, {"sid": SID, "status": "queued", "to": task.phone}))
    assert _dial(app) == 1
    [placed] = db.exec(select(Call).where(Call.task_id == task.id)).all()
    status_url = api.requests[-1].form["StatusCallback"][0]
    placed.provider_id = None  # what the dead worker never stored
    db.add(placed)
    db.commit()
    sim = TwilioSimulator(client)

    initiated = sim.post(
        status_url, {"CallSid": SID, "AccountSid": "AC" + "0" * 32, "CallStatus": "initiated"}
    )
    clock.advance(11 * 60)
    assert _dial(app) == 0, "an adopted call is left to Twilio's callbacks"
    call = _picked_up(sim, api)
    call.press("1")
    call.press("5")
    call.status("completed")
    db.expire_all()

    assert initiated.status_code == 204
    assert len([r for r in api.requests if r.path.endswith("/Calls.json")]) == 1
    db.refresh(placed)
    assert (placed.provider_id, placed.state) == (SID, "ended")
    db.refresh(task)
    assert (task.status, task.outcome, task.attempts) == ("done", "score_given", 1)
    row = db.get(WorkOrder, order.order_id)
    assert row is not None and row.satisfaction_score == 5


def test_the_customer_is_texted_when_parts_wait_arrive_and_the_repair_is_done(
    app: Any,
    client: TestClient,
    db: Session,
    clock: TestClock,
    api: FakeTwilioApi,
    headers: dict[str, dict[str, str]],
    make_customer: Any,
    make_appliance: Any,
    station: Any,
) -> None:
    customer = make_customer(name="周杰", phones=("13600136000",))
    order = work_orders.create_order(
        db,
        # Carried in: at the station, the arrived parts go straight onto the bench.
        data=OrderCreate(
            customer_id=customer.id,
            appliance_id=make_appliance(customer.id).id,
            service_mode=ServiceMode.CARRY_IN,
        ),
        actor=SYSTEM,
        clock=clock,
    )
    steps = [
        OrderStatus.ASSIGNED,
        OrderStatus.ACCEPTED,
        OrderStatus.CONTACTED,
        OrderStatus.IN_SERVICE,
        OrderStatus.WAITING_PARTS,
    ]
    for step in steps:
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=clock,
        )
    api.replies.append((201, {"sid": "SM" + "1" * 32, "status": "queued"}))
    first = asyncio.run(send_sms_surveys(worker_context(app)))
    clock.set(at(2026, 11, 23, 14, 30))  # 22:30 in Shanghai
    for step in (OrderStatus.IN_SERVICE, OrderStatus.COMPLETED):
        work_orders.transition_order(
            db, order_id=order.id, data=TransitionIn(to=step), actor=SYSTEM, clock=clock
        )
    at_night = asyncio.run(send_sms_surveys(worker_context(app)))
    morning_at = at(2026, 11, 24, 1, 0, 30)  # 09:00 the next morning
    clock.set(morning_at)
    api.replies += [(201, {"sid": "SM" + "2" * 32}), (201, {"sid": "SM" + "3" * 32})]
    morning = asyncio.run(send_sms_surveys(worker_context(app)))
    notices = client.get(f"/api/orders/{order.id}/notices", headers=headers["agent"]).json()

    assert (first, at_night, morning) == (1, 0, 2)
    bodies = [r.form["Body"][0] for r in api.requests]
    assert [r.form["To"][0] for r in api.requests] == ["+8613600136000"] * 3
    assert "正在等待配件" in bodies[0] and order.number in bodies[0]
    assert "配件已到" in bodies[1]
    assert "已维修完成" in bodies[2]
    assert notices["count"] == 3
    assert [n["purpose"] for n in notices["notices"]] == [
        "notice_waiting_parts",
        "notice_parts_arrived",
        "notice_repaired",
    ]
    sent_at = datetime.fromisoformat(notices["notices"][2]["sent_at"])
    assert timedelta(0) <= sent_at - morning_at < timedelta(minutes=1)
