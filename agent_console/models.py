"""Tables of the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from agent_console.enums import CallOutcome
from core.types import UTCDateTime, enum_type


class CallNote(SQLModel, table=True):
    """An agent's notes and disposition on a call: one per call and agent, kept up to date."""

    __tablename__ = "call_note"
    __table_args__ = (UniqueConstraint("call_id", "agent_id"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True, max_length=32)
    agent_id: int = Field(foreign_key="user.id")
    disposition: CallOutcome | None = Field(default=None, sa_type=enum_type(CallOutcome))
    notes: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
