"""Twilio calls whose end never reached us, settled from Twilio's REST API.

A call's end comes as a status callback, and Twilio sends it once: a callback the service
could not take (the database or Redis away for a moment, every process restarting) is
lost. The call then stays live in the log: its agent on it, taken for no other call, or a
caller who left still waiting, offered to one agent after another. The SIP channel has
its endpoints' marks for this (``telephony.sip.recovery``); Twilio has the call itself,
which its REST API reads.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import structlog
from sqlmodel import Session

from core.bus import as_text
from core.types import Clock
from telephony import calls, services
from telephony.constants import TWILIO_SETTLE_CHECKED
from telephony.enums import CallChannel, ProviderStatus
from telephony.switchboard import Switchboard
from telephony.twilio.errors import TwilioError
from telephony.twilio.rest import TwilioCalls

log = structlog.get_logger(__name__)

SETTLE_AFTER_SECONDS = 60
"""A call younger than this is not asked about: its end, if it has come, is on its way (a
status callback comes as the call ends)."""
RECHECK_SECONDS = 60
"""How often one live call is asked about, at most."""
BATCH = 30
"""Calls asked about in one sweep: those asked longest ago first, so that a floor with
more live calls than this has each asked in turn, at an even pace for Twilio's API."""


def settle_ended_calls(
    session: Session,
    board: Switchboard,
    *,
    twilio: TwilioCalls,
    clock: Clock,
    batch: int = BATCH,
) -> list[str]:
    """Ask Twilio about live calls not asked about for ``RECHECK_SECONDS``; those it says
    have ended are ended here as their status callback would have ended them (the caller
    who left a queue has abandoned, an agent on the call goes to wrap-up). The ids of the
    calls ended.

    Twilio's errors (unreachable, refusing the credentials, rate limiting) end the sweep
    with nothing more asked: the next one asks again. A call Twilio does not know (another
    account's SID) is left as it is."""
    now = clock()
    live = services.live_provider_ids(
        session,
        channel=CallChannel.TWILIO,
        started_before=now - timedelta(seconds=SETTLE_AFTER_SECONDS),
    )
    session.commit()  # a read only: no transaction held while Twilio answers
    store = board.events.client
    # redis-py types the sync client's replies as ``Awaitable | Any``.
    read = cast("dict[str | bytes, str | bytes]", store.hgetall(TWILIO_SETTLE_CHECKED))
    asked = {as_text(k): float(v) for k, v in read.items()}
    gone = [call_id for call_id in asked if call_id not in live]
    if gone:
        store.hdel(TWILIO_SETTLE_CHECKED, *gone)
    due = sorted(
        (
            call_id
            for call_id in live
            if asked.get(call_id, 0.0) <= now.timestamp() - RECHECK_SECONDS
        ),
        key=lambda call_id: asked.get(call_id, 0.0),
    )
    ended: list[str] = []
    for call_id in due[:batch]:
        sid = live[call_id]
        try:
            said = twilio.status_of(sid)
        except TwilioError as exc:
            log.warning("twilio calls left unsettled: twilio did not answer", error=str(exc))
            break
        store.hset(TWILIO_SETTLE_CHECKED, call_id, str(now.timestamp()))
        if said is None:
            log.warning("a live call twilio does not know is left as it is", call=call_id)
            continue
        status = _status(said)
        if status is None or not services.ends_call(status):
            continue
        call = calls.provider_status(
            session,
            board,
            provider_id=sid,
            status=status,
            sequence_number=None,
            clock=clock,
        )
        if call is not None and call.ended_at is not None:
            log.warning("a twilio call whose end never reached us is ended", call=call_id)
            ended.append(call_id)
            store.hdel(TWILIO_SETTLE_CHECKED, call_id)
    return ended


def _status(said: str) -> ProviderStatus | None:
    try:
        return ProviderStatus(said)
    except ValueError:
        log.warning("twilio gave a call status we do not know", status=said)
        return None
