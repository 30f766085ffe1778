"""The outbound engine: campaigns and their sampling, agents' calendars and the placing of
tasks in them, the do-not-call list, and callbacks booked by callers.

The names below are the package's public API; other packages import only these (the
routes are ``callbacks.http``).
"""

from callbacks.enums import AssigneeKind, CampaignMode, Outcome, TaskPurpose, TaskStatus
from callbacks.exceptions import (
    CallNotAllowed,
    CampaignNotFound,
    DncEntryNotFound,
    DuplicateCampaign,
    DuplicateDncEntry,
    InvalidCalendar,
    InvalidOutcome,
    InvalidTaskQuery,
    TaskNotFound,
)
from callbacks.models import OutboundTask
from callbacks.services.bookings import free_callback_slots, request_callback
from callbacks.services.dialing import (
    AgentDial,
    Dial,
    claim_due_dials,
    claimed_dials,
    dial_ended,
    expire_unanswered,
    release_dial,
    sms_reply,
    sms_survey_text,
    start_agent_call,
    survey_answered,
)
from callbacks.services.dnc import is_listed
from callbacks.services.follow_ups import follow_up_on_completion
from callbacks.services.notices import notice_on_news, notice_on_status_change, notice_text

__all__ = [
    "AgentDial",
    "AssigneeKind",
    "CallNotAllowed",
    "CampaignMode",
    "CampaignNotFound",
    "Dial",
    "DncEntryNotFound",
    "DuplicateCampaign",
    "DuplicateDncEntry",
    "InvalidCalendar",
    "InvalidOutcome",
    "InvalidTaskQuery",
    "OutboundTask",
    "Outcome",
    "TaskNotFound",
    "TaskPurpose",
    "TaskStatus",
    "claim_due_dials",
    "claimed_dials",
    "dial_ended",
    "expire_unanswered",
    "follow_up_on_completion",
    "free_callback_slots",
    "is_listed",
    "notice_on_news",
    "notice_on_status_change",
    "notice_text",
    "release_dial",
    "request_callback",
    "sms_reply",
    "sms_survey_text",
    "start_agent_call",
    "survey_answered",
]
