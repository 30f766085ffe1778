"""The outbound engine: campaigns and their sampling, agents' calendars and the placing of
tasks in them, the do-not-call list, and callbacks booked by callers.

The names below are the package's public API; other packages import only these (the
routes are ``callbacks.http``).
"""

from callbacks.enums import AssigneeKind, CampaignMode, TaskPurpose, TaskStatus
from callbacks.exceptions import (
    CampaignNotFound,
    DncEntryNotFound,
    DuplicateCampaign,
    DuplicateDncEntry,
    InvalidCalendar,
    InvalidOutcome,
    InvalidTaskQuery,
    TaskNotFound,
)
from callbacks.models import CallbackRequest, OutboundTask
from callbacks.services.bookings import request_callback
from callbacks.services.dnc import is_listed

__all__ = [
    "AssigneeKind",
    "CallbackRequest",
    "CampaignMode",
    "CampaignNotFound",
    "DncEntryNotFound",
    "DuplicateCampaign",
    "DuplicateDncEntry",
    "InvalidCalendar",
    "InvalidOutcome",
    "InvalidTaskQuery",
    "OutboundTask",
    "TaskNotFound",
    "TaskPurpose",
    "TaskStatus",
    "is_listed",
    "request_callback",
]
