"""The Twilio channel driven as Twilio drives it: signed webhooks, TwiML, status callbacks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import redis
import sqlalchemy
from sqlmodel import Session, func, select
from starlette.datastructures import ImmutableMultiDict

from callbacks.models import OutboundTask
from core.bus import EventBus
from ivr import store as ivr_store
from orders.enums import ApplianceCategory, Channel, OrderStatus
from orders.models import WorkOrder
from orders.schemas import SYSTEM, TransitionIn
from orders.services import work_orders
from telephony.models import Call, CallStatusChange
from tests.conftest import PUBLIC_URL, TWILIO_ACCOUNT_SID, TestClock, at
from tests.twilio_sim import TwilioSimulator, TwiML

pytestmark = pytest.mark.clock
"""Business hours, offer timeouts and token expiry, all on the tests' clock."""


@pytest.fixture
def returning(make_customer: Any, make_appliance: Any) -> Any:
    customer = make_customer(name="王建国", title="先生", phones=("138 0013 8000",))
    washer = make_appliance(customer.id, brand="海尔")
    fridge = make_appliance(customer.id, brand="美的", category=ApplianceCategory.REFRIGERATOR)
    return customer, washer, fridge


def _events(bus: redis.Redis, name: str) -> list[dict[str, Any]]:
    return [e.data for e in EventBus(bus).read_after("0", count=1000) if e.name == name]


def _call(db: Session, sid: str) -> Call:
    db.expire_all()
    call = db.exec(select(Call).where(Call.provider_id == sid)).one()
    return call


def test_returning_customer_logs_a_repair_end_to_end(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    customer, _washer, fridge = returning
    call = sim.call("+8613800138000")
    assert "王先生您好，欢迎再次致电家电售后服务热线。" in call.heard
    [ringing] = _events(bus, "call.ringing")
    assert ringing["pop"]["customers"][0]["name"] == "王建国"
    assert ringing["pop"]["customers"][0]["id"] == customer.id
    assert ringing["from_number"] == "+8613800138000"

    kinds = call.press("1")  # repair: the caller has a washing machine and a fridge
    assert "请问是哪一类电器需要报修？" in kinds.said()
    assert any("冰箱请按2" in text for text in kinds.said())
    assert "请在提示音后简要描述故障现象，说完请按井号键。" in call.press("2").said()
    final = call.speak("冰箱不制冷，冷藏室温度很高")
    assert final.verbs()[-1] == "Hangup"

    order = db.exec(select(WorkOrder).where(WorkOrder.customer_id == customer.id)).one()
    assert order.appliance_id == fridge.id
    assert order.channel is Channel.IVR
    assert order.fault_description == "冰箱不制冷，冷藏室温度很高"
    assert any(order.number in text for text in final.said())
    assert _call(db, call.sid).order_id == order.id


def test_returning_customer_hears_open_order_status(
    sim: TwilioSimulator, returning: Any, make_order: Any, db: Session, clock: TestClock
) -> None:
    customer, washer, _fridge = returning
    order = make_order(customer.id, washer.id)
    work_orders.transition_order(
        db,
        order_id=order.id,
        data=TransitionIn(to=OrderStatus.CANCELLED),
        actor=SYSTEM,
        clock=clock,
    )
    open_order = make_order(customer.id, washer.id)
    call = sim.call("13800138000")
    status = f"您的工单{open_order.number}目前状态是：已受理，等待派单。"
    assert status in call.heard
    assert "请输入工单号码中的数字" in call.press("2").said()[0]
    again = call.press("")  # just the hash key: the latest open order
    assert status in again.said()
    assert again.gather() is not None
    call.press("2")
    by_number = call.press(order.number.removeprefix("WO") + "#")
    assert f"您的工单{order.number}目前状态是：已取消。" in by_number.said()


def test_invalid_keys_and_silence_reach_the_queue(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    ahead = [sim.call(f"+861390000000{n}") for n in range(2)]
    for other in ahead:
        other.press("0")
    call = sim.call("+8613800138000")
    assert "对不起，您的输入无效。" in call.press("7").said()
    assert "对不起，没有收到您的输入。" in call.silence().said()
    last = call.press("9")
    assert last.verbs()[-1] == "Enqueue"
    row = _call(db, call.sid)
    assert last.root.find("Enqueue").text == f"call-{row.id}"
    queued = _events(bus, "call.queued")
    assert [q["queue"] for q in queued] == ["hotline-zh-CN"] * 3
    assert row.state == "queued"
    assert "您前面还有2位客户，请耐心等候。" in call.wait_in_queue().said()


def test_unknown_caller_pressing_repair_goes_to_an_agent(
    sim: TwilioSimulator, bus: redis.Redis
) -> None:
    call = sim.call("+8613900000000")
    assert "您好，欢迎致电家电售后服务热线。" in call.heard
    [ringing] = _events(bus, "call.ringing")
    assert ringing["pop"]["customers"] == []
    assert call.press("1").verbs()[-1] == "Enqueue"


def test_twilio_retrying_the_voice_webhook_logs_one_call(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    params = {
        "CallSid": "CA" + "1" * 32,
        "From": "+8613800138000",
        "To": sim.hotline,
        "CallStatus": "ringing",
    }
    first = sim.post("/twilio/voice", params)
    second = sim.post("/twilio/voice", params)
    assert first.status_code == second.status_code == 200
    assert db.exec(select(func.count()).select_from(Call)).one() == 1
    assert len(_events(bus, "call.ringing")) == 1


@pytest.mark.parametrize(
    ("caller", "kept"),
    [
        ("sip:" + "a" * 80 + "@pbx.example.sip.twilio.com", "sip:" + "a" * 60),
        ("+86138\x0000138000", "+8613800138000"),
    ],
)
def test_a_caller_id_too_long_or_with_a_control_character_is_logged_not_refused(
    sim: TwilioSimulator, returning: Any, db: Session, caller: str, kept: str
) -> None:
    """A SIP URI longer than the log's column, and a NUL, failed the call's insert on
    PostgreSQL: a 500, and the caller heard Twilio's application error. Now the call is
    logged with the caller id cut to the column, and the NUL dropped before the lookup
    (so the returning caller is still recognised)."""
    call = sim.call(caller)
    assert call.twiml.gather() is not None
    logged = _call(db, call.sid)
    assert logged.from_number == kept
    recognised = "王先生您好，欢迎再次致电家电售后服务热线。" in call.heard
    assert recognised is kept.startswith("+86")


@pytest.mark.parametrize("sid", ["CA\x00" + "a" * 31, "CA404", "x" * 100])
def test_a_new_call_with_a_malformed_call_sid_is_refused_and_not_logged(
    sim: TwilioSimulator, db: Session, sid: str
) -> None:
    """The one webhook that took its CallSid unchecked: a NUL reached PostgreSQL (a 500),
    and on SQLite a SID of no Twilio shape was logged, to be sent to Twilio's API later."""
    refused = sim.post("/twilio/voice", {**VOICE, "CallSid": sid})
    assert refused.status_code == 422
    assert refused.json()["details"]["field"] == "CallSid"
    assert db.exec(select(func.count()).select_from(Call)).one() == 0


def test_a_key_that_is_a_digit_only_in_unicode_is_invalid_input(
    sim: TwilioSimulator, returning: Any
) -> None:
    """ "²" passed ``str.isdigit`` and then failed ``int``: a 500 at every menu that reads
    a key as a number (the kind, the appliance, the callback time)."""
    call = sim.call("+8613800138000")
    call.press("1")  # repair: of two kinds of appliance, the IVR asks which
    odd = call.press("\u00b2")
    assert "对不起，您的输入无效。" in odd.said()
    assert any("冰箱请按2" in text for text in odd.said())


@pytest.mark.parametrize(
    ("spoken", "logged"),
    [("冰箱不制冷" * 1001, ("冰箱不制冷" * 1001)[:5000]), ("冰箱\x00不制冷", "冰箱不制冷")],
)
def test_a_fault_description_too_long_or_with_a_control_character_is_logged(
    sim: TwilioSimulator, returning: Any, db: Session, spoken: str, logged: str
) -> None:
    """The order refused both (5,000 characters at most, no NUL): a 500 while the caller
    listened, and their report was lost at every retry."""
    customer, _washer, fridge = returning
    call = sim.call("+8613800138000")
    call.press("1")
    call.press("2")  # the fridge
    final = call.speak(spoken)
    assert final.verbs()[-1] == "Hangup"
    order = db.exec(select(WorkOrder).where(WorkOrder.customer_id == customer.id)).one()
    assert (order.appliance_id, order.fault_description) == (fridge.id, logged)


def _fail_once_keeping_the_ivr_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis fails once as the IVR's state is kept: after the step's order or booking is
    written, before its answer."""
    real = ivr_store.save
    failures = iter([redis.ConnectionError("Redis went away")])

    def failing_once(*args: Any, **kwargs: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        real(*args, **kwargs)

    monkeypatch.setattr(ivr_store, "save", failing_once)


def _sent_twice(sim: TwilioSimulator, call: Any, params: dict[str, str]) -> Any:
    gather = call.twiml.gather()
    assert gather is not None
    first = sim.post(gather.attrib["action"], call._base(params))
    assert first.status_code == 503, first.text
    return TwiML.parse(sim.post(gather.attrib["action"], call._base(params)))


def test_a_fault_sent_again_after_a_503_logs_one_order(
    sim: TwilioSimulator, returning: Any, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found: the retry of a fault description whose answer was 503 (Redis failed after
    the order was logged) logged a second order."""
    customer, _washer, fridge = returning
    call = sim.call("+8613800138000")
    call.press("1")
    call.press("2")  # the fridge
    _fail_once_keeping_the_ivr_state(monkeypatch)
    final = _sent_twice(sim, call, {"SpeechResult": "冰箱不制冷", "Confidence": "0.9"})
    assert final.verbs()[-1] == "Hangup"
    [order] = db.exec(select(WorkOrder).where(WorkOrder.customer_id == customer.id)).all()
    assert (order.appliance_id, order.fault_description) == (fridge.id, "冰箱不制冷")
    assert any(order.number in text for text in final.said())
    assert _call(db, call.sid).order_id == order.id


def test_a_callback_booking_sent_again_after_a_503_books_one_callback(
    sim: TwilioSimulator,
    returning: Any,
    clock: TestClock,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found: the retry of a booking whose answer was 503 booked a second callback."""
    clock.set(at(2026, 11, 23, 14, 30))  # 22:30 in Shanghai: the after-hours menu
    call = sim.call("+8613800138000")
    _fail_once_keeping_the_ivr_state(monkeypatch)
    done = _sent_twice(sim, call, {"Digits": "2"})
    assert "已为您预约12:00-18:00回电。" in done.said()
    [booked] = db.exec(select(OutboundTask)).all()
    assert (booked.call_id, booked.note) == (_call(db, call.sid).id, "booked for 12:00-18:00")


# Security: a request Twilio did not sign leaves no trace.

VOICE = {
    "CallSid": "CA" + "2" * 32,
    "From": "+8613800138000",
    "To": "+864008001234",
    "CallStatus": "ringing",
}


def _forgeries(sim: TwilioSimulator) -> dict[str, Any]:
    return {
        "unsigned": lambda: sim.client.post("/twilio/voice", data=VOICE),
        "wrongly signed": lambda: sim.post("/twilio/voice", VOICE, signature="bm90IGEgc2ln"),
        "replayed to another URL": lambda: sim.post(
            "/twilio/voice", VOICE, signature=sim.sign("/twilio/status", VOICE)
        ),
        "replayed with another query": lambda: sim.post(
            "/twilio/voice?x=1", VOICE, signature=sim.sign("/twilio/voice", VOICE)
        ),
        "tampered parameter": lambda: sim.post(
            "/twilio/voice",
            {**VOICE, "From": "+8613911112222"},
            signature=sim.sign("/twilio/voice", VOICE),
        ),
        "signed with another token": lambda: sim.post(
            "/twilio/voice",
            VOICE,
            signature=__import__("twilio.request_validator", fromlist=["RequestValidator"])
            .RequestValidator("another-token")
            .compute_signature("https://hotline.example.com/twilio/voice", VOICE),
        ),
    }


@pytest.mark.parametrize(
    "forgery",
    [
        "unsigned",
        "wrongly signed",
        "replayed to another URL",
        "replayed with another query",
        "tampered parameter",
        "signed with another token",
    ],
)
def test_forged_requests_get_403_and_leave_no_trace(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis, forgery: str
) -> None:
    response = _forgeries(sim)[forgery]()
    assert response.status_code == 403
    assert response.json()["error_id"] == "invalid_twilio_signature"
    assert db.exec(select(func.count()).select_from(Call)).one() == 0
    assert EventBus(bus).read_after("0") == []


def test_forged_status_callback_changes_nothing(
    sim: TwilioSimulator, returning: Any, db: Session
) -> None:
    call = sim.call("+8613800138000")
    params = {"CallSid": call.sid, "CallStatus": "completed"}
    response = sim.post("/twilio/status", params, signature=sim.sign("/twilio/voice", params))
    assert response.status_code == 403
    assert _call(db, call.sid).state == "in_ivr"


def _as_twilio_sends_it(sid: str) -> list[tuple[str, str]]:
    """A voice webhook's parameters as Twilio posts them: the caller's and the line's
    places, blank where Twilio does not know them, and one name given twice."""
    places = {
        f"{who}{part}": value
        for who in ("Called", "Caller", "From", "To")
        for part, value in (("City", ""), ("Country", "CN"), ("State", ""), ("Zip", ""))
    }
    places["CallerCity"] = "北京"
    return [
        ("AccountSid", TWILIO_ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", "ringing"),
        ("Called", "+864008001234"),
        ("Caller", "+8613800138000"),
        ("Direction", "inbound"),
        ("From", "+8613800138000"),
        ("To", "+864008001234"),
        *places.items(),
        ("SipHeader_X-Route", "hotline"),
        ("SipHeader_X-Route", "after-sales"),
    ]


def _post_signed(
    sim: TwilioSimulator,
    sent: list[tuple[str, str]],
    signed: list[tuple[str, str]],
    content_type: str = "application/x-www-form-urlencoded",
) -> Any:
    signature = sim.validator.compute_signature(
        PUBLIC_URL + "/twilio/voice", ImmutableMultiDict(signed)
    )
    return sim.client.post(
        "/twilio/voice",
        content=urlencode(sent),
        headers={"X-Twilio-Signature": signature, "Content-Type": content_type},
    )


def test_a_webhook_is_verified_over_every_value_twilio_signed(
    sim: TwilioSimulator, returning: Any, db: Session
) -> None:
    """Twilio signs every parameter it posts: the blank ones, the non-ASCII ones, each
    value of a repeated name. The call begins only when all of them are as signed."""
    sid = "CA" + "3" * 32
    params = _as_twilio_sends_it(sid)
    one_value_less = [p for p in params if p != ("SipHeader_X-Route", "after-sales")]
    blank_filled = [(n, "Haidian" if n == "CalledCity" else v) for n, v in params]
    for forged in (one_value_less, blank_filled):
        refused = _post_signed(sim, forged, params)
        assert refused.status_code == 403, forged
    assert db.exec(select(func.count()).select_from(Call)).one() == 0

    # The media type's case is not Twilio's to keep (RFC 9110), nor is a charset named.
    answered = _post_signed(
        sim, params, params, content_type="Application/X-WWW-Form-URLencoded; charset=utf-8"
    )
    assert answered.status_code == 200, answered.text
    assert "王先生您好" in answered.text
    assert _call(db, sid).from_number == "+8613800138000"


def test_a_signed_name_given_twice_is_handed_to_no_handler(
    sim: TwilioSimulator, returning: Any, db: Session
) -> None:
    """Twilio's signature covers a repeated name's values but not their order: whoever
    holds one signed webhook could reorder them. So no handler takes either value."""
    params = [p for p in _as_twilio_sends_it("CA" + "4" * 32) if p[0] != "CallSid"]
    twice = [("CallSid", "CA" + "4" * 32), ("CallSid", "CA" + "5" * 32), *params]
    refused = _post_signed(sim, twice, twice)
    assert refused.status_code == 422, refused.text
    assert refused.json()["details"] == {"field": "CallSid"}
    assert db.exec(select(func.count()).select_from(Call)).one() == 0


def test_a_body_of_more_fields_than_twilio_sends_is_refused_before_it_is_read(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    """A hundred thousand fields fit the body limit; parsed and signed, they held the event
    loop for a good part of a second. Twilio sends some 30."""
    flood = "&".join(f"f{n}=" for n in range(100_000)).encode()
    response = sim.client.post(
        "/twilio/voice",
        content=flood,
        headers={
            "X-Twilio-Signature": "bm90IGEgc2ln",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["error_id"] == "malformed_twilio_webhook"
    assert db.exec(select(func.count()).select_from(Call)).one() == 0
    assert EventBus(bus).read_after("0") == []


# Status callbacks: retried and reordered by Twilio.


def _changes(db: Session, call_id: str) -> list[str]:
    return [
        c.status.value
        for c in db.exec(
            select(CallStatusChange)
            .where(CallStatusChange.call_id == call_id)
            .order_by(CallStatusChange.id)
        ).all()
    ]


def test_duplicated_status_callbacks_write_one_change(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    call = sim.call("+8613800138000")
    for _ in range(3):
        assert call.status("in-progress", 1).status_code == 204
    for _ in range(2):
        assert call.status("completed", 2).status_code == 204
    row = _call(db, call.sid)
    assert _changes(db, row.id) == ["in-progress", "completed"]
    assert row.state == "ended" and row.disposition == "completed"
    assert len(_events(bus, "call.answered")) == 1
    assert len(_events(bus, "call.ended")) == 1


def test_late_callbacks_after_completed_change_nothing(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    call = sim.call("+8613800138000")
    call.status("completed", 3)
    ended = _call(db, call.sid)
    for late in ("ringing", "in-progress", "busy"):
        assert call.status(late, 1).status_code == 204
    row = _call(db, call.sid)
    assert (row.state, row.disposition, row.ended_at) == ("ended", "completed", ended.ended_at)
    assert row.answered_at == ended.answered_at  # answered by our TwiML, once
    assert _changes(db, row.id) == ["completed"]
    assert len(_events(bus, "call.ended")) == 1
    assert len(_events(bus, "call.answered")) == 1


def test_hanging_up_in_the_queue_is_abandoned(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    call = sim.call("+8613800138000")
    call.press("0")
    call.status("completed")
    assert _call(db, call.sid).disposition == "abandoned"
    [ended] = _events(bus, "call.ended")
    assert ended["disposition"] == "abandoned"


def test_status_for_unknown_call_or_status_is_a_clear_4xx(sim: TwilioSimulator) -> None:
    nobody = "CA" + "4" * 32
    unknown = sim.post("/twilio/status", {"CallSid": nobody, "CallStatus": "in-progress"})
    assert unknown.status_code == 404
    assert unknown.json()["error_id"] == "call_not_found"
    bad = sim.post("/twilio/status", {"CallSid": nobody, "CallStatus": "exploded"})
    assert bad.status_code == 422
    assert "exploded" in bad.json()["message"]


def test_a_hang_up_reported_before_the_call_is_logged_ends_it_as_it_arrives(
    sim: TwilioSimulator, returning: Any, db: Session, bus: redis.Redis
) -> None:
    """The caller hangs up while ``/twilio/voice`` is still logging the call, and Twilio's
    ``completed`` reaches the other worker first. It found no call (404) and Twilio does
    not send it again: the call, logged a moment later, stayed in the IVR for good (or in
    the queue, ringing agents for nobody)."""
    sid = "CA" + "5" * 32
    early = {"CallSid": sid, "AccountSid": TWILIO_ACCOUNT_SID, "CallStatus": "completed"}
    assert sim.post("/twilio/status", {**early, "SequenceNumber": "3"}).status_code == 204

    voice = {**early, "From": "+8613800138000", "To": sim.hotline, "CallStatus": "ringing"}
    answer = TwiML.parse(sim.post("/twilio/voice", voice))

    assert answer.verbs() == ["Hangup"]
    row = _call(db, sid)
    assert (row.state, row.disposition) == ("ended", "completed")
    assert len(_events(bus, "call.ended")) == 1


@pytest.mark.parametrize("sequence", ["\u00b2", "-1", "3000000000", "1" * 5000, "1e3"])
def test_a_status_with_a_malformed_sequence_number_is_refused_and_changes_nothing(
    sim: TwilioSimulator, returning: Any, db: Session, sequence: str
) -> None:
    """Each was taken: "²" passed ``str.isdigit`` and then failed ``int`` (a 500), as did
    5,000 digits; 3,000,000,000 overflowed PostgreSQL's integer column (a 500); "-1" and
    "1e3" were applied as if the callback had no number, out of order."""
    call = sim.call("+8613800138000")
    refused = call.status("completed", sequence)
    assert refused.status_code == 422
    assert refused.json()["details"]["field"] == "SequenceNumber"
    assert _call(db, call.sid).state == "in_ivr"
    assert call.status("completed", 4).status_code == 204
    assert _call(db, call.sid).state == "ended"


@pytest.mark.parametrize("sid", ["CA\x00" + "a" * 30, "CA404", "x" * 100])
def test_a_status_for_a_malformed_call_sid_is_refused(sim: TwilioSimulator, sid: str) -> None:
    """A NUL in the CallSid reached PostgreSQL, which refused it: a 500."""
    refused = sim.post("/twilio/status", {"CallSid": sid, "CallStatus": "completed"})
    assert refused.status_code == 422
    assert refused.json()["details"]["field"] == "CallSid"


def test_after_hours_caller_books_a_callback(
    sim: TwilioSimulator, returning: Any, clock: TestClock, db: Session
) -> None:
    customer, _washer, _fridge = returning
    clock.set(at(2026, 11, 23, 14, 30))  # 22:30 in Shanghai
    call = sim.call("+8613800138000")
    assert any("现在是非工作时间" in text for text in call.heard)
    done = call.press("2")
    assert "已为您预约12:00-18:00回电。" in done.said()
    assert done.verbs()[-1] == "Hangup"
    [booked] = db.exec(select(OutboundTask)).all()
    assert (booked.customer_id, booked.note, booked.phone) == (
        customer.id,
        "booked for 12:00-18:00",
        "+8613800138000",
    )
    # Booked at 22:30 for the afternoon band: tomorrow's, in Shanghai.
    assert (booked.earliest_at, booked.deadline_at) == (
        at(2026, 11, 24, 4, 0),
        at(2026, 11, 24, 10, 0),
    )
    assert booked.purpose == "booked_callback"
    assert booked.status == "unplaced", "no agent has a calendar here: reported, not lost"


def test_spoken_menu_choice_and_unsure_speech_falls_back_to_keys(
    sim: TwilioSimulator, returning: Any
) -> None:
    call = sim.call("+8613800138000")
    assert call.twiml.gather().attrib["input"] == "dtmf speech"
    assert "报修" in call.twiml.gather().attrib["hints"]
    unsure = call.speak("嗯……那个", confidence=0.21)
    assert "对不起，您的输入无效。" in unsure.said()
    assert unsure.gather().attrib["input"] == "dtmf"
    assert any("请按1" in text for text in call.press("1").said())


def test_confident_speech_selects_the_option(sim: TwilioSimulator, returning: Any) -> None:
    call = sim.call("+8613800138000")
    chosen = call.speak("我想报修", confidence=0.88)
    assert any("冰箱请按2" in text for text in chosen.said())
    assert chosen.gather().attrib["input"] == "dtmf speech"
    assert "冰箱" in chosen.gather().attrib["hints"]


def test_kind_by_speech_then_the_appliance_by_key(
    sim: TwilioSimulator, returning: Any, make_appliance: Any, db: Session
) -> None:
    customer, _washer, fridge = returning
    second = make_appliance(customer.id, brand="西门子", category=ApplianceCategory.REFRIGERATOR)
    call = sim.call("+8613800138000")
    call.press("1")
    fridges = call.speak("冰箱", confidence=0.93)  # of two kinds, by name
    said = fridges.said()
    assert "请选择需要报修的电器：" in said
    assert any("美的冰箱请按1" in text for text in said)
    assert any("西门子冰箱请按2" in text for text in said)
    assert not any("海尔洗衣机" in text for text in said)  # only the fridges are offered
    call.press("2")
    call.speak("冰箱门关不严")
    order = db.exec(select(WorkOrder).where(WorkOrder.customer_id == customer.id)).one()
    assert order.appliance_id == second.id != fridge.id


def test_the_callers_record_is_looked_up_once_per_call(
    sim: TwilioSimulator, returning: Any, db: Session, engine: Any, bus: redis.Redis
) -> None:
    """The pop is built when the call arrives and kept with it: the IVR's later steps read
    it back instead of querying the customer's record again, and a retry of the webhook
    gets the call with the pop of its first arrival (it is not looked for before the
    insert: retries are rare, and every call would pay for that read)."""
    customer, _washer, _fridge = returning
    lookups: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "customer_phone" in statement:
            lookups.append(statement)

    sqlalchemy.event.listen(engine, "before_cursor_execute", count)
    try:
        call = sim.call("+8613800138000")
        arrived = len(lookups)
        call.press("0")  # to an agent: the queue's priority comes from the pop
        after_the_ivr = len(lookups)
        retried = sim.post(
            "/twilio/voice",
            {
                "CallSid": call.sid,
                "AccountSid": TWILIO_ACCOUNT_SID,
                "From": call.caller,
                "To": sim.hotline,
                "Direction": "inbound",
                "CallStatus": "ringing",
            },
        )
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", count)

    assert arrived >= 1
    assert after_the_ivr == arrived
    assert retried.status_code == 200
    assert db.exec(select(func.count()).select_from(Call)).one() == 1
    assert _call(db, call.sid).pop["customers"][0]["id"] == customer.id
