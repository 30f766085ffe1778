"""Twilio recording callbacks: the media is fetched by a background job, once, from the
Twilio API we are configured for, whatever a callback names."""

from __future__ import annotations

import asyncio
import io
import struct
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from callcenter.app import worker_context
from callcenter.settings import Settings
from callcenter.worker import build_worker
from recordings.models import Recording
from telephony.twilio.errors import InvalidTwilioId, MediaFetchFailed
from telephony.twilio.jobs import fetch_twilio_recording
from tests.conftest import TWILIO_ACCOUNT_SID
from tests.fake_twilio_api import FakeTwilioApi
from tests.twilio_sim import SimulatedCall, TwilioSimulator


def _stereo_wav(seconds: float) -> bytes:
    frames = int(8000 * seconds)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(struct.pack(f"<{frames * 2}h", *([1000, -1000] * frames)))
    return buffer.getvalue()


@pytest.fixture
def api(settings: Settings) -> Iterator[FakeTwilioApi]:
    """Our Twilio API: where the app is configured to fetch recordings from."""
    server = FakeTwilioApi().start()
    settings.twilio.api_base_url = server.base_url
    yield server
    server.stop()


@pytest.fixture
def elsewhere() -> Iterator[FakeTwilioApi]:
    """Another host, which a callback may name but which must never hear from us."""
    server = FakeTwilioApi().start()
    yield server
    server.stop()


RECORDING_SID = "RE" + "7" * 32
MEDIA_PATH = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Recordings/{RECORDING_SID}"


def _run_jobs(app: Any, redis_url: str, settings: Settings) -> None:
    async def drain() -> None:
        context = worker_context(app)
        worker = build_worker(redis_url, ctx=context, handle_signals=False, burst=True)
        await worker.async_run()
        await worker.close()

    asyncio.run(drain())


def test_completed_recording_is_fetched_once_by_a_job(
    sim: TwilioSimulator,
    app: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    redis_url: str,
    settings: Settings,
    db: Session,
) -> None:
    customer = make_customer(name="吴芳")
    call = sim.call("+8613800138000")
    start = call.twiml.root.find("Start/Recording")
    assert start is not None and start.attrib["channels"] == "dual"
    callback = start.attrib["recordingStatusCallback"]
    media_path = MEDIA_PATH
    api.media[media_path + ".wav"] = _stereo_wav(2.5)
    params = _completed(call, api.base_url + media_path)
    for _ in range(2):  # Twilio retries callbacks
        assert sim.post(callback, params).status_code == 204
    assert sim.post(callback, {**params, "RecordingStatus": "in-progress"}).status_code == 204
    assert db.exec(select(Recording)).all() == []

    _run_jobs(app, redis_url, settings)

    db.expire_all()
    [recording] = db.exec(select(Recording)).all()
    assert recording.customer_id == customer.id
    assert recording.channels == 2
    assert recording.duration_seconds == pytest.approx(2.5)
    assert Path(recording.path).read_bytes() == api.media[media_path + ".wav"]
    fetches = [r for r in api.requests if r.method == "GET"]
    assert len(fetches) == 1
    assert fetches[0].authorization.startswith("Basic ")


def test_a_callback_naming_twilios_own_api_is_fetched_from_the_api_we_use(
    sim: TwilioSimulator,
    app: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    redis_url: str,
    settings: Settings,
    db: Session,
) -> None:
    """Found in review: with a regional edge (or any API base) configured, Twilio's
    callbacks still name api.twilio.com, and every recording was refused and lost."""
    make_customer()
    call = sim.call("+8613800138000")
    api.media[MEDIA_PATH + ".wav"] = _stereo_wav(1.0)
    callback = _callback(call)
    assert (
        sim.post(callback, _completed(call, "https://api.twilio.com" + MEDIA_PATH)).status_code
        == 204
    )

    _run_jobs(app, redis_url, settings)

    db.expire_all()
    [recording] = db.exec(select(Recording)).all()
    assert Path(recording.path).read_bytes() == api.media[MEDIA_PATH + ".wav"]
    assert [r.path for r in api.requests if r.method == "GET"] == [MEDIA_PATH + ".wav"]


def _completed(call: SimulatedCall, url: str, sid: str = RECORDING_SID) -> dict[str, str]:
    return {
        "CallSid": call.sid,
        "AccountSid": TWILIO_ACCOUNT_SID,
        "RecordingSid": sid,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "3",
        "RecordingChannels": "2",
    }


def _callback(call: SimulatedCall) -> str:
    start = call.twiml.root.find("Start/Recording")
    assert start is not None
    return start.attrib["recordingStatusCallback"]


def _files(settings: Settings) -> list[Path]:
    """Every file the service wrote anywhere under its data directory's parent."""
    return [p for p in settings.data_dir.parent.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "sid",
    [
        "../../../../escaped",
        "RE" + "7" * 30 + "/..",
        "RE" + "7" * 32 + "/../../../escaped",
        "RE1",
        "CA" + "7" * 32,
    ],
)
def test_recording_sid_not_of_twilios_format_is_refused_and_nothing_is_fetched(
    sim: TwilioSimulator,
    app: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    redis_url: str,
    settings: Settings,
    db: Session,
    sid: str,
) -> None:
    make_customer()
    call = sim.call("+8613800138000")
    api.media[MEDIA_PATH + ".wav"] = _stereo_wav(1.0)
    before = _files(settings)
    response = sim.post(_callback(call), _completed(call, api.base_url + MEDIA_PATH, sid))
    assert response.status_code == 422
    assert response.json()["error_id"] == "invalid_twilio_id"

    _run_jobs(app, redis_url, settings)

    assert api.requests == []
    assert _files(settings) == before
    db.expire_all()
    assert db.exec(select(Recording)).all() == []


@pytest.mark.parametrize(
    "where",
    [
        "another host",
        "our host with credentials for another",
        "another account",
        "another recording",
        "a query",
    ],
)
def test_recording_url_other_than_this_recording_on_our_api_is_refused_and_never_fetched(
    sim: TwilioSimulator,
    app: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    elsewhere: FakeTwilioApi,
    redis_url: str,
    settings: Settings,
    db: Session,
    where: str,
) -> None:
    make_customer()
    call = sim.call("+8613800138000")
    for server in (api, elsewhere):
        server.media[MEDIA_PATH + ".wav"] = _stereo_wav(1.0)
    ours = api.base_url.removeprefix("http://")
    url = {
        "another host": elsewhere.base_url + MEDIA_PATH,
        "our host with credentials for another": f"http://x@{ours}" + MEDIA_PATH,
        "another account": api.base_url + MEDIA_PATH.replace(TWILIO_ACCOUNT_SID, "AC" + "9" * 32),
        "another recording": api.base_url + MEDIA_PATH.replace("7" * 32, "8" * 32),
        "a query": api.base_url + MEDIA_PATH + "?redirect=http://evil.example",
    }[where]
    response = sim.post(_callback(call), _completed(call, url))
    assert response.status_code == 422
    assert response.json()["error_id"] == "recording_refused"

    _run_jobs(app, redis_url, settings)

    assert elsewhere.requests == []
    assert api.requests == []
    db.expire_all()
    assert db.exec(select(Recording)).all() == []


def test_recording_callback_of_another_call_is_refused(
    sim: TwilioSimulator, make_customer: Any, api: FakeTwilioApi
) -> None:
    make_customer()
    ours, theirs = sim.call("+8613800138000"), sim.call("+8613900000000")
    params = {**_completed(ours, api.base_url + MEDIA_PATH), "CallSid": theirs.sid}
    response = sim.post(_callback(ours), params)
    assert response.status_code == 422
    assert response.json()["error_id"] == "recording_refused"


def test_recording_job_refuses_an_id_that_is_not_a_recording_sid(
    sim: TwilioSimulator,
    app: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    settings: Settings,
    db: Session,
) -> None:
    """A job queued around the callback's checks (by an older release, by hand) is checked
    again where the file is written and the request made."""
    make_customer()
    call = sim.call("+8613800138000")
    call_id = _callback(call).rsplit("=", 1)[1]
    api.media["/escaped.wav"] = _stereo_wav(1.0)
    before = _files(settings)
    context = worker_context(app)

    with pytest.raises(InvalidTwilioId):
        asyncio.run(
            fetch_twilio_recording(context, call_id=call_id, recording_sid="../../../../escaped")
        )

    assert api.requests == []
    assert _files(settings) == before
    db.expire_all()
    assert db.exec(select(Recording)).all() == []


def test_recording_twilio_does_not_hand_over_fails_the_job_with_our_error(
    sim: TwilioSimulator,
    app: Any,
    make_customer: Any,
    api: FakeTwilioApi,
    settings: Settings,
    db: Session,
) -> None:
    """Twilio answers 404 (the recording is not there yet, or was deleted): the job fails
    with the channel's own error, not httpx's, and nothing is stored."""
    make_customer()
    call = sim.call("+8613800138000")
    call_id = _callback(call).rsplit("=", 1)[1]
    before = _files(settings)

    with pytest.raises(MediaFetchFailed) as failed:
        asyncio.run(
            fetch_twilio_recording(
                worker_context(app), call_id=call_id, recording_sid=RECORDING_SID
            )
        )

    assert failed.value.details == {"status": 404}
    assert [r.path for r in api.requests if r.method == "GET"] == [MEDIA_PATH + ".wav"]
    assert _files(settings) == before
    db.expire_all()
    assert db.exec(select(Recording)).all() == []


def test_recording_callback_must_be_signed(
    sim: TwilioSimulator, make_customer: Any, db: Session
) -> None:
    make_customer()
    call = sim.call("+8613800138000")
    params = {
        "CallSid": call.sid,
        "RecordingSid": "RE1",
        "RecordingUrl": "http://127.0.0.1:9/x",
        "RecordingStatus": "completed",
    }
    response = sim.post(f"/twilio/recording?call={call.sid}", params, signature="bad")
    assert response.status_code == 403
