"""The parts package's periodic job, run by the worker: billing parts kept too long."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from parts.services.borrowing import bill_overdue

BILLING_MINUTES = {10}
"""Borrowed parts fall due by the working day: hourly is plenty, and a worker that was
down bills at its next run (billing is idempotent)."""


async def bill_kept_parts(ctx: dict[str, Any]) -> dict[str, int]:
    """Bills to their station the borrowed parts out past 20 working days."""

    def run() -> dict[str, int]:
        with ctx["sessions"]() as session:
            return {"billed": bill_overdue(session, now=ctx["clock"]())}

    return await run_in_threadpool(run)
