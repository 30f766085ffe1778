"""The service's one clock, built here in the composition root and passed to every piece."""

from __future__ import annotations

from datetime import UTC, datetime


def system_clock() -> datetime:
    """The wall clock in UTC: the only place that reads it."""
    return datetime.now(UTC)
