"""The recordings catalogue, and the transcripts made of recordings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, enum_type


class RecordingKind(StrEnum):
    CALL = "call"
    """The whole call: stereo, the customer left, what the customer heard right."""
    FAULT = "fault"
    """A fault described in the caller's own words in the IVR."""
    VOICEMAIL = "voicemail"


class TranscriptState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    """The audio could not be transcribed (empty, truncated, not audio): the reason is kept."""


class Recording(SQLModel, table=True):
    # The transcription sweep's question every 10 s: which recordings wait, oldest first.
    __table_args__ = (Index("ix_recording_transcript_state_id", "transcript_state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True, max_length=32)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    agent_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    kind: RecordingKind = Field(default=RecordingKind.CALL, sa_type=enum_type(RecordingKind))
    path: str = Field(max_length=500)
    channels: int = 1
    sample_rate: int = 8000
    codec: str = Field(default="pcm_s16le", max_length=32)
    size_bytes: int = 0
    duration_seconds: float
    sha256: str = Field(max_length=64)
    legal_hold: bool = False
    """Kept whatever its age: the purge passes it over."""
    transcript_state: TranscriptState = Field(
        default=TranscriptState.PENDING, sa_type=enum_type(TranscriptState)
    )
    transcript_error: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Transcript(SQLModel, table=True):
    """What was said in one recording, by speaker, with word timings."""

    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", unique=True)
    call_id: str = Field(foreign_key="call.id", index=True, max_length=32)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    language: str = Field(max_length=16)
    model: str = Field(max_length=200)
    """The Vosk model it was made with (its directory name)."""
    text: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class TranscriptSegment(SQLModel, table=True):
    """One utterance of one speaker: the unit search finds and the player seeks to."""

    __tablename__ = "transcript_segment"

    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcript.id", index=True)
    speaker: str = Field(max_length=16)
    """``customer`` or ``agent`` (a stereo call's channels); ``caller`` for mono audio."""
    start_seconds: float
    end_seconds: float
    text: str = Field(sa_type=Text)
    words: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """[{"word", "start", "end", "confidence"}], in order."""


class KeywordFlag(SQLModel, table=True):
    """A watched word said in a call (投诉, 曝光, 12315...): the call waits for a
    supervisor's review, and the customer's open complaints were raised by rule."""

    __tablename__ = "keyword_flag"
    __table_args__ = (UniqueConstraint("transcript_id", "keyword"),)

    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcript.id")
    call_id: str = Field(foreign_key="call.id", index=True, max_length=32)
    segment_id: int = Field(foreign_key="transcript_segment.id")
    keyword: str = Field(max_length=64)
    speaker: str = Field(max_length=16)
    start_seconds: float
    crisis_level: int
    flagged_at: datetime = Field(sa_type=UTCDateTime, index=True)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by: str = Field(default="", max_length=200)
