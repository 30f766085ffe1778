"""Twilio webhooks: thin shells that verify, call one service, and answer TwiML."""

from __future__ import annotations

import contextlib
import re
from functools import partial
from typing import Annotated, Literal

import anyio
import redis
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from callbacks import sms_reply
from core.deps import ClockDep, SecretKeyDep, SessionDep
from core.errors import ValidationFailed
from core.routes import OneThreadRoute
from ivr import CallerInput
from orders import try_normalize_phone
from telephony import calls, services
from telephony.deps import SwitchboardDep
from telephony.enums import CallChannel, CallState, ProviderStatus
from telephony.exceptions import NoSuchOffer
from telephony.twilio import ringing_legs, twiml
from telephony.twilio.config import PublicUrlDep, TwilioSettingsDep
from telephony.twilio.errors import JobsUnavailable, RecordingRefused
from telephony.twilio.ids import require_sid
from telephony.twilio.jobs import recording_job_id
from telephony.twilio.recording_urls import check_recording_url
from telephony.twilio.signature import TwilioParams
from telephony.twilio.stream_token import issue_stream_token

# Webhooks are for Twilio, not API clients: kept out of the OpenAPI document.
# Redis failures under a webhook are 503 with Retry-After (the app's one handler): Twilio
# then retries, and every webhook is written so that a retry completes what the failed
# try left undone.
# Every webhook answers a Response (TwiML or 204): each opens its session in its own thread.
router = APIRouter(
    prefix="/twilio", tags=["twilio"], include_in_schema=False, route_class=OneThreadRoute
)
CallId = Annotated[str, Query(alias="call", min_length=1, max_length=32)]
OptionalCallId = Annotated[str | None, Query(alias="call", min_length=1, max_length=32)]


AgentId = Annotated[int, Query(alias="agent", ge=1, le=2**31 - 1)]
OfferedAt = Annotated[AwareDatetime | None, Query(alias="offer")]
"""When the offer a ring was for was made (the ACD's ``offered_at``)."""


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
    board: SwitchboardDep,
    base: PublicUrlDep,
    clock: ClockDep,
    secret: SecretKeyDep,
    request: Request,
) -> Response:
    """A call arrives: log it, pop the caller's record, and answer with the IVR's first step."""
    call = calls.arrive(
        session,
        board,
        channel=CallChannel.TWILIO,
        provider_id=require_sid("CallSid", _required(params, "CallSid")),
        from_number=params.get("From", ""),
        to_number=params.get("To", ""),
        # Answering this webhook with TwiML is what answers the call.
        answered=True,
        clock=clock,
    )
    turn = calls.begin(session, board, call=call, clock=clock)
    if turn is None:  # the caller hung up before the IVR's first step
        return _xml(twiml.hangup())
    stream = twiml.MediaStreamGrant(
        url=twiml.websocket_base(base or str(request.base_url)) + twiml.MEDIA_PATH,
        token=issue_stream_token(secret, call_id=call.id, now=clock()),
    )
    return _xml(twiml.render(turn, call_id=call.id, record=True, stream=stream))


FlowName = Annotated[str, Query(alias="flow", pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
"""Twilio's AnsweredBy values for anything but a person."""


@router.post("/survey")
def survey_answered(
    call_id: CallId,
    flow: FlowName,
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> Response:
    """A survey call we placed was picked up: a person hears the survey; an answering
    machine gets nothing (the attempt's outcome is voicemail, tried again later)."""
    sid = require_sid("CallSid", _required(params, "CallSid"))
    services.adopt_provider_id(session, call_id=call_id, provider_id=sid)
    call = services.get_call(session, call_id=call_id)
    if call.provider_id != sid:
        raise ValidationFailed(
            "the survey webhook is for another call", details={"field": "CallSid"}
        )
    if params.get("AnsweredBy", "") in MACHINE:
        calls.machine_answered(session, board, call=call, clock=clock)
        return _xml(twiml.hangup())
    turn = calls.begin_survey(session, board, call=call, flow=flow, clock=clock)
    if turn is None:  # the customer hung up as they answered
        return _xml(twiml.hangup())
    return _xml(twiml.render(turn, call_id=call.id))


@router.post("/sms")
def incoming_text(
    params: TwilioParams, session: SessionDep, board: SwitchboardDep, clock: ClockDep
) -> Response:
    """A customer's text (Twilio Messaging): the answer to an SMS survey we sent, or an
    opt-out. The reply is sent back in the response's TwiML."""
    phone = try_normalize_phone(_required(params, "From"), default_region=board.region)
    if phone is None:
        return _xml(twiml.message(None))
    reply = sms_reply(session, phone=phone, body=params.get("Body", ""), now=clock())
    return _xml(twiml.message(reply))


@router.post("/gather")
def gather_result(
    call_id: CallId,
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> Response:
    """The caller pressed keys, spoke, or stayed silent."""
    given = CallerInput(
        digits=params.get("Digits", ""),
        speech=params.get("SpeechResult", ""),
        speech_confidence=_float(params.get("Confidence")),
    )
    turn = calls.caller_input(session, board, call_id=call_id, given=given, clock=clock)
    if turn is None:
        return _xml(twiml.hangup())
    return _xml(twiml.render(turn, call_id=call_id))


@router.post("/queue/wait")
def queue_wait(
    call_id: CallId, _params: TwilioParams, session: SessionDep, board: SwitchboardDep
) -> Response:
    """Played to a waiting caller in a loop: the position in our ACD's queue, then hold;
    past the queue's maximum wait the caller leaves it for the overflow (``/queue/done``).
    A caller on hold waits here too, hearing that they are held."""
    language = calls.language(board, call_id)
    call = services.get_call(session, call_id=call_id)
    if call.held_at is not None:
        return _xml(twiml.on_hold(language))
    # Offered too: the caller is heard waiting (a call whose offer Redis lost is queued
    # again only then), and the ACD refuses to take a call out while an offer rings.
    waiting = call.state in (CallState.QUEUED, CallState.OFFERED)
    if waiting and calls.take_for_overflow(board, call_id=call_id):
        return _xml(twiml.leave_queue())
    position = board.acd.position(call_id, call.queue) if call.queue else None
    return _xml(twiml.queue_wait(position, language))


@router.post("/queue/done")
def queue_done(
    call_id: CallId,
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> Response:
    """The caller left Twilio's queue: overflowed (``QueueResult=leave``), put on hold or
    transferred by the agent (back to waiting), or their talk with the agent is over."""
    call = services.get_call(session, call_id=call_id)
    # The log may still show the call offered: a lost offer's call, queued again, that
    # overflowed before an agent took it (see ``queue_wait``).
    overflowed = call.state in {CallState.QUEUED, CallState.OFFERED, CallState.IN_IVR}
    if overflowed and params.get("QueueResult") == "leave":
        after = calls.overflow(session, board, call_id=call_id, clock=clock)
        if isinstance(after, calls.Voicemail):
            return _xml(twiml.voicemail(after.prompt, after.language, call_id=call_id))
        return _xml(twiml.render(after, call_id=call_id))
    waiting = call.state in {CallState.QUEUED, CallState.OFFERED}
    if waiting or (call.state is CallState.BRIDGED and call.held_at is not None):
        return _xml(twiml.wait_again(call_id))
    return _xml(twiml.hangup())


@router.post("/voicemail/done")
def voicemail_done(call_id: CallId, _params: TwilioParams, board: SwitchboardDep) -> Response:
    """The caller's message is recorded (it arrives through ``/recording``): goodbye."""
    farewell = calls.Voicemail.of(board, calls.language(board, call_id))
    return _xml(twiml.goodbye(farewell.goodbye, farewell.language))


@router.post("/agent/dial")
def agent_dials(
    call_id: CallId, params: TwilioParams, session: SessionDep, twilio: TwilioSettingsDep
) -> Response:
    """The agent answered the leg we rang for their callback: now ring the customer."""
    call = services.get_call(session, call_id=call_id)
    if call.provider_id is not None and call.provider_id != params.get("CallSid"):
        raise ValidationFailed("the dial webhook is for another call", details={"field": "CallSid"})
    return _xml(twiml.dial_customer(call.to_number, twilio.caller_id or call.from_number))


@router.post("/agent/park")
def agent_park(call_id: CallId, _params: TwilioParams) -> Response:
    """The agent's leg while their caller is on hold, until a resume bridges them again."""
    return _xml(twiml.agent_parked(call_id))


RecordedKind = Annotated[Literal["call", "voicemail"], Query(alias="kind")]
"""What a recording is, as our TwiML named it: the whole call, or a caller's message."""


@router.post("/recording")
def recording_status(
    call_id: CallId,
    params: TwilioParams,
    session: SessionDep,
    twilio: TwilioSettingsDep,
    request: Request,
    kind: RecordedKind = "call",
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
        # Named for voicemails only: a call's recording goes to the job as before, so that
        # a worker not yet upgraded still fetches it.
        **({"kind": kind} if kind != "call" else {}),
        _job_id=recording_job_id(recording_sid),
    )
    anyio.from_thread.run(enqueue)
    return Response(status_code=204)


@router.post("/status")
def status_callback(
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
    call_id: OptionalCallId = None,
) -> Response:
    """Apply CallStatus once and never backwards; Twilio retries and reorders these. A call
    we placed names itself (``?call=``), so its callbacks find it even when the process
    that placed it died before it could keep Twilio's SID."""
    raw = _required(params, "CallStatus")
    try:
        status = ProviderStatus(raw)
    except ValueError as exc:
        raise ValidationFailed(f"unknown CallStatus {raw}", details={"CallStatus": raw}) from exc
    calls.provider_status(
        session,
        board,
        provider_id=require_sid("CallSid", _required(params, "CallSid")),
        placed_call_id=call_id,
        status=status,
        sequence_number=_sequence_number(params.get("SequenceNumber", "")),
        clock=clock,
    )
    return Response(status_code=204)


def _sequence_number(raw: str) -> int | None:
    """Twilio counts a call's callbacks from 0; absent on older accounts' callbacks."""
    if not raw:
        return None
    # ASCII digits only, and few enough for the log's integer column: ``str.isdigit``
    # takes "²", and ``int`` refuses thousands of digits.
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise ValidationFailed(
            "SequenceNumber is not a callback count",
            details={"field": "SequenceNumber", "value": raw[:32]},
        )
    return int(raw)


@router.post("/agent/connect")
def agent_connect(
    call_id: CallId,
    agent_id: AgentId,
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> Response:
    """The agent picked up the leg we rang: bridge them to exactly this caller."""
    leg = require_sid("CallSid", _required(params, "CallSid"))
    # Answered, the leg has no ringing to stop, whoever gets the call. Only tidiness: a
    # cancel of an answered leg changes nothing at Twilio, so Redis failing here must not
    # fail the answer.
    with contextlib.suppress(redis.RedisError):
        ringing_legs.forget(board.events.client, call_id, leg)
    try:
        calls.agent_answered(
            session, board, call_id=call_id, agent_id=agent_id, agent_leg=leg, clock=clock
        )
    except NoSuchOffer:
        return _xml(twiml.caller_gone())
    return _xml(twiml.connect_agent(call_id))


@router.post("/consult/connect")
def consult_connect(
    call_id: CallId,
    agent_id: AgentId,
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> Response:
    """The consulted colleague picked up: into the room where the call's agent joins them
    (the caller still held)."""
    leg = require_sid("CallSid", _required(params, "CallSid"))
    try:
        calls.consult_answered(
            session, board, call_id=call_id, agent_id=agent_id, leg=leg, clock=clock
        )
    except NoSuchOffer:
        return _xml(twiml.caller_gone())
    return _xml(twiml.consult_room(call_id))


@router.post("/consult/status")
def consult_leg_status(
    call_id: CallId,
    agent_id: AgentId,
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> Response:
    """The colleague's leg did not connect, or hung up while still consulted: the
    consultation ends and the caller is back with the agent. After a handover the leg is
    the call's own, and its end is the call's."""
    status = params.get("CallStatus")
    if status in {"busy", "no-answer", "failed", "canceled", "completed"}:
        calls.end_consult(session, board, call_id=call_id, consultant=agent_id, clock=clock)
    return Response(status_code=204)


@router.post("/agent/status")
def agent_leg_status(
    call_id: CallId,
    agent_id: AgentId,
    params: TwilioParams,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
    offered_at: OfferedAt = None,
) -> Response:
    """The agent's leg did not connect (busy, no answer, failed): the offer it rang for
    moves on, if it is still on (legs rung before the offer was named go by call and
    agent alone). A leg that ends while its caller is held gives the caller back to the
    queue (see :func:`calls.agent_leg_ended`)."""
    status = params.get("CallStatus")
    # ``canceled`` is ours: a leg is cancelled only once its offer is over, which is no
    # miss of the agent's (and a miss taken from it could fall on the agent's next offer).
    if status in {"busy", "no-answer", "failed"}:
        with contextlib.suppress(NoSuchOffer):
            calls.agent_missed(
                session, board, call_id=call_id, agent_id=agent_id, offered_at=offered_at
            )
    elif status == "completed":
        leg = require_sid("CallSid", _required(params, "CallSid"))
        calls.agent_leg_ended(
            session, board, call_id=call_id, agent_id=agent_id, leg=leg, clock=clock
        )
    ended_leg = params.get("CallSid")
    if ended_leg and status in {"busy", "no-answer", "failed", "canceled", "completed"}:
        # Nothing left to stop. Only tidiness, after what the status changed.
        with contextlib.suppress(redis.RedisError):
            ringing_legs.forget(board.events.client, call_id, ended_leg)
    return Response(status_code=204)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
