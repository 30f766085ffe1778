"""The legs rung for a call's agents, each with the offer it rang for: what stops them
ringing once the ACD has moved the call on, or the call has ended (the SIP endpoint stops
its own legs in the call's thread)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import redis
import structlog

from core.bus import as_text
from telephony.acd import Offer
from telephony.constants import (
    TWILIO_CANCELLING_LEG,
    TWILIO_CANCELLING_LEG_SECONDS,
    TWILIO_RINGING_CALLS,
    TWILIO_RINGING_LEGS,
    TWILIO_RINGING_LEGS_TTL_SECONDS,
)
from telephony.twilio.errors import TwilioError, TwilioRateLimited
from telephony.twilio.rest import TwilioCalls

log = structlog.get_logger(__name__)


def note(client: redis.Redis, call_id: str, leg: str, offered_at: datetime) -> dict[str, datetime]:
    """Note ``leg``, rung for the call's offer made at ``offered_at``; every leg noted for
    the call is returned with its offer's time, this one's included. Read and written at
    once (MULTI), so of two jobs noting together the second sees the first's leg."""
    key = TWILIO_RINGING_LEGS.format(call_id=call_id)
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(key)
    pipe.hset(key, leg, offered_at.isoformat())
    pipe.expire(key, TWILIO_RINGING_LEGS_TTL_SECONDS)
    pipe.sadd(TWILIO_RINGING_CALLS, call_id)
    noted = cast("dict[str | bytes, str | bytes]", pipe.execute()[0])
    return {**_times(noted), leg: offered_at}


def _times(noted: dict[str | bytes, str | bytes]) -> dict[str, datetime]:
    return {as_text(sid): datetime.fromisoformat(as_text(at)) for sid, at in noted.items()}


def over(legs: dict[str, datetime], live: Offer | None) -> list[str]:
    """The legs not rung for ``live``, the call's live offer (None: no offer is live; a
    consultation rings a colleague, not an agent for the call)."""
    ringing = live.offered_at if live is not None and not live.consult else None
    return sorted(sid for sid, at in legs.items() if at != ringing)


def forget(client: redis.Redis, call_id: str, leg: str) -> None:
    """The leg was answered, or Twilio said it ended: there is no ringing to stop."""
    client.hdel(TWILIO_RINGING_LEGS.format(call_id=call_id), leg)


def noted(client: redis.Redis, call_id: str) -> dict[str, datetime]:
    """The call's legs that may still ring, each with its offer's time."""
    key = TWILIO_RINGING_LEGS.format(call_id=call_id)
    return _times(cast("dict[str | bytes, str | bytes]", client.hgetall(key)))


def ringing_calls(client: redis.Redis) -> list[str]:
    """The calls that have legs noted, or had them until lately."""
    members = cast("set[str | bytes]", client.smembers(TWILIO_RINGING_CALLS))
    return sorted(as_text(call_id) for call_id in members)


_LET_GO = (
    "if redis.call('exists', KEYS[1]) == 0 then"
    " return redis.call('srem', KEYS[2], ARGV[1]) end return 0"
)
"""Atomic, so that a leg noted meanwhile keeps its call in the index."""


def let_go(client: redis.Redis, call_id: str) -> None:
    """Take the call out of the index once no leg of it is noted."""
    legs = TWILIO_RINGING_LEGS.format(call_id=call_id)
    client.eval(_LET_GO, 2, legs, TWILIO_RINGING_CALLS, call_id)


def cancel(client: redis.Redis, calls: TwilioCalls, call_id: str, legs: list[str]) -> bool:
    """Ask Twilio to stop each leg ringing (one answered meanwhile goes on: Twilio's cancel
    stops only a leg not yet answered). A leg is forgotten once Twilio has answered for it,
    done or refused (it ended meanwhile); one Twilio could not be asked about stays noted
    for the offer sweep to try again. False, and the rest left, once Twilio is out of
    reach: waiting out its timeout for each leg would hold up the sweep. A leg another
    step is cancelling now is left to it."""
    for leg in legs:
        claim = TWILIO_CANCELLING_LEG.format(leg=leg)
        if not client.set(claim, "1", nx=True, ex=TWILIO_CANCELLING_LEG_SECONDS):
            continue
        try:
            calls.cancel(leg)
        except TwilioError as exc:
            status = exc.details.get("twilio_status")
            if not isinstance(status, int) or status >= 500 or isinstance(exc, TwilioRateLimited):
                log.warning("agent's leg not cancelled yet", call=call_id, leg=leg, error=str(exc))
                client.delete(claim)
                return False
            log.info("agent's leg not cancelled: refused", call=call_id, leg=leg, error=str(exc))
        except BaseException:
            client.delete(claim)  # not cancelled: the next try must not wait out the claim
            raise
        else:
            log.info("agent's leg cancelled: its offer is over", call=call_id, leg=leg)
        forget(client, call_id, leg)
    return True


def drop(client: redis.Redis, call_id: str) -> None:
    """Nothing more is kept for the call: its entry could not be read."""
    client.delete(TWILIO_RINGING_LEGS.format(call_id=call_id))
