"""Every Redis key the telephony package writes, in one place."""

AGENTS = "callcenter:presence:agents"
AGENT = "callcenter:presence:agent:{agent_id}"
AVAILABLE = "callcenter:presence:available:{queue}"
PRESENCE_CHANGES = "callcenter:presence:changes"
QUEUE_CONFIG = "callcenter:acd:queue-config:{queue}"
QUEUES = "callcenter:acd:queues"
WAITING = "callcenter:acd:waiting:{queue}"
QUEUED_CALL = "callcenter:acd:call:{call_id}"
OFFERS = "callcenter:acd:offers"
OFFER = "callcenter:acd:offer:{call_id}"
LAST_SERVED = "callcenter:acd:last-served:{queue}"
STATS = "callcenter:acd:stats:{queue}:{day}"
ACD_LOCK = "callcenter:acd:lock"
ARRIVALS = "callcenter:acd:arrivals"
ENDED_CALL = "callcenter:acd:ended:{call_id}"
ENDED_CALL_TTL_SECONDS = 600
LOST_CALLS = "callcenter:acd:lost"
LEFT_ON_CALLS = "callcenter:acd:left-on-calls"
"""Agents the ACD has on a call that the log shows waiting or ringing another: since when."""
HEARD = "callcenter:acd:heard:{call_id}"
HEARD_TTL_SECONDS = 30
"""A waiting caller asks about their wait every few seconds (Twilio's wait loop: ten)."""
POP = "callcenter:telephony:pop:{call_id}"
MEDIA_STREAM = "callcenter:telephony:media-stream:{call_id}"
POP_TTL_SECONDS = 4 * 3600
TWILIO_AGENT_PARKED = "callcenter:twilio:agent-parked:{call_id}"
TWILIO_STEERED = "callcenter:twilio:steered:{event_id}"
TWILIO_RINGING_LEGS = "callcenter:twilio:ringing-legs:{call_id}"
"""The legs rung for a call's agents: each SID with the offer it rang for (its time).
Cancelled when the call moves on to another offer, or ends."""
TWILIO_RINGING_LEGS_TTL_SECONDS = 4 * 3600
TWILIO_RINGING_CALLS = "callcenter:twilio:ringing-calls"
"""The calls with legs noted in ``TWILIO_RINGING_LEGS``: what the offer sweep looks at."""
TWILIO_CANCELLING_LEG = "callcenter:twilio:cancelling-leg:{leg}"
"""Taken by the step that asks Twilio to cancel the leg: steps that find it ringing at
the same moment (the agent's release from the offer, the hang-up, the offer sweep) ask
once between them."""
TWILIO_CANCELLING_LEG_SECONDS = 60
"""Longer than one cancel may wait for Twilio: 4 tries of up to 10 s, 3.5 s of back-off
between them for its rate limit. Kept after a cancel Twilio answered, so that a step that
read the leg before it was forgotten does not ask again; let go at once when the cancel
failed otherwise, for the sweep to try again."""
EARLY_END = "callcenter:telephony:early-end:{provider_id}"
TWILIO_SETTLE_CHECKED = "callcenter:twilio:settle-checked"
"""Live Twilio calls asked about at Twilio's REST API: when each was last asked, and how
many times in a row Twilio told nothing of it (``when|times``; ``when`` alone: none)."""
TWILIO_SETTLE_LOCK = "callcenter:twilio:settle-lock"
"""Held by the sweep asking Twilio about live calls: one at a time."""
REPAIRS = "callcenter:telephony:repairs"
"""How many repairs of each kind the worker's sweeps made (``telephony.repairs``)."""
