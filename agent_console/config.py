"""What the console needs to know about the hotline it serves, as one small typed object."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from telephony import AgentState


@dataclass(frozen=True)
class StateLimit:
    """How long an agent may stay in ``state`` (with ``reason``, or any reason when empty)
    before the wall shows it as a warning, then as an alarm."""

    state: AgentState
    warn_seconds: int
    alarm_seconds: int
    reason: str = ""


STATE_LIMITS = (
    # An offer rings 15 s before it moves on: still ringing after that is a stuck offer.
    StateLimit(AgentState.OFFERED, warn_seconds=30, alarm_seconds=60),
    # Queues end a wrap-up after 30 s; an agent who chose it stays until they leave it.
    StateLimit(AgentState.WRAP_UP, warn_seconds=2 * 60, alarm_seconds=5 * 60),
    StateLimit(AgentState.BREAK, warn_seconds=15 * 60, alarm_seconds=30 * 60),
    StateLimit(AgentState.BREAK, reason="lunch", warn_seconds=40 * 60, alarm_seconds=60 * 60),
    StateLimit(AgentState.BREAK, reason="training", warn_seconds=60 * 60, alarm_seconds=2 * 3600),
    StateLimit(AgentState.BREAK, reason="meeting", warn_seconds=60 * 60, alarm_seconds=2 * 3600),
)


@dataclass(frozen=True)
class ConsoleConfig:
    timezone: str = "Asia/Shanghai"
    """The hotline's zone: the wall's "today", its hours and every time it shows."""
    earlier_calls: int = 5
    """Recordings of earlier calls shown per customer in the screen pop."""
    live_calls: int = 50
    """Live calls listed on the wall (the oldest first); the wall says how many more."""
    live_calls_scanned: int = 500
    """Calls not ended read for the wall, before those no queue or agent carries any more
    (ended without being closed) are left out."""
    sla_orders: int = 10
    """Orders listed on the wall under SLA warnings and breaches (the worst first)."""
    wall_min_interval_seconds: float = 0.5
    """The wall is rebuilt at most this often, however many events arrive."""
    wall_refresh_seconds: float = 10.0
    """...and at least this often, so SLA clocks move without events."""
    wall_slow_seconds: float = 15.0
    """How long the day's figures (SLA, complaints, calls per hour) are reused."""
    live_call_window_hours: int = 4
    service_level_warn: float = 0.80
    """A queue's service level below this share is a warning on the wall..."""
    service_level_alarm: float = 0.60
    """...and below this one an alarm."""
    longest_wait_warn_seconds: float = 20
    """A caller waiting longer than this is a warning (the queues' service-level time)..."""
    longest_wait_alarm_seconds: float = 60
    """...and longer than this an alarm."""
    state_limits: tuple[StateLimit, ...] = STATE_LIMITS
    """Agents in a state too long; a limit for a reason wins over its state's own."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def state_limit(self, state: AgentState, reason: str) -> StateLimit | None:
        """The limit of an agent in ``state`` for ``reason``: the reason's own, else the
        state's; None where the wall never warns (an available agent may wait all day)."""
        fitting = [
            limit
            for limit in self.state_limits
            if limit.state is state and limit.reason in ("", reason)
        ]
        return max(fitting, key=lambda limit: limit.reason != "", default=None)
