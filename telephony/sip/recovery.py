"""After a crash: SIP calls whose endpoint died are ended, their recordings made playable,
and agents left on them freed."""

from __future__ import annotations

from pathlib import Path

import redis
import structlog
from sqlmodel import Session

from callcenter.types import Clock, utcnow
from recordings.services import register_recording
from recordings.wav import describe, recover
from telephony import routing, services
from telephony.acd import Acd
from telephony.enums import CallChannel, Disposition
from telephony.events import CallNotifier
from telephony.sip.constants import LIVE_CALL

log = structlog.get_logger(__name__)


def end_orphaned_calls(
    session: Session,
    *,
    client: redis.Redis,
    notifier: CallNotifier,
    acd: Acd,
    recordings_dir: Path,
    clock: Clock = utcnow,
) -> list[str]:
    """End SIP calls no endpoint carries any more; then reconcile agent presence."""
    ended = []
    for call_id in sorted(services.live_call_ids(session, channel=CallChannel.SIP)):
        if client.exists(LIVE_CALL.format(call_id=call_id)):
            continue
        call = services.end_call(
            session, notifier=notifier, call_id=call_id, disposition=Disposition.FAILED, clock=clock
        )
        routing.call_ended(session, acd=acd, call=call)
        part = recordings_dir / f"{call_id}.wav.part"
        if part.exists():
            wav = describe(recover(part))
            customer = call.customer_ids[0] if len(call.customer_ids) == 1 else None
            register_recording(session, call_id=call_id, customer_id=customer, wav=wav, clock=clock)
        log.warning("sip call ended after its endpoint died", call=call_id)
        ended.append(call_id)
    acd.presence.reconcile(services.live_call_ids(session))
    return ended
