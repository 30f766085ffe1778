"""Errors of the Twilio channel (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import CallCenterError, PermissionDenied, ValidationFailed


class TwilioNotConfigured(CallCenterError):
    status_code = 503
    error_id = "twilio_not_configured"


class InvalidTwilioSignature(PermissionDenied):
    error_id = "invalid_twilio_signature"


class InvalidTwilioId(ValidationFailed):
    error_id = "invalid_twilio_id"


class RecordingRefused(ValidationFailed):
    error_id = "recording_refused"
