"""What the console needs to know about the hotline it serves, as one small typed object."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ConsoleConfig:
    timezone: str = "Asia/Shanghai"
    """The hotline's zone: the wall's "today" and its hours are this zone's."""
    earlier_calls: int = 5
    """Recordings of earlier calls shown per customer in the screen pop."""
    live_calls: int = 50
    sla_orders: int = 10
    """Orders listed on the wall under SLA warnings and breaches (the worst first)."""
    wall_min_interval_seconds: float = 0.5
    """The wall is rebuilt at most this often, however many events arrive."""
    wall_refresh_seconds: float = 10.0
    """...and at least this often, so SLA clocks move without events."""
    wall_slow_seconds: float = 15.0
    """How long the day's figures (SLA, complaints, calls per hour) are reused."""
    live_call_window_hours: int = 4

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
