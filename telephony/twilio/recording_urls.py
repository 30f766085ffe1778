"""Where a Twilio recording's media is fetched: from the Twilio API we are configured
for, by the ids we checked, never from a host a callback names."""

from __future__ import annotations

from urllib.parse import urlsplit

from telephony.twilio.config import TwilioSettings
from telephony.twilio.errors import RecordingRefused, TwilioNotConfigured
from telephony.twilio.ids import require_sid

TWILIO_API = "https://api.twilio.com"


def recording_resource(twilio: TwilioSettings, recording_sid: str) -> str:
    """The recording's URL on our Twilio API; its media is this plus ``.wav``."""
    if twilio.account_sid is None:
        raise TwilioNotConfigured("CALLCENTER_TWILIO_ACCOUNT_SID is not set")
    account = require_sid("AccountSid", twilio.account_sid)
    sid = require_sid("RecordingSid", recording_sid)
    base = (twilio.api_base_url or TWILIO_API).rstrip("/")
    return f"{base}/2010-04-01/Accounts/{account}/Recordings/{sid}"


def check_recording_url(twilio: TwilioSettings, url: str, recording_sid: str) -> None:
    """A callback's RecordingUrl must be exactly this recording of our account, on our API
    or on Twilio's own: with a regional edge configured, callbacks still name the latter.
    The media is fetched from our API whatever the callback names."""
    expected = urlsplit(recording_resource(twilio, recording_sid))
    hosts = {
        (expected.scheme.lower(), expected.netloc.lower()),
        tuple(urlsplit(TWILIO_API)[:2]),
    }
    given = urlsplit(url)
    if (given.scheme.lower(), given.netloc.lower()) not in hosts or (
        given.path,
        given.query,
        given.fragment,
    ) != (expected.path, "", ""):
        raise RecordingRefused(
            "RecordingUrl is not this recording of our account on the Twilio API we use",
            details={"field": "RecordingUrl"},
        )
