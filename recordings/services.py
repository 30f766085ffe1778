"""Registering finished recordings, and finding a customer's earlier calls."""

from __future__ import annotations

from sqlalchemy import bindparam, or_
from sqlalchemy import select as core_select
from sqlmodel import Session

from core.types import Clock
from recordings.models import Recording, RecordingKind, Transcript
from recordings.schemas import EarlierCall
from recordings.wav import FinishedWav


def register_recording(
    session: Session,
    *,
    call_id: str,
    customer_id: int | None,
    order_id: int | None = None,
    agent_id: int | None = None,
    kind: RecordingKind = RecordingKind.CALL,
    wav: FinishedWav,
    clock: Clock,
) -> Recording:
    """File a finished recording; it waits for its transcript (``transcript_state``
    pending), which the worker's transcription sweep picks up."""
    recording = Recording(
        call_id=call_id,
        customer_id=customer_id,
        order_id=order_id,
        agent_id=agent_id,
        kind=kind,
        path=str(wav.path),
        channels=wav.channels,
        sample_rate=wav.sample_rate,
        duration_seconds=wav.duration_seconds,
        size_bytes=wav.path.stat().st_size,
        sha256=wav.sha256,
        created_at=clock(),
    )
    session.add(recording)
    session.commit()
    return recording


# Built once, on the table's columns: this runs on every offered call.
_recording = Recording.__table__.c  # type: ignore[attr-defined]
_transcript = Transcript.__table__.c  # type: ignore[attr-defined]
_EARLIER = (
    core_select(
        _recording.id,
        _recording.call_id,
        _recording.created_at,
        _recording.duration_seconds,
        _recording.kind,
        _transcript.text,
    )
    .outerjoin(Transcript.__table__, _transcript.recording_id == _recording.id)  # type: ignore[attr-defined]
    .where(_recording.customer_id == bindparam("customer_id"))
    .where(or_(_recording.call_id.is_(None), _recording.call_id != bindparam("excluding")))
    .order_by(_recording.created_at.desc(), _recording.id.desc())
    .limit(bindparam("limit"))
)


def earlier_calls(
    session: Session,
    *,
    customer_ids: list[int],
    per_customer: int,
    excluding_call: str | None = None,
) -> dict[int, list[EarlierCall]]:
    """The newest recordings of each customer's calls, newest first; none of the call
    ``excluding_call`` (the one in progress is not an earlier call, nor is the fault its
    caller recorded in the IVR)."""
    connection = session.connection()
    found: dict[int, list[EarlierCall]] = {}
    for customer_id in customer_ids:  # a pop has one card or a few
        rows = connection.execute(
            _EARLIER,
            {"customer_id": customer_id, "limit": per_customer, "excluding": excluding_call or ""},
        )
        found[customer_id] = [
            EarlierCall(
                recording_id=row.id,
                call_id=row.call_id,
                at=row.created_at,
                duration_seconds=row.duration_seconds,
                kind=row.kind,
                transcript=row.text,
            )
            for row in rows
        ]
    return found
