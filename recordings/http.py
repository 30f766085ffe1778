"""Routes of recordings: a recording's transcript, for the console's player."""

from __future__ import annotations

from fastapi import APIRouter

from core.deps import SessionDep
from orders.http import PathId, Staff
from recordings.schemas import TranscriptPublic
from recordings.transcripts import transcript_of

router = APIRouter(prefix="/recordings", tags=["recordings"])


@router.get("/{recording_id}/transcript")
def transcript(recording_id: PathId, session: SessionDep, actor: Staff) -> TranscriptPublic:
    """What was said, by speaker, with each word's timing and confidence; for supervisors,
    admins and the agent who handled the call. 404 with the transcription's state (and a
    failure's reason) while there is none."""
    return transcript_of(session, recording_id=recording_id, actor=actor)
