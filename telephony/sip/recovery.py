"""After a crash: SIP calls whose endpoint died are ended, their recordings made playable,
and agents left on them freed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import cast

import redis
import structlog
from sqlmodel import Session

from core.bus import as_text
from core.types import Clock
from recordings import FinishedWav, describe, recording_path, recover
from telephony import routing, services
from telephony.acd import Acd
from telephony.enums import CallChannel, Disposition
from telephony.events import CallNotifier
from telephony.sip.constants import LIVE_CALL, LIVE_CALL_TTL_SECONDS

log = structlog.get_logger(__name__)


def end_orphaned_calls(
    session: Session,
    *,
    client: redis.Redis,
    notifier: CallNotifier,
    acd: Acd,
    recordings_dir: Path,
    owner: str,
    carried: set[str],
    clock: Clock,
) -> list[str]:
    """End SIP calls no endpoint carries any more, in the log and in the ACD; then
    reconcile agent presence.

    A call is orphaned when its endpoint stopped refreshing its mark (crashed and never
    came back), or when the mark names ``owner`` (this endpoint: the same registration,
    restarted) but the call is not among those it ``carried`` now. A call it carries is
    never orphaned, whatever became of its mark (a heartbeat held up, a Redis failover):
    the next heartbeat marks it again.
    """
    ended = []
    settling = clock() - timedelta(seconds=LIVE_CALL_TTL_SECONDS)
    for call_id in sorted(services.live_call_ids(session, channel=CallChannel.SIP)):
        # redis-py types the sync client's replies as ``Awaitable | Any``.
        mark = cast("str | bytes | None", client.get(LIVE_CALL.format(call_id=call_id)))
        alive = call_id in carried or (mark is not None and as_text(mark) != owner)
        if alive or services.get_call(session, call_id=call_id).ringing_at > settling:
            continue  # carried, or so new that its endpoint may not have marked it yet
        # A caller who was waiting, or ringing an agent, leaves the queue first: else the
        # ACD would go on offering the dead call to one agent after another, ringing nobody.
        acd.withdraw(call_id, reason="call gone: its endpoint died", ended=True)
        started = services.get_call(session, call_id=call_id).ringing_at
        routing.finish_call(
            session,
            acd=acd,
            notifier=notifier,
            call_id=call_id,
            disposition=Disposition.FAILED,
            recording=_left_behind(recording_path(recordings_dir, call_id, at=started)),
            clock=clock,
        )
        log.warning("sip call ended after its endpoint died", call=call_id)
        ended.append(call_id)

    def live_now() -> set[str]:
        # Out of any transaction of this sweep, whose snapshot could predate the agents.
        session.commit()
        return services.live_call_ids(session)

    acd.presence.reconcile(live_now)
    return ended


def _left_behind(target: Path) -> FinishedWav | None:
    """The recording a call left: cut off by the crash (``.part``), or whole because the
    endpoint closed it and then failed to log the call's end."""
    part = target.with_name(target.name + ".part")
    if part.exists():
        return describe(recover(part))
    return describe(target) if target.exists() else None
