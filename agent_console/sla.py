"""SLA clocks of open work orders, as the console shows them.

The orders domain does not keep SLA clocks yet (that is the dispatch issue's work); until it
does, the console judges an open order against one resolution target per urgency, counted
in wall-clock hours from creation. When orders grows real clocks (business hours, per-stage
targets), ``sla_clock`` is the one place to switch over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from orders.enums import Urgency


class SlaState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


@dataclass(frozen=True)
class SlaPolicy:
    resolve_hours: dict[Urgency, int] = field(
        default_factory=lambda: {Urgency.URGENT: 24, Urgency.NORMAL: 72}
    )
    warn_share: float = 0.25
    """A clock turns to warning when less than this share of its time is left."""

    def target(self, urgency: Urgency) -> timedelta:
        return timedelta(hours=self.resolve_hours[urgency])

    def warning_after(self, urgency: Urgency) -> timedelta:
        return self.target(urgency) * (1 - self.warn_share)


class SlaClock(BaseModel):
    due_at: datetime
    seconds_left: int
    """Negative once breached: how long ago the order fell due."""
    state: SlaState


def sla_clock(
    *, created_at: datetime, urgency: Urgency, now: datetime, policy: SlaPolicy
) -> SlaClock:
    due = created_at + policy.target(urgency)
    left = int((due - now).total_seconds())
    if left < 0:
        state = SlaState.BREACHED
    elif now >= created_at + policy.warning_after(urgency):
        state = SlaState.WARNING
    else:
        state = SlaState.OK
    return SlaClock(due_at=due, seconds_left=left, state=state)
