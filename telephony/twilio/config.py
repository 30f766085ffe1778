"""The Twilio channel's configuration: its settings group, read by the composition root
(``CALLCENTER_TWILIO_*``) and handed to the routes and jobs of this channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field, SecretStr


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    api_base_url: str | None = None
    """Override of https://api.twilio.com, e.g. a regional edge or a local test server."""
    caller_id: str | None = None
    """The number outbound calls (survey callbacks) show, one of the account's numbers."""
    media_max_seconds: int = Field(default=4 * 3600, ge=1)
    """A Media Stream records this much audio at most; a longer stream is closed."""


# The dependencies only read app.state, so they are async (see core.deps).
async def twilio_settings(request: Request) -> TwilioSettings:
    settings: TwilioSettings = request.app.state.twilio
    return settings


async def public_base(request: Request) -> str | None:
    """Our public base URL (behind a proxy or tunnel), as Twilio reaches and signs it."""
    base: str | None = request.app.state.public_url
    return base


TwilioSettingsDep = Annotated[TwilioSettings, Depends(twilio_settings)]
PublicUrlDep = Annotated[str | None, Depends(public_base)]
