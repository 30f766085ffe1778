"""SLA clocks of open work orders.

Orders do not keep per-stage SLA clocks yet (that is the dispatch issue's work); until they
do, an open order is judged against one resolution target per urgency, counted in
wall-clock hours from creation. When real clocks arrive (business hours, per-stage
targets), ``sla_clock`` is the one place to switch over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orders.enums import SlaState, Urgency
from orders.schemas import SlaClock


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
