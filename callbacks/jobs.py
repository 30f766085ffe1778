"""The outbound engine's periodic job, run by the worker: plan the active campaigns."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from callbacks.services.campaigns import plan_active

PLAN_MINUTES = set(range(0, 60, 5))
"""Campaign windows open hours after completion: planning every five minutes places a
callback long before it is due."""


async def plan_campaigns(ctx: dict[str, Any]) -> dict[str, int]:
    def run() -> dict[str, int]:
        with ctx["sessions"]() as session:
            plans = plan_active(session, now=ctx["clock"]())
        return {
            "campaigns": len(plans),
            "tasks_created": sum(p.tasks_created for p in plans),
            "unplaced": sum(p.unplaced for p in plans),
        }

    return await run_in_threadpool(run)
