"""Shapes of recordings as other packages show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class EarlierCall(BaseModel):
    recording_id: int
    call_id: str
    at: datetime
    duration_seconds: float
    transcript: str | None = None
    """None until the transcription job has run for the recording."""
