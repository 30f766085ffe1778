"""Media Streams over a real websocket: decoded audio, DTMF, malformed frames, signatures.

Every stream presents the token our TwiML gave its call, as Twilio does."""

from __future__ import annotations

import base64
import json
import math
import struct
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from core.bus import EventBus
from recordings.audio import pcm16_to_ulaw, ulaw_to_pcm16
from recordings.models import Recording
from recordings.wav import sha256_of
from tests.conftest import PUBLIC_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.live_server import serve
from tests.twilio_sim import SimulatedCall, TwilioSimulator

MEDIA_URL = PUBLIC_URL.replace("https://", "wss://") + "/twilio/media"
STREAM_SID = "MZ" + "1" * 32


def _source_pcm(seconds: float = 1.0) -> bytes:
    """A rising tone, like a voice sweeping up in pitch, at 8 kHz."""
    samples = []
    for n in range(int(8000 * seconds)):
        t = n / 8000
        samples.append(int(12000 * math.sin(2 * math.pi * (300 + 600 * t) * t)))
    return struct.pack(f"<{len(samples)}h", *samples)


@pytest.fixture
def address(app: Any) -> Iterator[str]:
    with serve(app) as where:
        yield where


@pytest.fixture
def call(sim: TwilioSimulator, make_customer: Any) -> SimulatedCall:
    make_customer(name="刘洋", phones=("13800138000",))
    return sim.call("+8613800138000")


def _open(address: str, signature: str | None = None) -> ClientConnection:
    header = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(MEDIA_URL, {})
    return connect(
        f"ws://{address}/twilio/media",
        additional_headers={"X-Twilio-Signature": signature or header},
    )


def _start(call: SimulatedCall, stream_sid: str = STREAM_SID) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid,
                "accountSid": TWILIO_ACCOUNT_SID,
                "callSid": call.sid,
                "tracks": ["inbound"],
                "customParameters": {"campaign": "none", "token": call.stream_token},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def _media(chunk: bytes, sequence: int) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(sequence),
            "streamSid": STREAM_SID,
            "media": {
                "track": "inbound",
                "chunk": str(sequence),
                "timestamp": str(sequence * 20),
                "payload": base64.b64encode(chunk).decode(),
            },
        }
    )


def _wait_closed(ws: ClientConnection) -> Any:
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=10)
    return ws.close_code


def test_streamed_audio_is_recorded_as_sent_and_dtmf_reaches_the_bus(
    address: str, call: SimulatedCall, db: Session, bus: redis.Redis
) -> None:
    source = pcm16_to_ulaw(_source_pcm())
    with _open(address) as ws:
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send(_start(call))
        for index in range(0, len(source), 160):
            ws.send(_media(source[index : index + 160], index // 160 + 2))
        ws.send(
            json.dumps(
                {
                    "event": "dtmf",
                    "streamSid": STREAM_SID,
                    "sequenceNumber": "99",
                    "dtmf": {"track": "inbound_track", "digit": "5"},
                }
            )
        )
        ws.send(
            json.dumps(
                {
                    "event": "stop",
                    "streamSid": STREAM_SID,
                    "sequenceNumber": "100",
                    "stop": {"accountSid": TWILIO_ACCOUNT_SID, "callSid": call.sid},
                }
            )
        )
        assert _wait_closed(ws) == 1000
    db.expire_all()
    [recording] = db.exec(select(Recording)).all()
    path = Path(recording.path)
    assert path.suffix == ".wav" and path.exists()
    assert recording.duration_seconds == pytest.approx(1.0)
    assert recording.sha256 == sha256_of(path)
    assert recording.customer_id is not None
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        recorded = wav.readframes(wav.getnframes())
    assert recorded == ulaw_to_pcm16(source)
    original = struct.unpack(f"<{len(recorded) // 2}h", _source_pcm())
    decoded = struct.unpack(f"<{len(recorded) // 2}h", recorded)
    # mu-law keeps about 2-3 % of the amplitude as quantisation error, never more.
    assert max(abs(a - b) for a, b in zip(original, decoded, strict=True)) < 500
    dtmf = [e.data for e in EventBus(bus).read_after("0") if e.name == "call.dtmf"]
    assert [d["digit"] for d in dtmf] == ["5"]


@pytest.mark.parametrize(
    "frame",
    [
        "this is not json",
        json.dumps({"event": "media", "media": {"payload": "AAAA"}}),
        json.dumps({"event": "explode"}),
        "START_OK",
    ],
)
def test_malformed_frame_closes_that_stream_only(
    address: str, call: SimulatedCall, frame: str, db: Session
) -> None:
    with _open(address) as ws:
        ws.send(frame)
        assert _wait_closed(ws) == 1007
    with _open(address) as ws:
        ws.send(_start(call))
        ws.send(_media(b"\xff" * 160, 2))
        ws.send(json.dumps({"event": "stop"}))
        assert _wait_closed(ws) == 1000
    db.expire_all()
    assert len(db.exec(select(Recording)).all()) == 1


def test_bad_base64_and_wrong_format_close_the_stream(
    address: str, call: SimulatedCall, sim: TwilioSimulator
) -> None:
    with _open(address) as ws:
        ws.send(_start(call))
        ws.send(json.dumps({"event": "media", "media": {"payload": "%%%not base64"}}))
        assert _wait_closed(ws) == 1007
    with _open(address) as ws:
        bad = json.loads(_start(sim.call("+8613800138000")))
        bad["start"]["mediaFormat"]["sampleRate"] = 16000
        ws.send(json.dumps(bad))
        assert _wait_closed(ws) == 1007


def test_unsigned_stream_is_refused(address: str) -> None:
    with pytest.raises(InvalidStatus) as caught, _open(address, signature="d3Jvbmc="):
        pass
    assert caught.value.response.status_code == 403


def _write_prompt(directory: Path, name: str, pcm: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with wave.open(str(directory / f"{name}.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm)


def _start_with_prompt(call: SimulatedCall, prompt: str) -> str:
    frame = json.loads(_start(call))
    frame["start"]["customParameters"] = {"prompt": prompt, "token": call.stream_token}
    return json.dumps(frame)


def _received_until_mark(ws: ClientConnection) -> tuple[bytes, dict[str, Any]]:
    audio = b""
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message["event"] == "mark":
            return audio, message
        assert message["event"] == "media"
        audio += base64.b64decode(message["media"]["payload"])


def test_prompt_is_played_back_with_a_mark_and_cleared_on_barge_in(
    address: str, call: SimulatedCall, settings: Any
) -> None:
    prompt = _source_pcm(0.5)
    _write_prompt(settings.data_dir / "prompts", "welcome", prompt)
    with _open(address) as ws:
        ws.send(_start_with_prompt(call, "welcome"))
        audio, mark = _received_until_mark(ws)
        assert mark["mark"]["name"] == "welcome"
        assert mark["streamSid"] == STREAM_SID
        assert audio == pcm16_to_ulaw(prompt)
        ws.send(json.dumps({"event": "dtmf", "dtmf": {"digit": "1"}}))
        assert json.loads(ws.recv(timeout=10))["event"] == "clear"
        ws.send(json.dumps({"event": "stop"}))
        assert _wait_closed(ws) == 1000


def test_caller_speech_over_a_prompt_clears_it_but_not_after_it_played(
    address: str, call: SimulatedCall, sim: TwilioSimulator, settings: Any
) -> None:
    _write_prompt(settings.data_dir / "prompts", "menu", _source_pcm(0.2))
    loud = pcm16_to_ulaw(_source_pcm(0.02))
    with _open(address) as ws:
        ws.send(_start_with_prompt(call, "menu"))
        _received_until_mark(ws)
        ws.send(json.dumps({"event": "mark", "mark": {"name": "menu"}}))  # Twilio: played
        for index in range(5):
            ws.send(_media(loud, index))
        ws.send(json.dumps({"event": "stop"}))
        # A "clear" here would arrive before the close; nothing was playing any more.
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1000
    with _open(address) as ws:  # each call has one stream: another caller
        ws.send(_start_with_prompt(sim.call("+8613800138000"), "menu"))
        _received_until_mark(ws)
        for index in range(3):
            ws.send(_media(loud, index))
        assert json.loads(ws.recv(timeout=10))["event"] == "clear"
        ws.send(json.dumps({"event": "stop"}))
