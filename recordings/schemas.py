"""Shapes of recordings as other packages show them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, StringConstraints

from recordings.models import RecordingKind


class EarlierCall(BaseModel):
    recording_id: int
    call_id: str
    at: datetime
    duration_seconds: float
    kind: RecordingKind = RecordingKind.CALL
    """A fault the caller described in the IVR shows as such, under its call."""
    transcript: str | None = None
    """None until the transcription job has run for the recording."""


class LegalHoldIn(BaseModel):
    hold: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
    """Why (a dispute, a regulator's request, a complaint's case number): kept in the audit."""


class LegalHoldPublic(BaseModel):
    recording_id: int
    legal_hold: bool


class TranscriptWord(BaseModel):
    word: str
    start: float
    end: float
    confidence: float
    """0 to 1; the console marks words under 0.5 as unsure."""


class TranscriptSegmentPublic(BaseModel):
    speaker: str
    """``customer`` or ``agent`` (a stereo call's channels); ``caller`` for mono audio."""
    start_seconds: float
    end_seconds: float
    text: str
    words: list[TranscriptWord]


class TranscriptPublic(BaseModel):
    recording_id: int
    call_id: str
    customer_id: int | None
    order_id: int | None
    language: str
    model: str
    text: str
    created_at: datetime
    segments: list[TranscriptSegmentPublic]
