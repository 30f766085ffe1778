"""Errors of the Twilio channel (the tree is in core.errors), and the one place httpx's
exceptions are translated into them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from core.errors import CallCenterError, PermissionDenied, ValidationFailed


class TwilioNotConfigured(CallCenterError):
    status_code = 503
    error_id = "twilio_not_configured"


class InvalidTwilioSignature(PermissionDenied):
    error_id = "invalid_twilio_signature"


class InvalidTwilioId(ValidationFailed):
    error_id = "invalid_twilio_id"


class MalformedWebhook(ValidationFailed):
    """A webhook body that is no Twilio's: more fields than Twilio ever sends."""

    error_id = "malformed_twilio_webhook"


class RecordingRefused(ValidationFailed):
    error_id = "recording_refused"


class MediaFetchFailed(CallCenterError):
    """Twilio's API did not hand over media we asked it for (an error status, a network
    failure, a download cut short)."""

    status_code = 502
    error_id = "twilio_media_fetch_failed"


class TwilioError(CallCenterError):
    status_code = 502
    error_id = "twilio_error"


class TwilioAuthFailed(TwilioError):
    error_id = "twilio_auth_failed"


class TwilioAccountInactive(TwilioError):
    """Twilio refuses every request of the account: suspended (its balance ran out, a
    policy review) or not activated yet."""

    error_id = "twilio_account_inactive"


class TwilioInvalidNumber(TwilioError):
    status_code = 422
    error_id = "twilio_invalid_number"


class TwilioRateLimited(TwilioError):
    status_code = 503
    error_id = "twilio_rate_limited"


class JobsUnavailable(CallCenterError):
    status_code = 503
    error_id = "jobs_unavailable"


@contextmanager
def map_httpx_errors(action: str) -> Iterator[None]:
    """Translate what httpx raises while doing ``action`` into our error tree."""
    try:
        yield
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        raise MediaFetchFailed(
            f"could not {action}: Twilio answered {status}", details={"status": status}
        ) from exc
    except httpx.HTTPError as exc:
        raise MediaFetchFailed(
            f"could not {action}: {type(exc).__name__}: {exc}", details={"status": None}
        ) from exc
