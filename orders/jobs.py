"""The orders package's periodic job: the SLA sweep, run by the worker."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from orders.schemas import SYSTEM
from orders.services.complaints import sweep_complaints
from orders.sla import sweep

SLA_SWEEP_SECONDS = 15
"""How late a warning or breach may be marked: small against hours-long milestones."""


async def sweep_sla(ctx: dict[str, Any]) -> dict[str, int]:
    """SLA warnings and breaches; overdue complaints and long waits for parts."""

    def run() -> dict[str, int]:
        with ctx["sessions"]() as session:
            now = ctx["clock"]()
            result = sweep(session, now=now)
            escalated, raised = sweep_complaints(session, now=now, actor=SYSTEM)
        return {
            "warned": result.warned,
            "breached": result.breached,
            "escalated": result.escalated,
            "complaints_escalated": escalated,
            "crises_raised": raised,
        }

    return await run_in_threadpool(run)
