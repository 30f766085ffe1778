"""Media Streams against someone who saw a handshake: Twilio's signature covers one fixed
URL, so everything else a stream claims is checked — its token, its call, its ids, its
size — and a refused stream records nothing, anywhere."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from callcenter.settings import Settings
from core.bus import EventBus
from recordings.models import Recording
from telephony.twilio.stream_token import STREAM_TOKEN_SECONDS
from tests.conftest import PUBLIC_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TestClock
from tests.live_server import serve
from tests.twilio_sim import SimulatedCall, TwilioSimulator

MEDIA_URL = PUBLIC_URL.replace("https://", "wss://") + "/twilio/media"
STREAM_SID = "MZ" + "1" * 32
POLICY = 1008
BAD_FRAME = 1007
TOO_BIG = 1009


@pytest.fixture
def address(app: Any) -> Iterator[str]:
    with serve(app) as where:
        yield where


@pytest.fixture
def caller(sim: TwilioSimulator, make_customer: Any) -> SimulatedCall:
    make_customer(name="刘洋", phones=("13800138000",))
    return sim.call("+8613800138000")


def _open(address: str) -> ClientConnection:
    """A handshake exactly as Twilio signs it: whoever saw one can send it again."""
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(MEDIA_URL, {})
    return connect(
        f"ws://{address}/twilio/media", additional_headers={"X-Twilio-Signature": signature}
    )


def _start(
    call_sid: str,
    token: str | None,
    *,
    stream_sid: str = STREAM_SID,
    account_sid: str = TWILIO_ACCOUNT_SID,
) -> str:
    parameters = {} if token is None else {"token": token}
    return json.dumps(
        {
            "event": "start",
            "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid,
                "accountSid": account_sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def _media(chunk: bytes, stream_sid: str = STREAM_SID) -> str:
    payload = base64.b64encode(chunk).decode()
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def _dtmf(digit: str) -> str:
    return json.dumps({"event": "dtmf", "streamSid": STREAM_SID, "dtmf": {"digit": digit}})


def _stream(address: str, *frames: str) -> int:
    """Send the frames (the server may close the stream after any of them) and a stop;
    the code the server closed the stream with."""
    with _open(address) as ws:
        with contextlib.suppress(ConnectionClosed):
            for frame in frames:
                ws.send(frame)
            ws.send(json.dumps({"event": "stop"}))
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)
        assert ws.close_code is not None
        return ws.close_code


def _audio(seconds: float) -> list[str]:
    return [_media(b"\x7e" * 160) for _ in range(int(seconds * 50))]


def _call_id(call: SimulatedCall) -> str:
    gather = call.twiml.gather()
    assert gather is not None
    return parse_qs(urlsplit(gather.attrib["action"]).query)["call"][0]


def _recordings(db: Session) -> list[Recording]:
    db.expire_all()
    return list(db.exec(select(Recording)).all())


def _written(settings: Settings) -> list[Path]:
    """Every audio file under the test's directory, inside the recordings folder or not."""
    return sorted(p for p in settings.data_dir.parent.rglob("*.wav*") if p.is_file())


def _digits_for(bus: redis.Redis, call: SimulatedCall) -> list[str]:
    """The keys published as pressed on this call."""
    events = EventBus(bus).read_after("0", count=1000)
    return [
        e.data["digit"]
        for e in events
        if e.name == "call.dtmf" and e.data["call_id"] == _call_id(call)
    ]


# Whose stream is it: the token.


def test_stream_without_a_token_is_refused_and_records_nothing(
    address: str, caller: SimulatedCall, db: Session, settings: Settings
) -> None:
    assert _stream(address, _start(caller.sid, None), *_audio(0.2)) == POLICY
    assert _recordings(db) == [] and _written(settings) == []


def test_replayed_handshake_with_another_calls_token_is_refused_and_records_nothing(
    address: str, sim: TwilioSimulator, caller: SimulatedCall, db: Session, settings: Settings
) -> None:
    """The start frame of one call's stream, replayed for a second caller."""
    other = sim.call("+8613900000000")
    assert _stream(address, _start(other.sid, caller.stream_token), *_audio(0.2)) == POLICY
    assert _recordings(db) == [] and _written(settings) == []


def test_dtmf_cannot_be_injected_into_a_call_the_token_is_not_for(
    address: str, sim: TwilioSimulator, caller: SimulatedCall, bus: redis.Redis
) -> None:
    attacker = sim.call("+8613900000000")  # their own call: a token they could have seen
    assert _stream(address, _start(caller.sid, attacker.stream_token), _dtmf("9")) == POLICY
    assert _digits_for(bus, caller) == []


def test_token_rewritten_for_another_call_is_refused(
    address: str, sim: TwilioSimulator, caller: SimulatedCall, db: Session, bus: redis.Redis
) -> None:
    attacker = sim.call("+8613900000000")
    _call, expires, mac = attacker.stream_token.split(".")
    forged = f"{_call_id(caller)}.{expires}.{mac}"
    assert _stream(address, _start(caller.sid, forged), _dtmf("9")) == POLICY
    assert _recordings(db) == [] and _digits_for(bus, caller) == []


def test_stream_for_an_ended_call_is_refused(
    address: str, caller: SimulatedCall, db: Session, settings: Settings
) -> None:
    assert caller.status("completed").status_code == 204
    assert _stream(address, _start(caller.sid, caller.stream_token), *_audio(0.2)) == POLICY
    assert _recordings(db) == [] and _written(settings) == []


def test_expired_token_is_refused(
    address: str, caller: SimulatedCall, clock: TestClock, db: Session, settings: Settings
) -> None:
    clock.advance(STREAM_TOKEN_SECONDS + 1)
    assert _stream(address, _start(caller.sid, caller.stream_token), *_audio(0.2)) == POLICY
    assert _recordings(db) == [] and _written(settings) == []


def test_a_call_has_one_stream_and_a_replay_of_its_start_is_refused(
    address: str, caller: SimulatedCall, db: Session, bus: redis.Redis
) -> None:
    start = _start(caller.sid, caller.stream_token)
    assert _stream(address, start, *_audio(0.2)) == 1000
    assert _stream(address, start, *_audio(0.2), _dtmf("9")) == POLICY
    [recording] = _recordings(db)
    assert recording.duration_seconds == pytest.approx(0.2)
    assert _digits_for(bus, caller) == []


def test_stream_of_another_twilio_account_is_refused(
    address: str, caller: SimulatedCall, db: Session
) -> None:
    frame = _start(caller.sid, caller.stream_token, account_sid="AC" + "9" * 32)
    assert _stream(address, frame, *_audio(0.2)) == POLICY
    assert _recordings(db) == []


# Ids become file names: only ours do.


@pytest.mark.parametrize(
    "stream_sid",
    [
        "/../../../escaped",
        "../../../../escaped",
        "MZ" + "1" * 32 + "/../../../escaped",
        "MZ" + "1" * 31,
    ],
)
def test_stream_sid_not_of_twilios_format_is_refused_and_nothing_is_written_anywhere(
    address: str, caller: SimulatedCall, db: Session, settings: Settings, stream_sid: str
) -> None:
    start = _start(caller.sid, caller.stream_token, stream_sid=stream_sid)
    assert _stream(address, start, *_audio(0.2)) == BAD_FRAME
    assert _recordings(db) == [] and _written(settings) == []


def test_recording_is_named_by_our_ids_inside_the_recordings_folder(
    address: str, caller: SimulatedCall, db: Session, settings: Settings
) -> None:
    assert _stream(address, _start(caller.sid, caller.stream_token), *_audio(0.2)) == 1000
    [recording] = _recordings(db)
    path = Path(recording.path)
    # Inside the recordings folder, under its call's day (YYYY/MM/DD), nowhere else.
    assert path.parent.parent.parent.parent == settings.recordings_path.resolve()
    assert re.fullmatch(
        r"\d{4}/\d{2}/\d{2}", str(path.parent.relative_to(settings.recordings_path.resolve()))
    )
    assert path.name.startswith(_call_id(caller) + "-") and STREAM_SID not in path.name
    assert _written(settings) == [path]


def test_frame_naming_another_stream_closes_the_stream(
    address: str, caller: SimulatedCall, db: Session
) -> None:
    frames = [
        _start(caller.sid, caller.stream_token),
        *_audio(0.2),
        _media(b"\x7e" * 160, "MZ" + "2" * 32),
    ]
    assert _stream(address, *frames) == BAD_FRAME
    [recording] = _recordings(db)
    assert recording.duration_seconds == pytest.approx(0.2)


# Size: of a frame and of a stream.


def test_oversized_frame_closes_the_stream_and_the_wav_stays_bounded(
    address: str, caller: SimulatedCall, db: Session
) -> None:
    flood = _media(b"\x7e" * (3 * 1024 * 1024))  # 4 MB of base64 in one frame
    frames = [_start(caller.sid, caller.stream_token), *_audio(0.2), flood]
    assert _stream(address, *frames) == TOO_BIG
    [recording] = _recordings(db)
    assert recording.duration_seconds == pytest.approx(0.2)
    assert Path(recording.path).stat().st_size == 44 + 2 * 1600


def test_binary_frame_closes_the_stream(address: str, caller: SimulatedCall) -> None:
    with _open(address) as ws:
        ws.send(b"\x00" * 16)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == BAD_FRAME


def test_stream_longer_than_the_limit_is_closed_at_the_limit(
    address: str, caller: SimulatedCall, db: Session, settings: Settings
) -> None:
    settings.twilio.media_max_seconds = 1
    frames = [_start(caller.sid, caller.stream_token), *_audio(1.5)]
    assert _stream(address, *frames) == POLICY
    [recording] = _recordings(db)
    with wave.open(recording.path) as wav:
        assert wav.getnframes() == 8000
