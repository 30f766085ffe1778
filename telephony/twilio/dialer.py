"""Survey calls and texts placed through Twilio for the outbound engine's due tasks.

``callbacks`` says which tasks are due and claims each (so no task is dialled twice at
once); this places the call with answering-machine detection, pointed at the survey
webhook, and reports what the channel could not do. The call is logged before it is
dialled, so every status callback finds it.
"""

from __future__ import annotations

from urllib.parse import urlencode

import structlog
from sqlmodel import Session

from callbacks import (
    CampaignMode,
    Outcome,
    claim_due_dials,
    dial_ended,
    expire_unanswered,
    notice_text,
    release_dial,
    sms_survey_text,
)
from core.types import Clock
from orders import User
from telephony import calls, services
from telephony.enums import CallChannel
from telephony.switchboard import Switchboard
from telephony.twilio.config import TwilioSettings
from telephony.twilio.errors import TwilioError, TwilioInvalidNumber
from telephony.twilio.rest import OutboundCall, TwilioCalls

log = structlog.get_logger(__name__)

SURVEY_PATH = "/twilio/survey"
RING_SECONDS = 30
"""How long a survey call rings before it counts as not answered."""


def dial_due_surveys(
    session: Session,
    board: Switchboard,
    client: TwilioCalls,
    *,
    twilio: TwilioSettings,
    public_url: str,
    clock: Clock,
) -> int:
    """Place the survey calls due now; the number placed."""
    if not twilio.caller_id:
        log.warning("survey calls are due but no Twilio caller ID is configured")
        return 0
    base = public_url.rstrip("/")
    placed = 0
    for dial in claim_due_dials(session, now=clock()):
        call = services.start_outbound_call(
            session,
            channel=CallChannel.TWILIO,
            to_number=dial.phone,
            from_number=twilio.caller_id,
            task_id=dial.task_id,
            region=board.region,
            clock=clock,
        )
        query = urlencode({"call": call.id, "flow": dial.survey_flow})
        request = OutboundCall(
            to=dial.phone,
            from_=twilio.caller_id,
            url=f"{base}{SURVEY_PATH}?{query}",
            status_callback=f"{base}/twilio/status?{urlencode({'call': call.id})}",
            machine_detection=True,
            ring_seconds=RING_SECONDS,
        )
        try:
            sid = client.place_call(request)
        except TwilioInvalidNumber as exc:
            log.info("survey number refused by Twilio", task=dial.task_id, error=exc.message)
            calls.dial_failed(session, board, call_id=call.id, clock=clock)
            dial_ended(session, dial.task_id, Outcome.WRONG_NUMBER, now=clock())
            continue
        except TwilioError as exc:
            log.warning(
                "survey call not placed, due again shortly", task=dial.task_id, error=exc.message
            )
            calls.dial_failed(session, board, call_id=call.id, clock=clock)
            release_dial(session, dial.task_id, now=clock())
            continue
        services.dialled(session, call=call, provider_id=sid)
        placed += 1
    return placed


def send_due_sms_surveys(
    session: Session, client: TwilioCalls, *, twilio: TwilioSettings, clock: Clock
) -> int:
    """Text the SMS surveys due now (the reply comes to ``/twilio/sms``); then close the
    ones whose window passed unanswered. The number sent."""
    if not twilio.caller_id:
        log.warning("SMS surveys are due but no Twilio caller ID is configured")
        return 0
    sent = 0
    for dial in claim_due_dials(session, now=clock(), mode=CampaignMode.SMS_SURVEY):
        try:
            client.send_message(
                to=dial.phone, from_=twilio.caller_id, body=sms_survey_text(dial.language)
            )
        except TwilioInvalidNumber as exc:
            log.info("survey text refused by Twilio", task=dial.task_id, error=exc.message)
            dial_ended(session, dial.task_id, Outcome.WRONG_NUMBER, now=clock())
            continue
        except TwilioError as exc:
            log.warning(
                "survey text not sent, due again shortly", task=dial.task_id, error=exc.message
            )
            release_dial(session, dial.task_id, now=clock())
            continue
        sent += 1
    expire_unanswered(session, now=clock())
    return sent + _send_notices(session, client, twilio=twilio, clock=clock)


def _send_notices(
    session: Session, client: TwilioCalls, *, twilio: TwilioSettings, clock: Clock
) -> int:
    """The customers' notices due now (waiting for parts, parts arrived, repaired)."""
    assert twilio.caller_id is not None
    sent = 0
    for dial in claim_due_dials(session, now=clock(), mode=CampaignMode.SMS_NOTICE):
        try:
            client.send_message(
                to=dial.phone,
                from_=twilio.caller_id,
                body=notice_text(session, dial.task_id, dial.language),
            )
        except TwilioInvalidNumber:
            dial_ended(session, dial.task_id, Outcome.WRONG_NUMBER, now=clock())
            continue
        except TwilioError as exc:
            log.warning("notice not sent, due again shortly", task=dial.task_id, error=exc.message)
            release_dial(session, dial.task_id, now=clock())
            continue
        dial_ended(session, dial.task_id, Outcome.REACHED, now=clock())
        sent += 1
    return sent


def dial_for_agent(
    session: Session,
    client: TwilioCalls,
    *,
    call_id: str,
    twilio: TwilioSettings,
    public_url: str,
) -> str | None:
    """Ring the agent who clicked to call a task's customer; answering, the agent's leg
    dials the customer (``/twilio/agent/dial``). The leg's SID, or None if not placed."""
    call = services.get_call(session, call_id=call_id)
    user = session.get(User, call.agent_id) if call.agent_id is not None else None
    if user is None or call.provider_id is not None:
        return None
    base = public_url.rstrip("/")
    sid = client.place_call(
        OutboundCall(
            to=user.extension or f"client:agent-{user.id}",
            from_=twilio.caller_id or call.from_number,
            url=f"{base}/twilio/agent/dial?{urlencode({'call': call.id})}",
            status_callback=f"{base}/twilio/status?{urlencode({'call': call.id})}",
            ring_seconds=RING_SECONDS,
        )
    )
    services.dialled(session, call=call, provider_id=sid)
    return sid
