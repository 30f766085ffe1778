"""Twilio's ids, checked by their format wherever one arrives from outside.

A SID is two letters naming its kind and 32 hex digits; anything else did not come from
Twilio, and must never reach a query, a file name or a URL.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import StringConstraints

from telephony.twilio.errors import InvalidTwilioId

SidName = Literal["CallSid", "StreamSid", "RecordingSid", "AccountSid"]

PATTERNS: dict[SidName, str] = {
    "CallSid": r"^CA[0-9a-fA-F]{32}$",
    "StreamSid": r"^MZ[0-9a-fA-F]{32}$",
    "RecordingSid": r"^RE[0-9a-fA-F]{32}$",
    "AccountSid": r"^AC[0-9a-fA-F]{32}$",
}

CallSid = Annotated[str, StringConstraints(pattern=PATTERNS["CallSid"])]
StreamSid = Annotated[str, StringConstraints(pattern=PATTERNS["StreamSid"])]
AccountSid = Annotated[str, StringConstraints(pattern=PATTERNS["AccountSid"])]


def require_sid(name: SidName, value: str) -> str:
    if not re.fullmatch(PATTERNS[name], value):
        raise InvalidTwilioId(
            f"{name} is not a Twilio {name}: two letters and 32 hex digits",
            details={"field": name},
        )
    return value
