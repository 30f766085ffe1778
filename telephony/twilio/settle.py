"""Twilio calls whose end never reached us, settled from Twilio's REST API.

A call's end comes as a status callback, and Twilio sends it once: a callback the service
could not take (the database or Redis away for a moment, every process restarting) is
lost. The call then stays live in the log: its agent on it, taken for no other call, or a
caller who left still waiting, offered to one agent after another. The SIP channel has
its endpoints' marks for this (``telephony.sip.recovery``); Twilio has the call itself,
which its REST API reads.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Container
from datetime import datetime, timedelta
from typing import cast

import redis
import structlog
from redis.exceptions import LockError
from sqlmodel import Session

from core.bus import as_text
from core.db import DatabaseBusy
from core.types import Clock
from telephony import calls, services
from telephony.constants import TWILIO_SETTLE_CHECKED, TWILIO_SETTLE_LOCK
from telephony.enums import CallChannel, ProviderStatus
from telephony.services import ProviderCall
from telephony.switchboard import Switchboard
from telephony.twilio.errors import (
    TwilioAccountInactive,
    TwilioAuthFailed,
    TwilioError,
    TwilioRateLimited,
)
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
UNTOLD_RECHECK_MAX_SECONDS = 300
"""A call Twilio does not know, or refuses to tell of, is asked about again after 2 and 4
minutes, then every 5: such an answer rarely changes from one minute to the next (a SID of
another account, a call this account may not read), and each ask was a request to Twilio
and a warning in the log every minute for as long as the call stayed live. No longer than
5 minutes: once the cause is mended (the account's SID set right), a hang-up this call
lost is still found within minutes, not after an agent sat on it for half an hour."""
SWEEP_SLACK_SECONDS = 5
SWEEP_BUDGET_SECONDS = 25
"""A sweep asks no more once it has run this long (a slow Twilio, its rate limits): the
next sweep comes 30 s after this one began."""
LOCK_SECONDS = 120
"""How long one sweep holds the others off at most (a worker that died mid-sweep)."""
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
    would have ended them, at the time Twilio gives (the caller who left a queue has
    abandoned, an agent on the call goes to wrap-up). The ids of the calls ended. One
    sweep at a time: another under way, this one asks nothing.

    Errors of Twilio's or of our account (unreachable, failing, refusing the credentials,
    rate limiting) end the sweep with nothing more asked: the next one asks again. A call
    Twilio refuses to tell of, or does not know (another account's SID), is left as it is
    and asked again later each time (``UNTOLD_RECHECK_MAX_SECONDS``)."""
    store = board.events.client
    # Two workers' sweeps, or one that ran long beside the next, would ask the same calls.
    lock = store.lock(TWILIO_SETTLE_LOCK, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return []
    try:
        return _settle(session, board, store, twilio=twilio, clock=clock, batch=batch)
    finally:
        with contextlib.suppress(LockError):
            lock.release()


def _settle(
    session: Session,
    board: Switchboard,
    store: redis.Redis,
    *,
    twilio: TwilioCalls,
    clock: Clock,
    batch: int,
) -> list[str]:
    now = clock()
    settled = now.timestamp() - SETTLE_AFTER_SECONDS
    live = {
        call.call_id: call
        for call in services.live_provider_calls(session, channel=CallChannel.TWILIO)
        if call.ringing_at.timestamp() < settled
    }
    asked, gone = _asked(store, live)
    if gone:
        store.hdel(TWILIO_SETTLE_CHECKED, *gone)

    def due_since(call_id: str) -> float:
        """When the call was first due, or due again since it was last asked."""
        if call_id in asked:
            at, untold = asked[call_id]
            return at + _recheck_seconds(untold) - SWEEP_SLACK_SECONDS
        return live[call_id].ringing_at.timestamp() + SETTLE_AFTER_SECONDS

    due = sorted((c for c in live if due_since(c) <= now.timestamp()), key=due_since)
    grace = now - timedelta(seconds=CALLBACK_GRACE_SECONDS)
    ended: list[str] = []
    for call_id in due[:batch]:
        if (clock() - now).total_seconds() >= SWEEP_BUDGET_SECONDS:
            break
        call = live[call_id]
        untold = asked[call_id][1] + 1 if call_id in asked else 1  # if Twilio tells nothing
        again = _recheck_seconds(untold)
        session.commit()  # no transaction held while Twilio answers
        try:
            said = twilio.status_of(call.provider_id)
        except TwilioError as exc:
            if _about_twilio(exc):
                log.warning(
                    "twilio calls left unsettled: twilio refused the account or did not answer",
                    error=str(exc),
                    cause=exc.error_id,
                )
                break
            log.warning(
                "twilio refused to say what became of a call",
                call=call_id,
                error=str(exc),
                asked_again_in_s=again,
            )
            said = None
        else:
            if said is None:
                log.warning(
                    "a live call twilio does not know is left as it is",
                    call=call_id,
                    asked_again_in_s=again,
                )
        status = None if said is None else _status(said.status)
        if said is not None and status is not None and services.ends_call(status):
            # A call that never connected has no end time: its last change is its end.
            ended_at = said.ended_at or said.changed_at or now
            if ended_at > grace:
                continue  # ended a moment ago: its callback's turn; asked again next sweep
            # The call ended when Twilio says, not when we learnt of it; never before it
            # rang, on our clock: every step of the end is written at this moment. (The
            # logged end is also kept after its answer, queueing and bridge, whatever the
            # clock: ``services.apply_provider_status``.)
            at = min(now, max(ended_at, call.ringing_at))
            if _ended(session, board, call, status, at):
                ended.append(call_id)
                store.hdel(TWILIO_SETTLE_CHECKED, call_id)
                continue
        store.hset(TWILIO_SETTLE_CHECKED, call_id, _mark(now, 0 if said is not None else untold))
    session.commit()
    return ended


def untold_calls(store: redis.Redis) -> int:
    """How many live Twilio calls Twilio told nothing of the last time they were asked
    about (a SID it does not know, a refusal): a hang-up such a call lost is not found."""
    # redis-py types the sync client's replies as ``Awaitable | Any``.
    read = cast("list[str | bytes]", store.hvals(TWILIO_SETTLE_CHECKED))
    return sum(1 for raw in read if _read_mark(raw)[1] > 0)


def _mark(asked_at: datetime, untold: int) -> str:
    """The sweep's entry for a call: when it was asked about, and how many times in a row
    Twilio has told nothing of it (left out when none, as entries before the count were)."""
    return f"{asked_at.timestamp()}|{untold}" if untold else str(asked_at.timestamp())


def _read_mark(raw: str | bytes) -> tuple[float, int]:
    """An entry as :func:`_mark` wrote it; an unreadable one (NaN, a negative count) reads
    as never asked."""
    when, _, times = as_text(raw).partition("|")
    try:
        at, untold = float(when), int(times or 0)
    except ValueError:
        return math.nan, 0
    return (at, untold) if math.isfinite(at) and untold >= 0 else (math.nan, 0)


def _recheck_seconds(untold: int) -> int:
    """How long after it was asked a call is due again, when Twilio told nothing of it the
    last ``untold`` times in a row (see ``UNTOLD_RECHECK_MAX_SECONDS``)."""
    return min(RECHECK_SECONDS << min(untold, 8), UNTOLD_RECHECK_MAX_SECONDS)


def _about_twilio(error: TwilioError) -> bool:
    """Whether an error speaks of Twilio or our account (unreachable or failing, refusing
    the credentials or the suspended account, rate limiting), not of the one call asked
    about (another refusal): the sweep stops."""
    if isinstance(error, TwilioAuthFailed | TwilioAccountInactive | TwilioRateLimited):
        return True
    status = error.details.get("twilio_status")
    return not isinstance(status, int) or status >= 500  # no answer at all, or Twilio's fault


def _asked(
    store: redis.Redis, live: Container[str]
) -> tuple[dict[str, tuple[float, int]], list[str]]:
    """When each live call was last asked about, and how many times in a row Twilio has
    told nothing of it (an unreadable entry: never asked), and the entries to drop (calls
    no longer live, and unreadable entries)."""
    # redis-py types the sync client's replies as ``Awaitable | Any``.
    read = cast("dict[str | bytes, str | bytes]", store.hgetall(TWILIO_SETTLE_CHECKED))
    asked: dict[str, tuple[float, int]] = {}
    gone: list[str] = []
    for key, raw in read.items():
        call_id = as_text(key)
        at, untold = _read_mark(raw)
        if call_id in live and math.isfinite(at):
            asked[call_id] = (at, untold)
        else:
            gone.append(call_id)
    return asked, gone


def _ended(
    session: Session, board: Switchboard, call: ProviderCall, status: ProviderStatus, at: datetime
) -> bool:
    """End the call as its status callback would have, at ``at``; whether it is over now.
    A call that cannot be ended is logged and waits its turn: one call must not stop the
    others. A database too busy stops the sweep (the next one tries again)."""
    try:
        over = calls.provider_status(
            session,
            board,
            provider_id=call.provider_id,
            status=status,
            sequence_number=None,
            clock=lambda: at,
        )
    except DatabaseBusy:
        session.rollback()
        raise
    except Exception:
        session.rollback()
        log.exception(
            "a call twilio says has ended could not be ended, or its clean-up failed",
            call=call.call_id,
        )
        return False
    if over is None or over.ended_at is None:
        log.warning("a call twilio says has ended was not found to end", call=call.call_id)
        return False
    log.warning("a twilio call whose end never reached us is ended", call=call.call_id)
    return True


def _status(said: str) -> ProviderStatus | None:
    try:
        return ProviderStatus(said)
    except ValueError:
        log.warning("twilio gave a call status we do not know", status=said)
        return None
