"""Vocabulary of the console."""

from __future__ import annotations

from enum import StrEnum


class CallOutcome(StrEnum):
    """What the agent says a call was about (the call's disposition in the agent's words).

    Not the telephony disposition (completed, abandoned, busy...), which says how the line
    ended, not what was done.
    """

    ORDER_CREATED = "order_created"
    STATUS_ENQUIRY = "status_enquiry"
    RESOLVED = "resolved"
    CALLBACK_NEEDED = "callback_needed"
    COMPLAINT = "complaint"
    WRONG_NUMBER = "wrong_number"
    OTHER = "other"
