"""Who may hear a recording: its agent, supervisors, and the agent now talking to the
same customer; nobody else, however guessable the ids."""

from __future__ import annotations

import uuid
import wave
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from orders.enums import Role
from recordings.models import Recording
from telephony.enums import CallChannel, CallState, Direction
from telephony.models import Call
from tests.conftest import OPEN_HOURS, bearer


def _call(db: Session, customer_id: int, agent_id: int, state: CallState) -> Call:
    call = Call(
        id=uuid.uuid4().hex,
        channel=CallChannel.TWILIO,
        direction=Direction.INBOUND,
        from_number="+8613800138000",
        to_number="+864008001234",
        customer_ids=[customer_id],
        agent_id=agent_id,
        state=state,
        ringing_at=OPEN_HOURS,
    )
    db.add(call)
    db.commit()
    return call


def _recording(db: Session, call: Call, directory: Path) -> Recording:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{call.id}.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 800)
    recording = Recording(
        call_id=call.id,
        customer_id=call.customer_ids[0],
        path=str(path),
        duration_seconds=0.1,
        sha256="0" * 64,
        created_at=OPEN_HOURS,
    )
    db.add(recording)
    db.commit()
    return recording


def test_an_agent_cannot_download_another_agents_recording(
    client: TestClient, app: Any, db: Session, make_user: Any, make_customer: Any
) -> None:
    """Found: any agent could fetch any recording by walking the sequential ids."""
    customer = make_customer()
    other = make_customer(name="林峰", phones=("13900139000",))
    handler, snooper = make_user(Role.AGENT), make_user(Role.AGENT)
    earlier = _call(db, customer.id, handler.id, CallState.ENDED)
    recording = _recording(db, earlier, app.state.recordings_dir)
    url = f"/api/console/recordings/{recording.id}/audio"

    assert client.get(url, headers=bearer(handler)).status_code == 200
    assert client.get(url, headers=bearer(make_user(Role.SUPERVISOR))).status_code == 200
    refused = client.get(url, headers=bearer(snooper))
    assert refused.status_code == 404
    assert refused.json()["error_id"] == "recording_not_found"

    _call(db, other.id, snooper.id, CallState.BRIDGED)  # talking to somebody else
    assert client.get(url, headers=bearer(snooper)).status_code == 404
    _call(db, customer.id, snooper.id, CallState.BRIDGED)  # now the same customer calls
    assert client.get(url, headers=bearer(snooper)).status_code == 200
