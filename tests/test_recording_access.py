"""Who may hear a recording: its agent, supervisors, and the agent now talking to the
same customer; nobody else, however guessable the ids. Playback serves HTTP Range and
each playback is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from orders.enums import Role
from orders.models import AuditEntry
from telephony.enums import CallState
from tests.conftest import bearer


def test_an_agent_cannot_download_another_agents_recording(
    client: TestClient,
    app: Any,
    make_user: Any,
    make_customer: Any,
    make_call: Any,
    make_recording: Any,
) -> None:
    """Found: any agent could fetch any recording by walking the sequential ids."""
    customer = make_customer()
    other = make_customer(name="林峰", phones=("13900139000",))
    handler, snooper = make_user(Role.AGENT), make_user(Role.AGENT)
    earlier = make_call(customer_ids=[customer.id], agent_id=handler.id, state=CallState.ENDED)
    recording = make_recording(earlier, app.state.recordings_dir)
    url = f"/api/recordings/{recording.id}/audio"

    assert client.get(url, headers=bearer(handler)).status_code == 200
    assert client.get(url, headers=bearer(make_user(Role.SUPERVISOR))).status_code == 200
    refused = client.get(url, headers=bearer(snooper))
    assert refused.status_code == 403
    assert refused.json()["error_id"] == "permission_denied"
    assert client.get("/api/recordings/999999/audio", headers=bearer(handler)).status_code == 404

    # Talking to somebody else, then the same customer calls:
    make_call(customer_ids=[other.id], agent_id=snooper.id, state=CallState.BRIDGED)
    assert client.get(url, headers=bearer(snooper)).status_code == 403
    make_call(customer_ids=[customer.id], agent_id=snooper.id, state=CallState.BRIDGED)
    assert client.get(url, headers=bearer(snooper)).status_code == 200


def test_playback_serves_the_bytes_a_range_asks_for_and_audits_each_playback(
    client: TestClient,
    app: Any,
    db: Session,
    make_user: Any,
    make_customer: Any,
    make_call: Any,
    make_recording: Any,
) -> None:
    handler = make_user(Role.AGENT)
    call = make_call(customer_ids=[make_customer().id], agent_id=handler.id, state=CallState.ENDED)
    recording = make_recording(call, app.state.recordings_dir)
    url = f"/api/recordings/{recording.id}/audio"
    whole = Path(recording.path).read_bytes()

    started = client.get(url, headers=bearer(handler) | {"Range": "bytes=0-1023"})
    seek = client.get(url, headers=bearer(handler) | {"Range": "bytes=44-99"})
    tail = client.get(url, headers=bearer(handler) | {"Range": "bytes=-10"})
    full = client.get(url, headers=bearer(handler))
    beyond = client.get(url, headers=bearer(handler) | {"Range": f"bytes={len(whole) + 5}-"})

    assert (started.status_code, started.content) == (206, whole[:1024])
    assert started.headers["content-range"] == f"bytes 0-1023/{len(whole)}"
    assert (seek.status_code, seek.content) == (206, whole[44:100])
    assert (tail.status_code, tail.content) == (206, whole[-10:])
    assert (full.status_code, full.content) == (200, whole)
    assert beyond.status_code == 416
    listened = db.exec(
        select(AuditEntry).where(
            AuditEntry.entity == "recording", AuditEntry.entity_id == recording.id
        )
    ).all()
    # The start of a playback and the whole file count; seeks within one do not.
    assert [(e.action, e.actor_id) for e in listened] == [("listen", handler.id)] * 2
