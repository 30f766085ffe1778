"""The call log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint, literal_column, text
from sqlmodel import Field, SQLModel, col

from core.types import UTCDateTime, enum_type
from telephony.enums import CallChannel, CallState, Direction, Disposition, ProviderStatus

_LIVE_INDEX_WHERE = text(f"state <> '{CallState.ENDED.value}'")


NUMBER_LENGTH = 64
"""Characters the call log keeps of a caller id, as given (``from_number``, ``to_number``)."""


class Call(SQLModel, table=True):
    # The worker's sweeps look for the calls going on every few seconds (orphaned SIP calls,
    # agents left on a call, waiting calls the ACD lost): found by this index, not by
    # reading the whole log each time.
    __table_args__ = (
        Index(
            "ix_call_live",
            "state",
            postgresql_where=_LIVE_INDEX_WHERE,
            sqlite_where=_LIVE_INDEX_WHERE,
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    channel: CallChannel = Field(sa_type=enum_type(CallChannel))
    direction: Direction = Field(sa_type=enum_type(Direction))
    provider_id: str | None = Field(default=None, max_length=64, unique=True)
    from_number: str = Field(max_length=NUMBER_LENGTH)
    from_e164: str | None = Field(default=None, max_length=20, index=True)
    to_number: str = Field(max_length=NUMBER_LENGTH)
    customer_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    pop: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """The caller's record as it was built when the call arrived (``CallerLookup``): built
    once per call, and read back by every later step instead of looking the caller up again."""
    state: CallState = Field(default=CallState.RINGING, sa_type=enum_type(CallState))
    provider_status: ProviderStatus | None = Field(default=None, sa_type=enum_type(ProviderStatus))
    queue: str | None = Field(default=None, max_length=64)
    agent_id: int | None = Field(default=None, foreign_key="user.id")
    order_id: int | None = Field(default=None, foreign_key="work_order.id")
    disposition: Disposition | None = Field(default=None, sa_type=enum_type(Disposition))
    ringing_at: datetime = Field(sa_type=UTCDateTime, index=True)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    bridged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    held_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Since when the caller hears hold music; None while talking."""
    task_id: int | None = Field(default=None, foreign_key="outbound_task.id", index=True)
    """The outbound task an outbound call was placed for (a survey call)."""
    agent_leg: str | None = Field(default=None, max_length=64)
    """The provider's id of the leg that rang the agent who answered (a Twilio CallSid):
    hold, resume and transfer steer that leg."""
    consult_agent_id: int | None = Field(default=None, foreign_key="user.id")
    """The colleague the agent consults while the caller is held (attended transfer)."""
    consult_leg: str | None = Field(default=None, max_length=64)
    """The provider's id of the colleague's leg, once they answered."""


LIVE = col(Call.state) != literal_column(f"'{CallState.ENDED.value}'")
"""The calls going on, a handful beside the log of every call ever made: read by the index
of them. Compared with a constant, not a bound parameter, as the index's condition is:
PostgreSQL can then use the index in every plan it makes, a prepared statement's generic
plan too, and SQLite at all."""


class CallStatusChange(SQLModel, table=True):
    """Each provider status applied to a call, once: retried callbacks find their row here."""

    __tablename__ = "call_status_change"
    __table_args__ = (UniqueConstraint("call_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    status: ProviderStatus = Field(sa_type=enum_type(ProviderStatus))
    sequence_number: int | None = None
    received_at: datetime = Field(sa_type=UTCDateTime)
