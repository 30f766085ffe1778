"""Retention of recordings: days per kind, a legal hold that blocks deletion, and the
worker's purge that deletes the file, the row and the transcript together, audited."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from callcenter.app import worker_context
from orders.enums import Role
from orders.models import AuditEntry
from recordings.housekeeping import purge_recordings
from recordings.models import Recording, RecordingKind, Transcript, TranscriptSegment
from telephony.enums import CallState
from tests.conftest import TestClock, bearer


def test_the_purge_deletes_expired_recordings_with_their_transcripts_but_not_a_held_one(
    app: Any,
    client: TestClient,
    db: Session,
    clock: TestClock,
    make_user: Any,
    make_customer: Any,
    make_call: Any,
    make_recording: Any,
) -> None:
    now = clock()
    folder = app.state.recordings_dir / "2024" / "11"
    customer = make_customer()

    def recorded(days_old: int, kind: RecordingKind = RecordingKind.CALL) -> Recording:
        call = make_call(
            customer_ids=[customer.id],
            state=CallState.ENDED,
            ringing_at=now - timedelta(days=days_old),
        )
        recording = make_recording(call, folder)
        recording.kind = kind
        db.add(recording)
        db.commit()
        return recording

    old, held, recent = recorded(400), recorded(400), recorded(30)
    old_voicemail, old_fault = (
        recorded(100, RecordingKind.VOICEMAIL),
        recorded(100, RecordingKind.FAULT),
    )
    transcript = Transcript(
        recording_id=old.id or 0,
        call_id=old.call_id,
        language="zh-CN",
        model="test",
        text="洗衣机漏水",
        created_at=now,
    )
    db.add(transcript)
    db.commit()
    db.add(
        TranscriptSegment(
            transcript_id=transcript.id or 0,
            speaker="customer",
            start_seconds=0.0,
            end_seconds=1.0,
            text="洗衣机漏水",
        )
    )
    db.commit()
    boss, agent = make_user(Role.SUPERVISOR), make_user(Role.AGENT)

    hold = client.put(
        f"/api/recordings/{held.id}/legal-hold",
        json={"hold": True, "reason": "客户投诉仲裁 2024-117"},
        headers=bearer(boss),
    )
    refused = client.put(
        f"/api/recordings/{recent.id}/legal-hold",
        json={"hold": True, "reason": "想留着"},
        headers=bearer(agent),
    )
    unknown = client.put(
        "/api/recordings/999999/legal-hold",
        json={"hold": True, "reason": "案件"},
        headers=bearer(boss),
    )
    purged = asyncio.run(purge_recordings(worker_context(app)))
    again = asyncio.run(purge_recordings(worker_context(app)))

    assert hold.status_code == 200, hold.text
    assert hold.json() == {"recording_id": held.id, "legal_hold": True}
    assert (refused.status_code, unknown.status_code) == (403, 404)
    assert (purged, again) == (2, 0)
    db.expire_all()
    left = {r.id for r in db.exec(select(Recording)).all()}
    assert {held.id, recent.id, old_fault.id} <= left
    assert not {old.id, old_voicemail.id} & left
    for gone in (old, old_voicemail):
        assert not Path(gone.path).exists()
    for kept in (held, recent, old_fault):
        assert Path(kept.path).exists()
    assert db.exec(select(Transcript).where(Transcript.recording_id == old.id)).all() == []
    assert db.exec(select(TranscriptSegment)).all() == []
    audited = db.exec(select(AuditEntry).where(AuditEntry.entity == "recording")).all()
    assert sorted((e.entity_id, e.action) for e in audited) == sorted(
        [(held.id, "update"), (old.id, "delete"), (old_voicemail.id, "delete")]
    )
    [held_entry] = [e for e in audited if e.action == "update"]
    assert held_entry.after == {"legal_hold": True, "reason": "客户投诉仲裁 2024-117"}
