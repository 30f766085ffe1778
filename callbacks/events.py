"""The events the outbound engine publishes, each once its change is committed."""

from __future__ import annotations

from datetime import datetime

from core.bus import Event


class CampaignProgressed(Event):
    """A campaign's figures moved (an attempt's outcome is in, or orders were planned):
    supervisors' desks showing its progress read its report again."""

    name = "campaign.progressed"
    campaign_id: int
    task_id: int | None = None
    """The task whose outcome moved them; None for a planning run."""
    at: datetime
