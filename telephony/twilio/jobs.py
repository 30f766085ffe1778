"""Background jobs of the Twilio channel (run by the arq worker)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import redis
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from orders import User
from recordings import RecordingKind, describe, recording_path
from telephony.acd import Acd, Offer
from telephony.calls import end_consult, reconcile_dials
from telephony.constants import TWILIO_AGENT_PARKED
from telephony.enums import CallState
from telephony.events import (
    CallConsultAnswered,
    CallConsultCompleted,
    CallConsultEnded,
    CallHangUp,
    CallHeld,
    CallResumed,
)
from telephony.models import Call
from telephony.repairs import Repair, count_repairs
from telephony.routing import (
    agent_missed,
    expire_offers,
    log_out_deactivated_agents,
    offer_waiting_calls,
    release_agents_left_on_calls,
    requeue_lost_calls,
    withdraw_ended_calls,
)
from telephony.services import get_call, keep_recording, lock_call
from telephony.switchboard import Switchboard
from telephony.twilio import ringing_legs, twiml
from telephony.twilio.config import TwilioSettings
from telephony.twilio.dialer import (
    dial_due_surveys,
    dial_for_agent,
    send_due_sms_surveys,
)
from telephony.twilio.errors import TwilioError, map_httpx_errors
from telephony.twilio.ids import require_sid
from telephony.twilio.recording_urls import recording_resource
from telephony.twilio.rest import OutboundCall, TwilioCalls
from telephony.twilio.settle import settle_ended_calls

log = structlog.get_logger(__name__)

PARKED_TTL_SECONDS = 12 * 3600
"""Longer than any call is held; the mark of a call that ended parked then goes by itself."""


def recording_job_id(recording_sid: str) -> str:
    """One job per Twilio recording, however often Twilio retries its callback."""
    return f"twilio-recording:{recording_sid}"


async def fetch_twilio_recording(
    ctx: dict[str, Any], *, call_id: str, recording_sid: str, kind: str = RecordingKind.CALL
) -> str:
    """Download a finished Twilio recording of one of our calls as WAV into the recordings
    directory, from our Twilio API (a redirect it answers with is followed); ``kind``: the
    whole call, or a caller's voicemail (jobs queued before it was named are the call's)."""
    twilio: TwilioSettings = ctx["twilio"]
    media_url = recording_resource(twilio, require_sid("RecordingSid", recording_sid))

    def find_call() -> Call:
        with ctx["sessions"]() as session:
            return get_call(session, call_id=call_id)

    call = await run_in_threadpool(find_call)
    target = recording_path(ctx["recordings_dir"], f"{call.id}-{recording_sid}", at=call.ringing_at)
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    token = twilio.auth_token
    auth = (twilio.account_sid or "", token.get_secret_value() if token else "")
    with map_httpx_errors(f"fetch recording {recording_sid}"):
        async with (
            httpx.AsyncClient(timeout=60, follow_redirects=True) as client,
            client.stream("GET", f"{media_url}.wav", auth=auth) as response,
        ):
            response.raise_for_status()
            with part.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    handle.write(chunk)
                os.fsync(handle.fileno())
    os.replace(part, target)
    finished = await run_in_threadpool(describe, target)

    def register() -> None:
        with ctx["sessions"]() as session:
            keep_recording(
                session, call=call, wav=finished, kind=RecordingKind(kind), clock=ctx["clock"]
            )

    await run_in_threadpool(register)
    log.info("twilio recording stored", call=call.id, recording=recording_sid)
    return str(target)


async def ring_twilio_agent(
    ctx: dict[str, Any], *, call_id: str, agent_id: int, offered_at: str
) -> str | None:
    """Ring the offered agent's Twilio client (or SIP address); a failure moves the offer on.

    A job can run late (a worker restarted, Redis came back): it rings only while this very
    offer is live in the ACD (a hang-up or a decline drops it), for an active agent. The
    call's row may still say "queued": the offer is published before its request commits.
    """
    board: Switchboard = ctx["switchboard"]

    def move_on(session: Session) -> None:
        agent_missed(session, acd=board.acd, call_id=call_id, agent_id=agent_id)

    return await _ring(
        ctx,
        call_id=call_id,
        agent_id=agent_id,
        offered_at=offered_at,
        consult=False,
        on_failure=move_on,
    )


async def ring_twilio_consultant(
    ctx: dict[str, Any], *, call_id: str, agent_id: int, offered_at: str
) -> str | None:
    """Ring the colleague an agent consults (attended transfer) while this very
    consultation is on; a failure ends it, and the caller is back with the agent."""

    def give_up(session: Session) -> None:
        end_consult(session, ctx["switchboard"], call_id=call_id, clock=ctx["clock"])

    return await _ring(
        ctx,
        call_id=call_id,
        agent_id=agent_id,
        offered_at=offered_at,
        consult=True,
        on_failure=give_up,
    )


async def _ring(
    ctx: dict[str, Any],
    *,
    call_id: str,
    agent_id: int,
    offered_at: str,
    consult: bool,
    on_failure: Callable[[Session], None],
) -> str | None:
    acd: Acd = ctx["switchboard"].acd
    leg = "consult" if consult else "agent"  # whose webhooks answer the leg

    def check() -> OutboundCall | None:
        offer = acd.current_offer(call_id)
        live = (
            offer is not None
            and offer.consult == consult
            and offer.agent_id == agent_id
            and offer.offered_at == datetime.fromisoformat(offered_at)
        )
        with ctx["sessions"]() as session:
            call = get_call(session, call_id=call_id)
            # A deactivated agent is logged out by the next sweep; it is not rung meanwhile.
            user = session.get(User, agent_id)
            if not live or call.state is CallState.ENDED or user is None or not user.is_active:
                return None
            base = (ctx["public_url"] or "").rstrip("/")
            # The offer rung for goes with the leg: its status, however late, speaks of it.
            query = "?" + urlencode({"call": call_id, "agent": agent_id, "offer": offered_at})
            return OutboundCall(
                to=user.extension or f"client:agent-{agent_id}",
                from_=call.to_number,
                url=f"{base}/twilio/{leg}/connect{query}",
                status_callback=f"{base}/twilio/{leg}/status{query}",
                ring_seconds=_ring_seconds(acd, offer),
            )

    outbound = await run_in_threadpool(check)
    if outbound is None:
        log.info("ring skipped: the offer is over", call=call_id, agent=agent_id, leg=leg)
        return None
    calls: TwilioCalls | None = ctx["twilio_calls"]
    if calls is None:
        raise TwilioError("Twilio credentials are not configured")
    try:
        leg_sid = await run_in_threadpool(calls.place_call, outbound)
    except TwilioError as exc:
        log.warning("could not ring agent", agent=agent_id, call=call_id, error=exc.message)

        def fail() -> None:
            with ctx["sessions"]() as session:
                on_failure(session)

        await run_in_threadpool(fail)
        return None
    if not consult:  # a consultation's own end cancels its colleague's leg
        offer_at = datetime.fromisoformat(offered_at)
        await run_in_threadpool(_note_ringing_leg, ctx, calls, call_id, leg_sid, offer_at)
    return leg_sid


def _note_ringing_leg(
    ctx: dict[str, Any],
    calls: TwilioCalls,
    call_id: str,
    leg: str,
    offered_at: datetime,
) -> None:
    """Note the leg with the offer it rings for, for the call's next steps to stop it, then
    stop every leg of the call whose offer is not the live one (this one's included):

    - the legs rung for the call's earlier offers: the ACD has moved the call on (an agent
      declined in the console, where Twilio went on ringing them);
    - this very leg, when its offer ended while Twilio placed it: the caller hung up (the
      hang-up's own step found no leg to cancel yet), or the agent declined, or a later
      offer's job finished first. Offers are told apart by the live one, not by which time
      is later: the processes that make them need not share one clock.

    The call is read held (see ``lock_call``): a hang-up publishes ``call.ended`` before it
    commits, and its step may read the legs before this one is noted; held, the read waits
    for that commit. A leg already answered (a phone that picks up at once) is forgotten.
    The leg rings either way: what fails here is logged, and an agent who answers a leg for
    an offer that is over hears that the caller has gone."""
    client = ctx["switchboard"].events.client
    acd: Acd = ctx["switchboard"].acd
    try:
        legs = ringing_legs.note(client, call_id, leg, offered_at)
        with ctx["sessions"]() as session:
            call = lock_call(session, call_id=call_id)
            live = acd.current_offer(call_id)
            if call.state is CallState.BRIDGED and call.agent_leg == leg:
                ringing_legs.forget(client, call_id, leg)
                del legs[leg]
        # Ended, though the ACD may show the offer still: a hang-up that has just committed
        # takes its offer out after.
        over = ringing_legs.over(legs, None if call.state is CallState.ENDED else live)
        ringing_legs.cancel(client, calls, call_id, over)
    except (redis.RedisError, SQLAlchemyError) as exc:
        log.warning("agent's leg placed; the call's legs not checked", call=call_id, error=str(exc))


def cancel_ringing_legs(ctx: dict[str, Any], *, call_id: str) -> None:
    """The call is over: its agents' legs still ringing stop ringing (a leg answered was
    forgotten as it was answered; its own steps hang it up). ``call.ended`` is published
    before the hang-up commits: the call is read held, and nothing is stopped should that
    commit have failed (the hang-up's retry publishes it again). Redis failing raises, for
    the step to be tried again."""
    client = ctx["switchboard"].events.client
    legs = sorted(ringing_legs.noted(client, call_id))
    calls: TwilioCalls | None = ctx["twilio_calls"]
    if not legs or calls is None:
        return
    with ctx["sessions"]() as session:
        if lock_call(session, call_id=call_id).state is not CallState.ENDED:
            return
    ringing_legs.cancel(client, calls, call_id, legs)


def steer_consultation(
    ctx: dict[str, Any], *, call_id: str, event: str, data: dict[str, Any]
) -> None:
    """An attended transfer's legs: the agent joins the colleague in a conference room
    once they answer; on completion the colleague's leg is bridged to the caller and the
    agent's hung up; a consultation that ends hangs up the colleague's leg (the agent's is
    bridged to the caller again on ``call.resumed``)."""
    client: TwilioCalls | None = ctx["twilio_calls"]
    if client is None:
        log.warning("cannot steer the consultation: Twilio is not configured", call=call_id)
        return
    with ctx["sessions"]() as session:
        call = get_call(session, call_id=call_id)
    steps: list[tuple[str | None, str]] = []
    if event == CallConsultAnswered.name:
        steps = [(call.agent_leg, twiml.consult_room(call_id))]
    elif event == CallConsultCompleted.name:
        _unpark(ctx, call_id)  # the parked leg is hung up, the colleague's bridged
        steps = [
            (data.get("agent_leg"), twiml.connect_agent(call_id)),
            (data.get("from_agent_leg"), twiml.hangup()),
        ]
    elif event == CallConsultEnded.name:
        steps = [(data.get("consult_leg"), twiml.hangup())]
    for leg, instructions in steps:
        if leg is None:
            continue
        try:
            client.steer(leg, twiml=instructions)
        except TwilioError as exc:
            log.warning("could not steer a consultation leg", call=call_id, error=str(exc))


def _ring_seconds(acd: Acd, offer: Offer | None) -> int:
    """The queue's offer timeout, or what is left of the time a taken call rings."""
    if offer is None or not offer.taken:
        return acd.config(offer.queue if offer else "").offer_timeout_seconds
    return max(1, math.ceil((offer.expires_at - acd.clock()).total_seconds()))


def steer_agent_leg(
    ctx: dict[str, Any], *, call_id: str, event: str, agent_leg: str | None = None
) -> str | None:
    """The agent's leg follows the call: parked while the caller is held, bridged to the
    caller again on resume, hung up when the caller is transferred away. The caller's leg
    then leaves the bridge, and ``/twilio/queue/done`` puts it back to waiting. A failure
    is logged: the agent still has the call and can hang up or try again.

    A hold or resume is steered by what the call is now and what its leg was last told,
    not by the event alone: steering a leg into the bridge it is in takes it out of it, and
    the caller, not held, is hung up. Events come late (a hold and a resume made before the
    worker got to either) and more than once (a worker that died before it acknowledged
    them); what was last told is kept in Redis, set and taken atomically."""
    with ctx["sessions"]() as session:
        call = get_call(session, call_id=call_id)
    leg = agent_leg or call.agent_leg
    if call.state is CallState.ENDED or leg is None:
        log.info("nothing to steer", call=call_id, event_name=event)
        return None
    client: TwilioCalls | None = ctx["twilio_calls"]
    if client is None:
        log.warning("cannot steer the agent's leg: Twilio is not configured", call=call_id)
        return None
    base = (ctx["public_url"] or "").rstrip("/")
    try:
        if event == CallHangUp.name and call.provider_id is not None:
            # The caller's leg ends first, so its status callback finishes the call as a
            # hang-up; the agent's leg follows.
            client.steer(call.provider_id, twiml=twiml.hangup())
            client.steer(leg, twiml=twiml.hangup())
        elif event in (CallHeld.name, CallResumed.name):
            return _steer_hold(ctx, client, call, leg, base=base)
        else:
            # Transferred away: the leg is hung up, parked or not, and the next agent's
            # hold parks a leg of its own.
            _unpark(ctx, call_id)
            client.steer(leg, twiml=twiml.hangup())
    except TwilioError as exc:
        log.warning(
            "could not steer the agent's leg", call=call_id, event_name=event, error=str(exc)
        )
        return None
    return leg


def _unpark(ctx: dict[str, Any], call_id: str) -> None:
    """The call's parked leg, if any, is gone (hung up or handed over)."""
    ctx["switchboard"].events.client.delete(TWILIO_AGENT_PARKED.format(call_id=call_id))


def _steer_hold(
    ctx: dict[str, Any], client: TwilioCalls, call: Call, leg: str, *, base: str
) -> str | None:
    """Park the agent's leg of a held call that is not parked yet, or bridge the parked leg
    of a call no longer held; anything else was steered already (or needs nothing)."""
    parked = TWILIO_AGENT_PARKED.format(call_id=call.id)
    store = ctx["switchboard"].events.client
    if call.held_at is not None:
        if not store.set(parked, leg, nx=True, ex=PARKED_TTL_SECONDS):
            return None
        try:
            client.steer(leg, url=f"{base}{twiml.AGENT_PARK_PATH}?call={call.id}")
        except TwilioError:
            store.delete(parked)  # not parked: the next hold tries again
            raise
        return leg
    if not store.delete(parked):
        return None
    try:
        client.steer(leg, twiml=twiml.connect_agent(call.id))
    except TwilioError:
        store.set(parked, leg, ex=PARKED_TTL_SECONDS)  # still parked: a hold and resume retry
        raise
    return leg


async def sweep_offers(ctx: dict[str, Any]) -> int:
    """Offers that rang out move on; finished wrap-ups free their agents for waiting calls;
    calls that ended and were left in the ACD leave it, waiting calls the ACD lost are
    queued again, and agents left on calls their callers have left are released.
    The fresh offers ring from the bus, like every other."""
    acd: Acd = ctx["switchboard"].acd

    def sweep() -> list[Offer]:
        acd.presence.finish_wrap_ups()
        count_repairs(acd.client, Repair.STRAY_AGENT_FREED, len(acd.release_stray_agents()))
        with ctx["sessions"]() as session:
            # Each step's repairs counted as it returns: a later step failing (Redis away
            # again) must not lose the count of those made.
            count_repairs(
                acd.client,
                Repair.ENDED_CALL_LEFT_IN_ACD,
                len(withdraw_ended_calls(session, acd=acd)),
            )
            requeued = requeue_lost_calls(session, acd=acd, clock=ctx["clock"])
            count_repairs(acd.client, Repair.LOST_CALL_REQUEUED, len(requeued))
            released = release_agents_left_on_calls(session, acd=acd, clock=ctx["clock"])
            count_repairs(acd.client, Repair.AGENT_LEFT_ON_CALL_RELEASED, len(released))
            return (
                log_out_deactivated_agents(session, acd=acd)
                + expire_offers(session, acd=acd)
                + offer_waiting_calls(session, acd=acd)
            )

    offers = await run_in_threadpool(sweep)
    await run_in_threadpool(stop_rings_of_offers_over, ctx)
    return len(offers)


def stop_rings_of_offers_over(ctx: dict[str, Any]) -> None:
    """Legs that ring for an offer that is no longer the call's live one stop ringing:
    what the steps that end an offer failed to stop (Twilio out of reach a moment, a
    worker gone before its step). Read against the ACD's live offer alone: a leg of the
    live offer rings on. The sweep serves both channels; a process without Twilio has
    nothing here."""
    calls: TwilioCalls | None = ctx.get("twilio_calls")
    if calls is None:
        return
    client = ctx["switchboard"].events.client
    acd: Acd = ctx["switchboard"].acd
    for call_id in ringing_legs.ringing_calls(client):
        if not _stop_rings_over(client, calls, acd, call_id):
            return  # Twilio out of reach: the next sweep tries again


def stop_rings_of_offer_left(ctx: dict[str, Any], *, call_id: str) -> None:
    """An agent was taken off an offer of the call unanswered (they declined it, it rang
    out, it was withdrawn): their leg stops ringing now. Declined with no one else free to
    be offered the call, no next ring would stop it, and it rang until the next sweep. A
    Twilio out of reach leaves the leg noted, for the sweep."""
    calls: TwilioCalls | None = ctx["twilio_calls"]
    if calls is None:
        return
    client = ctx["switchboard"].events.client
    _stop_rings_over(client, calls, ctx["switchboard"].acd, call_id)


def _stop_rings_over(client: redis.Redis, calls: TwilioCalls, acd: Acd, call_id: str) -> bool:
    """The call's legs that ring for an offer other than its live one are cancelled; False
    when Twilio could not be asked."""
    try:
        legs = ringing_legs.noted(client, call_id)
    except ValueError as exc:  # not ours to read: dropped, not tripped over every sweep
        log.error("unreadable ringing legs dropped", call=call_id, error=str(exc))
        ringing_legs.drop(client, call_id)
        legs = {}
    if not legs:
        ringing_legs.let_go(client, call_id)
        return True
    over = ringing_legs.over(legs, acd.current_offer(call_id))
    return ringing_legs.cancel(client, calls, call_id, over)


async def settle_twilio_calls(ctx: dict[str, Any]) -> int:
    """Live Twilio calls that Twilio says have ended (their status callback was lost) are
    ended here; nothing without the account's credentials."""
    client: TwilioCalls | None = ctx["twilio_calls"]
    if client is None:
        return 0

    def settle() -> list[str]:
        with ctx["sessions"]() as session:
            ended = settle_ended_calls(
                session, ctx["switchboard"], twilio=client, clock=ctx["clock"]
            )
        count_repairs(ctx["switchboard"].acd.client, Repair.TWILIO_CALL_SETTLED, len(ended))
        return ended

    return len(await run_in_threadpool(settle))


def twilio_calls_from(twilio: TwilioSettings) -> TwilioCalls | None:
    """The REST client of our Twilio account, or None without credentials."""
    token = twilio.auth_token
    if twilio.account_sid is None or token is None:
        return None
    return TwilioCalls(twilio.account_sid, token.get_secret_value(), base_url=twilio.api_base_url)


async def dial_surveys(ctx: dict[str, Any]) -> int:
    """Place the survey calls that are due (the outbound engine claims them)."""
    client: TwilioCalls | None = ctx["twilio_calls"]

    def dial() -> int:
        with ctx["sessions"]() as session:
            reconcile_dials(
                session, ctx["switchboard"], stale_after=ctx["claim_timeout"], clock=ctx["clock"]
            )
            if client is None or not ctx["public_url"] or ctx["dialer"] != "twilio":
                return 0
            return dial_due_surveys(
                session,
                ctx["switchboard"],
                client,
                twilio=ctx["twilio"],
                public_url=ctx["public_url"],
                clock=ctx["clock"],
            )

    return await run_in_threadpool(dial)


async def send_sms_surveys(ctx: dict[str, Any]) -> int:
    """Text the SMS surveys that are due, and close the unanswered ones past their window."""
    client: TwilioCalls | None = ctx["twilio_calls"]
    if client is None:
        return 0

    def send() -> int:
        with ctx["sessions"]() as session:
            return send_due_sms_surveys(session, client, twilio=ctx["twilio"], clock=ctx["clock"])

    return await run_in_threadpool(send)


async def ring_agent_for_callback(ctx: dict[str, Any], *, call_id: str) -> str | None:
    """The agent clicked to call a task's customer: ring the agent's phone first."""
    client: TwilioCalls | None = ctx["twilio_calls"]
    if client is None:
        raise TwilioError("Twilio credentials are not configured")

    def ring() -> str | None:
        with ctx["sessions"]() as session:
            return dial_for_agent(
                session,
                client,
                call_id=call_id,
                twilio=ctx["twilio"],
                public_url=ctx["public_url"] or "",
            )

    return await run_in_threadpool(ring)
