"""Outbound calls through the real Twilio SDK, pointed at a local recording server."""

from __future__ import annotations

import base64

import pytest

from telephony.twilio.errors import (
    TwilioAccountInactive,
    TwilioAuthFailed,
    TwilioError,
    TwilioInvalidNumber,
    TwilioRateLimited,
)
from telephony.twilio.rest import OutboundCall, RetryPolicy, TwilioCalls
from tests.conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.fake_twilio_api import FakeTwilioApi

CREATED = (201, {"sid": "CA" + "f" * 32, "status": "queued", "to": "+8613800138000"})
CALL = OutboundCall(
    to="+8613800138000",
    from_="+864008001234",
    url="https://hotline.example.com/twilio/survey?callback=7",
    status_callback="https://hotline.example.com/twilio/status",
    machine_detection=True,
)


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, object]]:
    return status, {
        "code": code,
        "message": message,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def calls(api: FakeTwilioApi, slept: list[float]) -> TwilioCalls:
    return TwilioCalls(
        TWILIO_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN,
        base_url=api.base_url,
        retry=RetryPolicy(attempts=3, first_delay=0.5),
        sleep=slept.append,
    )


def test_the_right_parameters_reach_twilio(api: FakeTwilioApi, calls: TwilioCalls) -> None:
    api.replies.append(CREATED)
    assert calls.place_call(CALL) == "CA" + "f" * 32
    [sent] = api.requests
    assert sent.path == f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Calls.json"
    assert sent.form["To"] == ["+8613800138000"]
    assert sent.form["From"] == ["+864008001234"]
    assert sent.form["Url"] == [CALL.url]
    assert sent.form["StatusCallback"] == [CALL.status_callback]
    assert sent.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert sent.form["MachineDetection"] == ["Enable"]
    credentials = base64.b64encode(f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}".encode()).decode()
    assert sent.authorization == f"Basic {credentials}"


def test_auth_failure(api: FakeTwilioApi, calls: TwilioCalls) -> None:
    api.replies.append(_error(401, 20003, "Authenticate"))
    with pytest.raises(TwilioAuthFailed) as caught:
        calls.place_call(CALL)
    assert caught.value.details["twilio_code"] == 20003
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("status", "code"), [(403, 20005), (401, 20005), (403, 10001), (401, 90010)]
)
def test_an_account_twilio_has_suspended_is_told_apart_from_wrong_credentials(
    api: FakeTwilioApi, calls: TwilioCalls, status: int, code: int
) -> None:
    """A suspended account (its balance ran out) is mended in Twilio's console, not in
    our settings: a refusal of its own, whatever HTTP status Twilio sends it with."""
    api.replies.append(_error(status, code, "Account not active"))
    with pytest.raises(TwilioAccountInactive) as caught:
        calls.place_call(CALL)
    assert caught.value.details["twilio_code"] == code
    assert len(api.requests) == 1


def test_invalid_number(api: FakeTwilioApi, calls: TwilioCalls) -> None:
    api.replies.append(_error(400, 21211, "The 'To' number 123 is not a valid phone number."))
    with pytest.raises(TwilioInvalidNumber) as caught:
        calls.place_call(CALL)
    assert "not a valid phone number" in caught.value.message
    assert caught.value.status_code == 422


@pytest.mark.parametrize(
    "limited", [_error(429, 20429, "Too Many Requests"), _error(429, 0, "Too Many Requests")]
)
def test_rate_limit_is_retried_with_backoff(
    api: FakeTwilioApi,
    calls: TwilioCalls,
    slept: list[float],
    limited: tuple[int, dict[str, object]],
) -> None:
    api.replies.extend([limited, limited, CREATED])
    assert calls.place_call(CALL).startswith("CA")
    assert len(api.requests) == 3
    assert slept == [0.5, 1.0]


def test_rate_limit_that_persists_is_surfaced(
    api: FakeTwilioApi, calls: TwilioCalls, slept: list[float]
) -> None:
    api.replies.extend([_error(429, 20429, "Too Many Requests")] * 3)
    with pytest.raises(TwilioRateLimited):
        calls.place_call(CALL)
    assert len(api.requests) == 3
    assert slept == [0.5, 1.0]


def test_other_errors_carry_twilios_code_and_message(
    api: FakeTwilioApi, calls: TwilioCalls
) -> None:
    api.replies.append(_error(400, 21215, "Geo Permission configuration is not permitting call"))
    with pytest.raises(TwilioError) as caught:
        calls.place_call(CALL)
    assert type(caught.value) is TwilioError
    assert caught.value.details["twilio_code"] == 21215
    assert "Geo Permission" in caught.value.message
    assert len(api.requests) == 1


def test_unreachable_twilio_is_a_twilio_error() -> None:
    calls = TwilioCalls(
        TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, base_url="http://127.0.0.1:9", timeout=2
    )
    with pytest.raises(TwilioError, match="could not reach Twilio"):
        calls.place_call(CALL)
