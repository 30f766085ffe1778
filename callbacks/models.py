"""Callback requests booked by callers (IVR or agent)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.types import UTCDateTime


class CallbackRequest(SQLModel, table=True):
    __tablename__ = "callback_request"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    phone: str = Field(max_length=64)
    call_id: str | None = Field(default=None, max_length=32)
    band: str = Field(max_length=32)
    """The caller's chosen time band, in the hotline's local time, e.g. 09:00-12:00."""
    status: str = Field(default="requested", max_length=16)
    requested_at: datetime = Field(sa_type=UTCDateTime)
