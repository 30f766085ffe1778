"""Shapes of calls as other packages show them (the supervisor's wall)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class LiveCall(BaseModel):
    call_id: str
    from_number: str
    state: str
    queue: str | None
    agent_id: int | None
    started_at: datetime
    customer_name: str | None = None


class HourFigures(BaseModel):
    hour: int
    calls: int
    abandoned: int
