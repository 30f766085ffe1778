"""Background job of the SIP channel (run by the arq worker)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from callcenter.bus import EventBus
from telephony.acd import Acd
from telephony.events import CallNotifier
from telephony.presence import Presence
from telephony.sip.recovery import end_orphaned_calls


async def reconcile_calls(ctx: dict[str, Any]) -> int:
    """Calls whose SIP endpoint died and never came back are ended; agents left on a call
    that no longer exists, on any channel, are freed."""
    bus = EventBus(ctx["bus"])
    acd = Acd(ctx["bus"], bus, Presence(ctx["bus"], bus, clock=ctx["clock"]), clock=ctx["clock"])

    def reconcile() -> int:
        with ctx["sessions"]() as session:
            ended = end_orphaned_calls(
                session,
                client=ctx["bus"],
                notifier=CallNotifier(bus),
                acd=acd,
                recordings_dir=ctx["settings"].recordings_path,
                owner="",
                carried=set(),
                clock=ctx["clock"],
            )
        return len(ended)

    return await run_in_threadpool(reconcile)
