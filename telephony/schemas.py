"""Shapes of calls as other packages show them (the supervisor's wall)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from telephony.acd import QueueFigures


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


class TransferAgent(BaseModel):
    agent_id: int
    name: str


class TransferTargets(BaseModel):
    """Where an agent may send a call: the queues, and the agents free to take it now."""

    queues: list[QueueFigures]
    agents: list[TransferAgent]
