"""Errors of the outbound engine (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import Conflict, NotFound, ValidationFailed


class CampaignNotFound(NotFound):
    error_id = "campaign_not_found"


class DuplicateCampaign(Conflict):
    error_id = "duplicate_campaign"


class DncEntryNotFound(NotFound):
    error_id = "dnc_entry_not_found"


class DuplicateDncEntry(Conflict):
    """The number is on the do-not-call list already."""

    error_id = "duplicate_dnc_entry"


class InvalidCalendar(ValidationFailed):
    """A calendar for someone who takes no calls, or a day off with hours."""

    error_id = "invalid_calendar"


class InvalidTaskQuery(ValidationFailed):
    error_id = "invalid_task_query"


class TaskNotFound(NotFound):
    error_id = "task_not_found"


class InvalidOutcome(Conflict):
    """An outcome for a task already ended, or a score for a task without an order."""

    error_id = "invalid_outcome"


class CallNotAllowed(Conflict):
    """A call to a task's customer that may not be placed now: outside their calling hours,
    to a listed number, or while the task is being called already."""

    error_id = "call_not_allowed"
