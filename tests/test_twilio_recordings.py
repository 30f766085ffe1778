"""Twilio recording callbacks: the media is fetched by a background job, once."""

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
from tests.fake_twilio_api import FakeTwilioApi
from tests.twilio_sim import TwilioSimulator


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
def api() -> Iterator[FakeTwilioApi]:
    server = FakeTwilioApi().start()
    yield server
    server.stop()


def _run_jobs(app: Any, redis_url: str, settings: Settings) -> None:
    async def drain() -> None:
        context = {**worker_context(app), "settings": settings}
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
    media_path = "/2010-04-01/Accounts/AC1/Recordings/RE" + "7" * 32
    api.media[media_path + ".wav"] = _stereo_wav(2.5)
    params = {
        "CallSid": call.sid,
        "RecordingSid": "RE" + "7" * 32,
        "RecordingUrl": api.base_url + media_path,
        "RecordingStatus": "completed",
        "RecordingDuration": "3",
        "RecordingChannels": "2",
    }
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
