"""The outbound engine's periodic jobs, run by the worker: plan the active campaigns, hand
agents' overdue own callbacks to anyone, and tell customers their ordered parts arrived."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from callbacks.services.campaigns import plan_active
from callbacks.services.notices import notify_arrived_part_orders
from callbacks.services.tasks import hand_over_overdue

PLAN_MINUTES = set(range(0, 60, 5))
"""Campaign windows open hours after completion: planning every five minutes places a
callback long before it is due."""


async def plan_campaigns(ctx: dict[str, Any]) -> dict[str, int]:
    def run() -> dict[str, int]:
        with ctx["sessions"]() as session:
            plans = plan_active(session, now=ctx["clock"]())
            handed = hand_over_overdue(
                session, now=ctx["clock"](), minutes=ctx.get("hand_over_minutes", 30)
            )
        return {
            "handed_over": handed,
            "campaigns": len(plans),
            "tasks_created": sum(p.tasks_created for p in plans),
            "unplaced": sum(p.unplaced for p in plans),
        }

    return await run_in_threadpool(run)


async def tell_part_arrivals(ctx: dict[str, Any]) -> int:
    """Queue a text for each customer's ordered part that reached its station (stock has
    no event of its own for it: the stores are looked at every minute)."""

    def run() -> int:
        with ctx["sessions"]() as session:
            return notify_arrived_part_orders(session, now=ctx["clock"]())

    return await run_in_threadpool(run)
