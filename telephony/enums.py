"""Vocabulary of calls."""

from __future__ import annotations

from enum import StrEnum


class CallChannel(StrEnum):
    SIP = "sip"
    TWILIO = "twilio"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallState(StrEnum):
    RINGING = "ringing"
    IN_IVR = "in_ivr"
    QUEUED = "queued"
    OFFERED = "offered"
    BRIDGED = "bridged"
    ENDED = "ended"


class Disposition(StrEnum):
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"


class ProviderStatus(StrEnum):
    """Twilio's CallStatus values, in the order a call lives through them."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"


class OfferLogged(StrEnum):
    """What the call log made of an offer the ACD made."""

    WRITTEN = "written"
    OVER = "over"
    """The offer was over by the time it was written (its agent missed it, or the call is
    not in the log): nothing to write."""
    CALL_ENDED = "call_ended"
