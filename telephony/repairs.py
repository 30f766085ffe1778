"""What the worker's sweeps repaired, counted for the operators.

Each repair makes up for a fault elsewhere: a hang-up lost between Twilio and us, a Redis
that failed between two steps of a call, an endpoint that died. One now and then is the
system doing its job; a rising count is a sign to look at the network, Redis or the
database. The counts are kept in Redis (every worker adds to them) and read by each
service process's ``/metrics``.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import cast

import redis
import structlog

from core.bus import as_text
from telephony.constants import REPAIRS

log = structlog.get_logger(__name__)


class Repair(StrEnum):
    TWILIO_CALL_SETTLED = "twilio_call_settled"
    """A Twilio call whose end never reached us, ended from Twilio's REST API."""
    ENDED_CALL_LEFT_IN_ACD = "ended_call_left_in_acd"
    """A call that ended and stayed waiting, or ringing an agent, in the ACD."""
    LOST_CALL_REQUEUED = "lost_call_requeued"
    """A waiting caller the ACD had lost, queued again."""
    AGENT_LEFT_ON_CALL_RELEASED = "agent_left_on_call_released"
    """An agent the ACD kept on a call whose caller had left them."""
    STRAY_AGENT_FREED = "stray_agent_freed"
    """An agent left ringing for an offer that no longer exists."""
    ORPHANED_SIP_CALL_ENDED = "orphaned_sip_call_ended"
    """A SIP call whose endpoint died and never came back."""


def count_repairs(client: redis.Redis, repair: Repair, count: int) -> None:
    """Add ``count`` repairs of a kind. The repairs are done: a count Redis cannot take
    is lost, not retried."""
    if count <= 0:
        return
    try:
        client.hincrby(REPAIRS, repair.value, count)
    except redis.RedisError as exc:
        log.warning("repairs not counted", repair=repair.value, count=count, error=str(exc))


def repair_counts(client: redis.Redis) -> dict[Repair, int]:
    """Every kind of repair, with how many were made (0 for none); raises
    ``redis.RedisError`` when Redis cannot be read."""
    # redis-py types the sync client's replies as ``Awaitable | Any``.
    raw = cast("dict[str | bytes, str | bytes]", client.hgetall(REPAIRS))
    counts = dict.fromkeys(Repair, 0)
    for key, value in raw.items():
        with contextlib.suppress(ValueError):
            counts[Repair(as_text(key))] = int(value)
    return counts
