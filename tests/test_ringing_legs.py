"""Cancelling the agents' ringing Twilio legs: asked once however many steps find a leg
ringing together, and asked again when Twilio could not answer (against a local stand-in
for Twilio's REST API)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from telephony.constants import TWILIO_CANCELLING_LEG
from telephony.twilio import ringing_legs
from telephony.twilio.rest import RetryPolicy, TwilioCalls
from tests.conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.fake_twilio_api import FakeTwilioApi

CALL = "call-1"
LEG = "CA" + "e" * 32
OFFERED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def calls(api: FakeTwilioApi) -> TwilioCalls:
    return TwilioCalls(
        TWILIO_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN,
        base_url=api.base_url,
        retry=RetryPolicy(attempts=1),
        timeout=5.0,
    )


def _asked(api: FakeTwilioApi) -> int:
    return sum(1 for r in api.requests if r.form.get("Status") == ["canceled"])


def test_a_leg_another_step_is_cancelling_is_left_to_it(
    bus: redis.Redis, api: FakeTwilioApi, calls: TwilioCalls
) -> None:
    ringing_legs.note(bus, CALL, LEG, OFFERED_AT)
    bus.set(TWILIO_CANCELLING_LEG.format(leg=LEG), "1", ex=60)  # the other step's claim
    assert ringing_legs.cancel(bus, calls, CALL, [LEG])
    assert _asked(api) == 0
    assert LEG in ringing_legs.noted(bus, CALL)  # still there, should the other step fail


@pytest.mark.parametrize(
    "answer",
    [(200, {"sid": LEG, "status": "canceled"}), (400, {"code": 21220, "message": "not ringing"})],
    ids=["cancelled", "refused"],
)
def test_a_step_that_read_the_leg_before_it_was_cancelled_does_not_ask_again(
    bus: redis.Redis,
    api: FakeTwilioApi,
    calls: TwilioCalls,
    answer: tuple[int, dict[str, object]],
) -> None:
    ringing_legs.note(bus, CALL, LEG, OFFERED_AT)
    read_by_the_other = list(ringing_legs.noted(bus, CALL))
    api.reply = lambda request: answer
    assert ringing_legs.cancel(bus, calls, CALL, [LEG])
    assert ringing_legs.noted(bus, CALL) == {}
    assert ringing_legs.cancel(bus, calls, CALL, read_by_the_other)
    assert _asked(api) == 1


def test_a_cancel_twilio_could_not_answer_is_asked_again_at_once(
    bus: redis.Redis, api: FakeTwilioApi, calls: TwilioCalls
) -> None:
    ringing_legs.note(bus, CALL, LEG, OFFERED_AT)
    api.reply = lambda request: (500, {"code": 20500, "message": "Internal Server Error"})
    assert not ringing_legs.cancel(bus, calls, CALL, [LEG])
    assert LEG in ringing_legs.noted(bus, CALL)
    api.reply = lambda request: (200, {"sid": LEG, "status": "canceled"})
    assert ringing_legs.cancel(bus, calls, CALL, [LEG])  # the sweep's next pass
    assert _asked(api) == 2
    assert ringing_legs.noted(bus, CALL) == {}


def test_a_twilio_out_of_reach_leaves_the_leg_to_be_asked_again(
    bus: redis.Redis, api: FakeTwilioApi, calls: TwilioCalls
) -> None:
    ringing_legs.note(bus, CALL, LEG, OFFERED_AT)
    api.stop()
    assert not ringing_legs.cancel(bus, calls, CALL, [LEG])
    assert LEG in ringing_legs.noted(bus, CALL)
    assert not bus.exists(TWILIO_CANCELLING_LEG.format(leg=LEG))
