"""Background job of the SIP channel (run by the arq worker)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from telephony.repairs import Repair, count_repairs
from telephony.sip.recovery import end_orphaned_calls
from telephony.switchboard import Switchboard


async def reconcile_calls(ctx: dict[str, Any]) -> int:
    """Calls whose SIP endpoint died and never came back are ended; agents left on a call
    that no longer exists, on any channel, are freed."""
    board: Switchboard = ctx["switchboard"]

    def reconcile() -> int:
        with ctx["sessions"]() as session:
            ended = end_orphaned_calls(
                session,
                client=ctx["bus"],
                notifier=board.notifier,
                acd=board.acd,
                recordings_dir=ctx["recordings_dir"],
                owner="",
                carried=set(),
                clock=ctx["clock"],
            )
        count_repairs(board.acd.client, Repair.ORPHANED_SIP_CALL_ENDED, len(ended))
        return len(ended)

    return await run_in_threadpool(reconcile)
