"""Redis keys of the SIP channel."""

LIVE_CALL = "callcenter:sip:live:{call_id}"
"""Set by the endpoint that carries a call and refreshed while the call lives; a key that
expires marks a call whose endpoint died with it."""
LIVE_CALL_TTL_SECONDS = 15
HEARTBEAT_SECONDS = 5
