"""The orders package's periodic job: the SLA sweep, run by the worker."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from orders.sla import SweepResult, sweep

SLA_SWEEP_SECONDS = 15
"""How late a warning or breach may be marked: small against hours-long milestones."""


async def sweep_sla(ctx: dict[str, Any]) -> dict[str, int]:
    def run() -> SweepResult:
        with ctx["sessions"]() as session:
            return sweep(session, now=ctx["clock"]())

    result = await run_in_threadpool(run)
    return {"warned": result.warned, "breached": result.breached, "escalated": result.escalated}
