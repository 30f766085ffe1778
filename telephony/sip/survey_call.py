"""Automated survey calls placed through the PBX: the endpoint claims the survey dials
that are due (the outbound engine claims each once), rings the customer's number through
its registration, and runs the survey flow on the answered leg with the same IVR engine
and audio as an inbound call. The call is logged before the INVITE leaves, so a crash
between the two is repaired by the dial reconciliation like any other lost dial."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from pyVoIP.VoIP.VoIP import NoPortsAvailableError
from sqlmodel import Session

from callbacks import Dial, release_dial
from orders import dial_digits
from telephony import calls, services
from telephony.enums import CallChannel, Disposition
from telephony.models import Call
from telephony.sip.call_flow import CallContext, SipCall, dialog_id
from telephony.sip.phone import HotlineCall

log = structlog.get_logger(__name__)

RING_SECONDS = 30
"""How long a survey call rings before it counts as not answered (Twilio's too)."""

_DISPOSITION_OF = {
    486: Disposition.BUSY,
    600: Disposition.BUSY,
    404: Disposition.FAILED,
    410: Disposition.FAILED,
    484: Disposition.FAILED,
    604: Disposition.FAILED,
}
"""A refused INVITE's final status as the call's end; any other (480, 408, 487 after our
CANCEL) is a call nobody answered."""


class SurveyCall(SipCall):
    """One survey call we placed: ring, then the survey flow, then hang up."""

    def __init__(self, ctx: CallContext, leg: HotlineCall, *, call: Call, flow: str) -> None:
        super().__init__(ctx, leg)
        self.call = call
        self.call_id = call.id
        self.flow = flow

    def run(self, on_logged: Callable[[SipCall], None]) -> None:
        on_logged(self)
        if not self._rung():
            self._finish(_DISPOSITION_OF.get(self.leg.failure or 0, Disposition.NO_ANSWER))
            return
        ctx = self.ctx
        self._connect_media(self.call)
        self._audio_ivr(self.call)
        with ctx.sessions() as session:
            turn = calls.begin_survey(
                session, ctx.board, call=self.call, flow=self.flow, clock=ctx.clock
            )
        self._converse(self.call.id, turn)
        self._hang_up_all()
        self._finish()

    def _rung(self) -> bool:
        """Ring until the customer answers, refuses, or the ring time is up (CANCEL)."""
        deadline = time.monotonic() + RING_SECONDS
        while self.leg.live and time.monotonic() < deadline:
            if self.leg.answered_event.wait(0.05):
                return True
        # An answer taken as the ring time ran out stands (the customer is on the line), and
        # one who answered and hung up at once answered all the same.
        return not self.leg.cancel() or self.leg.answered_event.is_set()


def place_survey_call(
    session: Session, ctx: CallContext, dial: Dial, *, from_number: str
) -> SurveyCall | None:
    """Log and ring one claimed survey dial; None when the endpoint has no port for it
    (the dial is released, to be placed again shortly, no attempt counted)."""
    call = services.start_outbound_call(
        session,
        channel=CallChannel.SIP,
        to_number=dial.phone,
        from_number=from_number,
        task_id=dial.task_id,
        region=ctx.board.region,
        clock=ctx.clock,
    )
    try:
        leg = ctx.phone.call(dial_digits(dial.phone, from_region=ctx.board.region))
    except NoPortsAvailableError:
        log.warning("no RTP port for a survey call, due again shortly", task=dial.task_id)
        services.end_call(
            session,
            notifier=ctx.board.notifier,
            call_id=call.id,
            disposition=Disposition.FAILED,
            clock=ctx.clock,
        )
        release_dial(session, dial.task_id, now=ctx.clock())
        return None
    services.dialled(session, call=call, provider_id=dialog_id(leg))
    return SurveyCall(ctx, leg, call=call, flow=dial.survey_flow)
