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
