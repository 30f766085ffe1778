"""Redis keys of the SIP channel."""

LIVE_CALL = "callcenter:sip:live:{call_id}"
"""Set by the endpoint that carries a call and refreshed while the call lives; a key that
expires marks a call whose endpoint died with it."""
LIVE_CALL_TTL_SECONDS = 6
"""Short: until a dead endpoint's calls are ended, the ACD offers those still waiting to
agents that nothing rings, and each offer that rings out counts as the agent's miss (two
make the agent not ready). Three heartbeats long, so one late beat ends no live call."""
HEARTBEAT_SECONDS = 2
