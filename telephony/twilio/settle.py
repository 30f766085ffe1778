"""Twilio calls whose end never reached us, settled from Twilio's REST API.

A call's end comes as a status callback, and Twilio sends it once: a callback the service
could not take (the database or Redis away for a moment, every process restarting) is
lost. The call then stays live in the log: its agent on it, taken for no other call, or a
caller who left still waiting, offered to one agent after another. The SIP channel has
its endpoints' marks for this (``telephony.sip.recovery``); Twilio has the call itself,
which its REST API reads.
"""

from __future__ import annotations

import math
from collections.abc import Container
from datetime import timedelta
from typing import cast

import redis
import structlog
from sqlmodel import Session

from core.bus import as_text
from core.types import Clock
from telephony import calls, services
from telephony.constants import TWILIO_SETTLE_CHECKED
from telephony.enums import CallChannel, ProviderStatus
from telephony.services import ProviderCall
from telephony.switchboard import Switchboard
from telephony.twilio.errors import TwilioError
from telephony.twilio.rest import TwilioCalls

log = structlog.get_logger(__name__)

SETTLE_AFTER_SECONDS = 60
"""A call younger than this is not asked about: its end, if it has come, is on its way (a
status callback comes as the call ends)."""
CALLBACK_GRACE_SECONDS = 30
"""A call Twilio says ended less than this long ago is left to its status callback, which
Twilio sends as the call ends: asked again next sweep, and ended then if it is still live."""
RECHECK_SECONDS = 60
"""How often one live call is asked about, at most (give or take ``SWEEP_SLACK_SECONDS``:
sweeps come every 30 s, each starting a little late or early)."""
SWEEP_SLACK_SECONDS = 5
BATCH = 30
"""Calls asked about in one sweep: those due longest first (asked longest ago, or never
asked and older), so that a floor with more live calls than this has each asked in turn,
at an even pace for Twilio's API."""


def settle_ended_calls(
    session: Session,
    board: Switchboard,
    *,
    twilio: TwilioCalls,
    clock: Clock,
    batch: int = BATCH,
) -> list[str]:
    """Ask Twilio about live calls not asked about for ``RECHECK_SECONDS``; those it says
    ended ``CALLBACK_GRACE_SECONDS`` ago or more are ended here as their status callback
    would have ended them (the caller who left a queue has abandoned, an agent on the call
    goes to wrap-up). The ids of the calls ended.

    Twilio's errors (unreachable, refusing the credentials, rate limiting) end the sweep
    with nothing more asked: the next one asks again. A call Twilio does not know (another
    account's SID) is left as it is."""
    now = clock()
    settled = now.timestamp() - SETTLE_AFTER_SECONDS
    live = {
        call.call_id: call
        for call in services.live_provider_calls(session, channel=CallChannel.TWILIO)
        if call.ringing_at.timestamp() < settled
    }
    store = board.events.client
    asked, gone = _asked(store, live)
    if gone:
        store.hdel(TWILIO_SETTLE_CHECKED, *gone)

    def due_since(call_id: str) -> float:
        """When the call was first due, or due again since it was last asked."""
        if call_id in asked:
            return asked[call_id] + RECHECK_SECONDS - SWEEP_SLACK_SECONDS
        return live[call_id].ringing_at.timestamp() + SETTLE_AFTER_SECONDS

    due = sorted((c for c in live if due_since(c) <= now.timestamp()), key=due_since)
    grace = now - timedelta(seconds=CALLBACK_GRACE_SECONDS)
    ended: list[str] = []
    for call_id in due[:batch]:
        call = live[call_id]
        session.commit()  # no transaction held while Twilio answers
        try:
            said = twilio.status_of(call.provider_id)
        except TwilioError as exc:
            log.warning("twilio calls left unsettled: twilio did not answer", error=str(exc))
            break
        status = None if said is None else _status(said.status)
        if said is None:
            log.warning("a live call twilio does not know is left as it is", call=call_id)
        elif status is not None and services.ends_call(status):
            # A call that never connected has no end time: its last change is its end.
            ended_at = said.ended_at or said.changed_at
            if ended_at is not None and ended_at > grace:
                continue  # ended a moment ago: its callback's turn; asked again next sweep
            try:
                over = _end(session, board, call, status, clock)
            except Exception:  # one call that cannot be ended must not stop the others
                session.rollback()
                log.exception(
                    "a twilio call twilio says has ended could not be ended", call=call_id
                )
                over = False
            if over:
                log.warning("a twilio call whose end never reached us is ended", call=call_id)
                ended.append(call_id)
                store.hdel(TWILIO_SETTLE_CHECKED, call_id)
                continue
        store.hset(TWILIO_SETTLE_CHECKED, call_id, str(now.timestamp()))
    session.commit()
    return ended


def _asked(store: redis.Redis, live: Container[str]) -> tuple[dict[str, float], list[str]]:
    """When each live call was last asked about (an unreadable entry: never), and the
    entries to drop (calls no longer live, and unreadable entries)."""
    # redis-py types the sync client's replies as ``Awaitable | Any``.
    read = cast("dict[str | bytes, str | bytes]", store.hgetall(TWILIO_SETTLE_CHECKED))
    asked: dict[str, float] = {}
    gone: list[str] = []
    for key, raw in read.items():
        call_id = as_text(key)
        try:
            at = float(raw)
        except ValueError:
            at = math.nan
        if call_id in live and math.isfinite(at):
            asked[call_id] = at
        else:
            gone.append(call_id)
    return asked, gone


def _end(
    session: Session, board: Switchboard, call: ProviderCall, status: ProviderStatus, clock: Clock
) -> bool:
    """End the call as its status callback would; whether it is over now."""
    ended = calls.provider_status(
        session,
        board,
        provider_id=call.provider_id,
        status=status,
        sequence_number=None,
        clock=clock,
    )
    return ended is not None and ended.ended_at is not None


def _status(said: str) -> ProviderStatus | None:
    try:
        return ProviderStatus(said)
    except ValueError:
        log.warning("twilio gave a call status we do not know", status=said)
        return None
