"""Per-call grants for Media Streams.

Twilio signs a stream's handshake over the stream URL alone, the same URL for every
stream, so whoever saw one handshake can replay it for ever. Our TwiML therefore gives
each call's stream a token of its own, which Twilio sends back in the stream's ``start``
frame (a ``<Parameter>`` of the ``<Stream>``: Twilio does not allow a query string in a
stream URL): the call it is for and when it expires, authenticated with the service's
secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime

STREAM_TOKEN_SECONDS = 300
"""Twilio opens the stream as it runs the TwiML that carries the token, within seconds."""
_PURPOSE = b"twilio-media-stream"
_TOKEN = re.compile(r"([0-9a-f]{32})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


class InvalidStreamToken(Exception):
    pass


def issue_stream_token(secret: str, *, call_id: str, now: datetime) -> str:
    expires = int(now.timestamp()) + STREAM_TOKEN_SECONDS
    claim = f"{call_id}.{expires}"
    return f"{claim}.{_mac(secret, claim)}"


def verify_stream_token(secret: str, token: str, *, now: datetime) -> str:
    """The id of the call the token was issued for, if it is genuine and not expired."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidStreamToken("malformed stream token")
    call_id, expires, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(secret, f"{call_id}.{expires}")):
        raise InvalidStreamToken("stream token not issued by us")
    if now.timestamp() >= int(expires):
        raise InvalidStreamToken("stream token expired")
    return call_id


def _mac(secret: str, claim: str) -> str:
    # A key of its own for this purpose: a stream token can never pass for any other
    # token signed with the secret key, nor the other way round.
    key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(key, claim.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
