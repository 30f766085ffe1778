"""The orders package's periodic jobs, run by the worker: the SLA sweep, and the
maintenance rounds that fall due."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from orders.schemas import SYSTEM
from orders.services.complaints import sweep_complaints
from orders.services.maintenance_plans import create_due_orders
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


MAINTENANCE_MINUTES = {5, 35}
"""Maintenance rounds are due by the day: twice an hour is plenty, and a worker that was
down catches up at its next run."""


async def open_maintenance_rounds(ctx: dict[str, Any]) -> dict[str, int]:
    """A maintenance order for every plan whose round is within its lead time."""

    def run() -> dict[str, int]:
        with ctx["sessions"]() as session:
            return {"created": create_due_orders(session, now=ctx["clock"](), actor=SYSTEM)}

    return await run_in_threadpool(run)
