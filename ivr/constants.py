"""Redis keys of the IVR."""

SESSION_KEY = "callcenter:ivr:session:{call_id}"
SESSION_TTL_SECONDS = 4 * 3600
