"""The recordings catalogue."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.types import UTCDateTime


class Recording(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True, max_length=32)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    path: str = Field(max_length=500)
    channels: int = 1
    sample_rate: int = 8000
    duration_seconds: float
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
