"""Every Twilio webhook is verified with the SDK's RequestValidator before anything runs."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request
from twilio.request_validator import RequestValidator

from telephony.twilio.config import PublicUrlDep, TwilioSettingsDep
from telephony.twilio.errors import InvalidTwilioSignature, TwilioNotConfigured

log = structlog.get_logger(__name__)


def public_url(request: Request, base: str | None) -> str:
    """The URL Twilio signed: our public base (behind a proxy or tunnel) plus path and query."""
    if base is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base.rstrip('/')}{request.url.path}{query}"


async def verified_params(
    request: Request, twilio: TwilioSettingsDep, base: PublicUrlDep
) -> dict[str, str]:
    token = twilio.auth_token
    if token is None:
        raise TwilioNotConfigured("CALLCENTER_TWILIO_AUTH_TOKEN is not set")
    form = await request.form()
    params = {key: str(value) for key, value in form.multi_items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    url = public_url(request, base)
    if not signature or not RequestValidator(token.get_secret_value()).validate(
        url, params, signature
    ):
        log.warning("twilio signature refused", url=url, has_signature=bool(signature))
        raise InvalidTwilioSignature("the X-Twilio-Signature header is missing or wrong")
    return params


TwilioParams = Annotated[dict[str, str], Depends(verified_params)]
