"""Transcripts of recordings: made once per recording by the worker, read by those who may
hear the recording."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import PermissionDenied
from orders import SYSTEM, Actor, Role, add_fault_words
from recordings.exceptions import AudioUnreadable, RecordingMissing, TranscriptNotReady
from recordings.keywords import spot_keywords
from recordings.models import (
    Recording,
    RecordingKind,
    Transcript,
    TranscriptSegment,
    TranscriptState,
)
from recordings.schemas import TranscriptPublic, TranscriptSegmentPublic, TranscriptWord
from recordings.transcription import Segment, TranscriptionModel, transcribe_file

SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})


def transcribe(
    session: Session,
    *,
    recording_id: int,
    model: TranscriptionModel,
    now: datetime,
    keywords: Sequence[str] = (),
) -> Recording:
    """Transcribe a pending recording: its transcript, segments and ``done`` state are
    committed together, with what they lead to (watched words flagged and complaints
    raised; a fault description's words in its order), or, when its audio cannot be
    transcribed, only ``failed`` with the reason. A recording already done or failed is
    left as it is, so a repeated or concurrent run never makes a second transcript."""
    recording = _recording(session, recording_id)
    if recording.transcript_state is not TranscriptState.PENDING:
        return recording
    try:
        segments = transcribe_file(Path(recording.path), model)
    except AudioUnreadable as exc:
        recording.transcript_state = TranscriptState.FAILED
        recording.transcript_error = exc.message
        session.add(recording)
        session.commit()
        return recording
    transcript = Transcript(
        recording_id=recording_id,
        call_id=recording.call_id,
        customer_id=recording.customer_id,
        order_id=recording.order_id,
        language=model.language,
        model=model.name,
        text="\n".join(segment.text for segment in segments),
        created_at=now,
    )
    recording.transcript_state = TranscriptState.DONE
    recording.transcript_error = ""
    try:
        session.add(transcript)
        session.flush()  # the transcript's id, for its segments
        assert transcript.id is not None
        session.add_all(
            TranscriptSegment(
                transcript_id=transcript.id,
                speaker=segment.speaker,
                start_seconds=segment.start,
                end_seconds=segment.end,
                text=segment.text,
                words=[
                    {"word": w.word, "start": w.start, "end": w.end, "confidence": w.confidence}
                    for w in segment.words
                ],
            )
            for segment in segments
        )
        session.add(recording)
        session.flush()
        spot_keywords(
            session, transcript_id=transcript.id, keywords=keywords, actor=SYSTEM, clock=lambda: now
        )
        if recording.kind is RecordingKind.FAULT and recording.order_id is not None:
            add_fault_words(
                session,
                order_id=recording.order_id,
                text=fault_words(recording_id, segments),
                actor=SYSTEM,
                clock=lambda: now,
            )
        session.commit()
    except IntegrityError:
        # Another run stored this recording's transcript first (the unique recording_id).
        session.rollback()
        return _recording(session, recording_id)
    return recording


LOW_CONFIDENCE = 0.5
"""A word recognised below this is shown as unsure: [?word]."""


def fault_words(recording_id: int, segments: Sequence[Segment]) -> str:
    """What the caller said, as the station reads it: unsure words marked, the recording
    named so it can be played."""
    words = [
        f"[?{word.word}]" if word.confidence < LOW_CONFIDENCE else word.word
        for segment in segments
        for word in segment.words
    ]
    if not words:
        return ""
    return f"客户原话（录音 #{recording_id}）：" + " ".join(words)


def pending_recordings(session: Session, *, limit: int) -> list[int]:
    """Ids of recordings still waiting for their transcript, oldest first."""
    found = session.exec(
        select(col(Recording.id))
        .where(Recording.transcript_state == TranscriptState.PENDING)
        .order_by(col(Recording.id))
        .limit(limit)
    ).all()
    return [recording_id for recording_id in found if recording_id is not None]


def transcript_of(session: Session, *, recording_id: int, actor: Actor) -> TranscriptPublic:
    """The recording's transcript, for those who may hear the recording: supervisors,
    admins and the agent recorded on it (agent_console's playback rule also lets an agent
    hear its current caller's earlier calls; that rule reads the call log, which this
    package, below telephony, cannot)."""
    recording = _recording(session, recording_id)
    if actor.role not in SUPERVISING and recording.agent_id != actor.id:
        raise PermissionDenied(
            "only supervisors and the agent who handled the call may read its transcript",
            details={"recording_id": recording_id},
        )
    transcript = session.exec(
        select(Transcript).where(Transcript.recording_id == recording_id)
    ).one_or_none()
    if transcript is None:
        raise TranscriptNotReady(
            f"recording {recording_id} has no transcript",
            details={
                "recording_id": recording_id,
                "state": recording.transcript_state.value,
                "reason": recording.transcript_error,
            },
        )
    segments = session.exec(
        select(TranscriptSegment)
        .where(TranscriptSegment.transcript_id == transcript.id)
        .order_by(col(TranscriptSegment.start_seconds), col(TranscriptSegment.id))
    ).all()
    return TranscriptPublic(
        recording_id=recording_id,
        call_id=transcript.call_id,
        customer_id=transcript.customer_id,
        order_id=transcript.order_id,
        language=transcript.language,
        model=transcript.model,
        text=transcript.text,
        created_at=transcript.created_at,
        segments=[
            TranscriptSegmentPublic(
                speaker=segment.speaker,
                start_seconds=segment.start_seconds,
                end_seconds=segment.end_seconds,
                text=segment.text,
                words=[TranscriptWord.model_validate(word) for word in segment.words],
            )
            for segment in segments
        ],
    )


def _recording(session: Session, recording_id: int) -> Recording:
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise RecordingMissing(
            f"no recording {recording_id}", details={"recording_id": recording_id}
        )
    return recording
