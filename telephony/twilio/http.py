"""Twilio webhooks: thin shells that verify, call one service, and answer TwiML."""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from core.deps import BusDep, ClockDep, SecretKeyDep, SessionDep
from core.errors import CallCenterError, ValidationFailed
from core.types import Clock
from ivr import CallerInput, Engine, store
from orders import CallerLookup
from telephony import routing, services
from telephony.acd import Acd
from telephony.deps import AcdDep, Notifier, SwitchboardDep
from telephony.enums import CallChannel, CallState, ProviderStatus
from telephony.events import CallNotifier
from telephony.exceptions import NoSuchOffer
from telephony.ivr_backend import DatabaseBackend
from telephony.models import Call
from telephony.twilio import twiml
from telephony.twilio.config import PublicUrlDep, TwilioSettingsDep
from telephony.twilio.errors import RecordingRefused
from telephony.twilio.ids import require_sid
from telephony.twilio.jobs import recording_job_id
from telephony.twilio.recording_urls import check_recording_url
from telephony.twilio.signature import TwilioParams
from telephony.twilio.stream_token import issue_stream_token

# Webhooks are for Twilio, not API clients: kept out of the OpenAPI document. A Redis
# failure under a webhook is a 503 with Retry-After, never a 500 (the app's one mapping of
# Redis errors): Twilio then retries the webhook, and every webhook is written so that a
# retry completes what the failed try left undone.
router = APIRouter(prefix="/twilio", tags=["twilio"], include_in_schema=False)
CallId = Annotated[str, Query(alias="call", min_length=1, max_length=32)]


class JobsUnavailable(CallCenterError):
    status_code = 503
    error_id = "jobs_unavailable"


AgentId = Annotated[int, Query(alias="agent", ge=1, le=2**31 - 1)]


def _queue(
    session: Session,
    call: Call,
    queue: str,
    pop: CallerLookup,
    acd: Acd,
    note: CallNotifier,
    clock: Clock,
) -> None:
    routing.queue_call(
        session,
        acd=acd,
        notifier=note,
        call=call,
        queue=queue,
        priority=routing.caller_priority(pop),
        clock=clock,
    )


def _xml(body: str) -> Response:
    return Response(body, media_type="application/xml")


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise ValidationFailed(f"Twilio parameter {name} is missing", details={"field": name})
    return value


@router.post("/voice")
def incoming_call(
    params: TwilioParams,
    session: SessionDep,
    bus: BusDep,
    board: SwitchboardDep,
    base: PublicUrlDep,
    clock: ClockDep,
    secret: SecretKeyDep,
    request: Request,
) -> Response:
    """A call arrives: log it, pop the caller's record, and answer with the IVR's first step."""
    call, pop = services.start_inbound_call(
        session,
        notifier=board.notifier,
        channel=CallChannel.TWILIO,
        provider_id=_required(params, "CallSid"),
        from_number=params.get("From", ""),
        to_number=params.get("To", ""),
        region=board.region,
        clock=clock,
    )
    services.enter_ivr(session, call=call)
    backend = DatabaseBackend(
        session, phone=call.from_number, callers=call.customer_ids, clock=clock
    )
    ivr_session, turn = Engine(board.flow, backend).start(call_id=call.id, pop=pop)
    store.save(bus, ivr_session)
    if ivr_session.queue is not None:  # a flow may route straight to an agent
        _queue(session, call, ivr_session.queue, pop, board.acd, board.notifier, clock)
    stream = twiml.MediaStreamGrant(
        url=twiml.websocket_base(base or str(request.base_url)) + twiml.MEDIA_PATH,
        token=issue_stream_token(secret, call_id=call.id, now=clock()),
    )
    return _xml(twiml.render(turn, call_id=call.id, record=True, stream=stream))


@router.post("/gather")
def gather_result(
    call_id: CallId,
    params: TwilioParams,
    session: SessionDep,
    bus: BusDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> Response:
    """The caller pressed keys, spoke, or stayed silent."""
    call = services.get_call(session, call_id=call_id)
    ivr_session = store.load(bus, call.id)
    if ivr_session is None:
        return _xml(twiml.hangup())
    given = CallerInput(
        digits=params.get("Digits", ""),
        speech=params.get("SpeechResult", ""),
        speech_confidence=_float(params.get("Confidence")),
    )
    backend = DatabaseBackend(
        session, phone=call.from_number, callers=call.customer_ids, clock=clock
    )
    ivr_session, turn = Engine(board.flow, backend).handle(ivr_session, given)
    store.save(bus, ivr_session)
    if backend.created_order_id is not None:
        services.took_order(session, call=call, order_id=backend.created_order_id)
    if ivr_session.queue is not None:
        pop = services.caller_pop(call)
        _queue(session, call, ivr_session.queue, pop, board.acd, board.notifier, clock)
    return _xml(twiml.render(turn, call_id=call.id))


@router.post("/queue/wait")
def queue_wait(call_id: CallId, _params: TwilioParams, bus: BusDep, acd: AcdDep) -> Response:
    """Played to a waiting caller in a loop: the position in our ACD's queue, then hold."""
    ivr_session = store.load(bus, call_id)
    language = ivr_session.language if ivr_session else "zh-CN"
    queue = ivr_session.queue if ivr_session else None
    position = acd.position(call_id, queue) if queue else None
    return _xml(twiml.queue_wait(position, language))


@router.post("/queue/done")
def queue_done(call_id: CallId, _params: TwilioParams) -> Response:
    """The caller left the queue (bridged and finished, hung up, or an error)."""
    return _xml(twiml.hangup())


@router.post("/recording")
def recording_status(
    call_id: CallId,
    params: TwilioParams,
    session: SessionDep,
    twilio: TwilioSettingsDep,
    request: Request,
) -> Response:
    """A recording of one of our calls is ready: fetch its media in a job, never inside
    Twilio's 15 s, and only from our Twilio API, whatever host the callback names."""
    status = params.get("RecordingStatus", "")
    if status != "completed":
        return Response(status_code=204)
    jobs = request.app.state.jobs
    if jobs is None:
        raise JobsUnavailable("background jobs are not configured; the recording was not fetched")
    recording_sid = require_sid("RecordingSid", _required(params, "RecordingSid"))
    call_sid = require_sid("CallSid", _required(params, "CallSid"))
    call = services.get_call(session, call_id=call_id)
    if call.provider_id != call_sid:
        raise RecordingRefused("the recording is of another call", details={"field": "CallSid"})
    check_recording_url(twilio, _required(params, "RecordingUrl"), recording_sid)
    enqueue = partial(
        jobs.enqueue_job,
        "fetch_twilio_recording",
        call_id=call.id,
        recording_sid=recording_sid,
        _job_id=recording_job_id(recording_sid),
    )
    anyio.from_thread.run(enqueue)
    return Response(status_code=204)


@router.post("/status")
def status_callback(
    params: TwilioParams, session: SessionDep, note: Notifier, acd: AcdDep, clock: ClockDep
) -> Response:
    """Apply CallStatus once and never backwards; Twilio retries and reorders these."""
    raw = _required(params, "CallStatus")
    try:
        status = ProviderStatus(raw)
    except ValueError as exc:
        raise ValidationFailed(f"unknown CallStatus {raw}", details={"CallStatus": raw}) from exc
    sequence = params.get("SequenceNumber", "")
    call = services.apply_provider_status(
        session,
        notifier=note,
        provider_id=_required(params, "CallSid"),
        status=status,
        sequence_number=int(sequence) if sequence.isdigit() else None,
        clock=clock,
    )
    if call.state is CallState.ENDED:
        routing.call_ended(session, acd=acd, call=call)
    return Response(status_code=204)


@router.post("/agent/connect")
def agent_connect(
    call_id: CallId,
    agent_id: AgentId,
    _params: TwilioParams,
    session: SessionDep,
    note: Notifier,
    acd: AcdDep,
    clock: ClockDep,
) -> Response:
    """The agent picked up the leg we rang: bridge them to exactly this caller."""
    try:
        routing.agent_answered(
            session, acd=acd, notifier=note, call_id=call_id, agent_id=agent_id, clock=clock
        )
    except NoSuchOffer:
        return _xml(twiml.caller_gone())
    return _xml(twiml.connect_agent(call_id))


@router.post("/agent/status")
def agent_leg_status(
    call_id: CallId,
    agent_id: AgentId,
    params: TwilioParams,
    session: SessionDep,
    acd: AcdDep,
) -> Response:
    """The agent's leg did not connect (busy, no answer, failed): the offer moves on."""
    if params.get("CallStatus") in {"busy", "no-answer", "failed", "canceled"}:
        with contextlib.suppress(NoSuchOffer):
            routing.agent_missed(session, acd=acd, call_id=call_id, agent_id=agent_id)
    return Response(status_code=204)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
