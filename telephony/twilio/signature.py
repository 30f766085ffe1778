"""Every Twilio webhook is verified with the SDK's RequestValidator before anything runs."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

import structlog
from fastapi import Depends, Request
from twilio.request_validator import RequestValidator

from telephony.twilio.config import PublicUrlDep, TwilioSettingsDep
from telephony.twilio.errors import (
    InvalidTwilioSignature,
    MalformedWebhook,
    TwilioNotConfigured,
)

log = structlog.get_logger(__name__)


def public_url(request: Request, base: str | None) -> str:
    """The URL Twilio signed: our public base (behind a proxy or tunnel) plus path and query."""
    if base is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base.rstrip('/')}{request.url.path}{query}"


class SignedParams(dict[str, list[str]]):
    """A webhook's form, each name with all its values, as the validator reads a multi-dict
    (``getall``): every value is signed. Given a plain dict, the validator finds each name's
    values through two failed attribute lookups, twice a request (the URL with and without
    its port): that was half its time on a webhook of Twilio's 25 parameters."""

    def getall(self, name: str) -> list[str]:
        return self[name]


MAX_FIELDS = 200
"""Fields a webhook may carry: Twilio's have some 30. Counted before any is read: a hundred
thousand fields fit the body limit (1 MB), and parsed and signed they held the event loop
for 0.4 s."""


def form_params(body: bytes) -> SignedParams:
    """A URL-encoded body's parameters, blank ones too (Twilio signs them), decoded as
    Starlette's form parser does. Read with the standard library's parser: Starlette's,
    which also reads the multipart bodies Twilio never sends, took three times as long."""
    try:
        pairs = parse_qsl(
            body.decode("latin-1"),
            keep_blank_values=True,
            encoding="utf-8",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:  # raised only for too many fields
        raise MalformedWebhook(f"a webhook has at most {MAX_FIELDS} fields") from exc
    params = SignedParams()
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def _urlencoded(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").partition(";")[0]
    return media_type.strip().lower() == "application/x-www-form-urlencoded"


async def verified_params(
    request: Request, twilio: TwilioSettingsDep, base: PublicUrlDep
) -> dict[str, str]:
    """The webhook's parameters, once its signature is checked over all of them. A name
    given more than once is checked but not handed on: the signature covers its values,
    not their order, so which one a handler took would be the sender's choice."""
    token = twilio.auth_token
    if token is None:
        raise TwilioNotConfigured("CALLCENTER_TWILIO_AUTH_TOKEN is not set")
    params = form_params(await request.body()) if _urlencoded(request) else SignedParams()
    signature = request.headers.get("X-Twilio-Signature", "")
    url = public_url(request, base)
    if not signature or not RequestValidator(token.get_secret_value()).validate(
        url, params, signature
    ):
        log.warning("twilio signature refused", url=url, has_signature=bool(signature))
        raise InvalidTwilioSignature("the X-Twilio-Signature header is missing or wrong")
    return {name: values[0] for name, values in params.items() if len(values) == 1}


TwilioParams = Annotated[dict[str, str], Depends(verified_params)]
