"""Redis keys owned by the composition root."""

WORKER_HEARTBEAT = "callcenter:worker:heartbeat"
EVENTS_STREAM = "callcenter:events"
