"""Shapes of recordings as other packages show them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, StringConstraints


class EarlierCall(BaseModel):
    recording_id: int
    call_id: str
    at: datetime
    duration_seconds: float
    transcript: str | None = None
    """None until the transcription job has run for the recording."""


class LegalHoldIn(BaseModel):
    hold: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
    """Why (a dispute, a regulator's request, a complaint's case number): kept in the audit."""


class LegalHoldPublic(BaseModel):
    recording_id: int
    legal_hold: bool
