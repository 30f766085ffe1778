"""The recordings' periodic job, run by the worker: purge what is past its retention."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from orders import SYSTEM
from recordings.retention import purge_expired

PURGE_HOUR_UTC = 19
"""03:00 in China, when nobody is listening to last year's calls."""


async def purge_recordings(ctx: dict[str, Any]) -> int:
    def run() -> int:
        with ctx["sessions"]() as session:
            return purge_expired(
                session,
                policy=ctx["retention"],
                recordings_dir=ctx["recordings_dir"],
                actor=SYSTEM,
                clock=ctx["clock"],
            )

    return await run_in_threadpool(run)
