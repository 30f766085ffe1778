"""How long recordings are kept: days per kind, a legal hold that keeps one whatever its
age, and the purge that deletes a recording's file, its row and its transcript together,
each deletion audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import delete
from sqlmodel import Session, col, select

from core.types import Clock
from orders import Actor, AuditAction, record_audit
from recordings.exceptions import RecordingMissing
from recordings.models import Recording, RecordingKind, Transcript, TranscriptSegment

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    days: dict[RecordingKind, int]

    def expired_before(self, kind: RecordingKind, now: datetime) -> datetime:
        return now - timedelta(days=self.days[kind])


def set_legal_hold(
    session: Session, *, recording_id: int, hold: bool, reason: str, actor: Actor, clock: Clock
) -> Recording:
    """Put a recording under legal hold (it is never purged) or release it; audited with
    the reason."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise RecordingMissing(
            f"recording {recording_id} does not exist", details={"recording_id": recording_id}
        )
    before = {"legal_hold": recording.legal_hold}
    recording.legal_hold = hold
    session.add(recording)
    record_audit(
        session,
        actor=actor,
        entity="recording",
        entity_id=recording_id,
        action=AuditAction.UPDATE,
        before=before,
        after={"legal_hold": hold, "reason": reason},
        clock=clock,
    )
    session.commit()
    return recording


def purge_expired(
    session: Session,
    *,
    policy: RetentionPolicy,
    recordings_dir: Path,
    actor: Actor,
    clock: Clock,
    batch: int = 500,
) -> int:
    """Delete the recordings past their kind's retention and not on hold: the transcript,
    the row and the file go together (the file last, once the rows are gone, so a crash
    leaves at worst an orphan file that `recordings check` reports, never a row without
    its audio); each is audited. The number purged."""
    now = clock()
    purged = 0
    for kind in RecordingKind:
        rows = session.exec(
            select(Recording)
            .where(
                Recording.kind == kind,
                col(Recording.legal_hold).is_(False),
                col(Recording.created_at) < policy.expired_before(kind, now),
            )
            .order_by(col(Recording.id))
            .limit(batch)
        ).all()
        for recording in rows:
            assert recording.id is not None
            path = Path(recording.path)
            transcripts = select(Transcript.id).where(Transcript.recording_id == recording.id)
            session.execute(
                delete(TranscriptSegment).where(
                    col(TranscriptSegment.transcript_id).in_(transcripts.scalar_subquery())
                )
            )
            session.execute(delete(Transcript).where(col(Transcript.recording_id) == recording.id))
            record_audit(
                session,
                actor=actor,
                entity="recording",
                entity_id=recording.id,
                action=AuditAction.DELETE,
                before={
                    "path": recording.path,
                    "kind": recording.kind.value,
                    "created_at": recording.created_at.isoformat(),
                    "sha256": recording.sha256,
                },
                clock=clock,
            )
            session.delete(recording)
            session.commit()
            if path.resolve().is_relative_to(recordings_dir.resolve()):
                path.unlink(missing_ok=True)
            else:
                log.warning("purged recording outside the recordings folder kept", path=str(path))
            purged += 1
    return purged
