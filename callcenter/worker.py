"""The background worker (arq): in-process in the embedded mode, separate at scale."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
from typing import Any

import structlog
from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Worker

from callbacks.jobs import PLAN_MINUTES, plan_campaigns, tell_part_arrivals
from core.db import DatabaseBusy
from core.keys import WORKER_HEARTBEAT
from orders.jobs import (
    MAINTENANCE_MINUTES,
    SLA_SWEEP_SECONDS,
    open_maintenance_rounds,
    sweep_sla,
)
from parts.jobs import BILLING_MINUTES, bill_kept_parts
from recordings.housekeeping import PURGE_HOUR_UTC, purge_recordings
from recordings.jobs import (
    TRANSCRIBE_SWEEP_SECONDS,
    TRANSCRIBE_TIMEOUT_SECONDS,
    transcribe_pending,
    transcribe_recording,
)
from telephony.sip.jobs import reconcile_calls
from telephony.twilio.jobs import (
    dial_surveys,
    fetch_twilio_recording,
    ring_agent_for_callback,
    ring_twilio_agent,
    ring_twilio_consultant,
    send_sms_surveys,
    settle_twilio_calls,
    sweep_offers,
)
from telephony.twilio.ringer import ring_offered_agents

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL_SECONDS = 3600
BURST_POLL_SECONDS = 0.02
"""How often a burst worker looks whether its jobs are done."""


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Stamp the time so /readyz can tell whether any worker is alive."""
    stamp: str = ctx["clock"]().isoformat()
    await ctx["redis"].set(WORKER_HEARTBEAT, stamp, ex=HEARTBEAT_TTL_SECONDS)
    return stamp


ORPHANS_SWEEP_SECONDS = 3
"""How often SIP calls whose endpoint died are ended: soon after their live marks expire,
before an offer of theirs rings out on an agent."""

RINGER_IDLE_SECONDS = 0.1
"""Pause after a pass that found no offer: how late an agent's phone may start ringing."""
RINGER_RETRY_SECONDS = 1.0


async def _ring_from_the_bus(ctx: dict[str, Any]) -> None:
    """Runs beside the jobs for the worker's life: offers on the bus become ring jobs."""
    consumer = f"{socket.gethostname()}-{os.getpid()}-{id(ctx):x}"
    while True:
        try:
            rung = await ring_offered_agents(ctx, consumer=consumer)
        except Exception as exc:  # Redis away: keep ringing once it is back
            log.warning("ringing from the bus failed; retrying", error=str(exc))
            await asyncio.sleep(RINGER_RETRY_SECONDS)
            continue
        if not rung:
            await asyncio.sleep(RINGER_IDLE_SECONDS)


async def _start_ringer(ctx: dict[str, Any]) -> None:
    ctx["ringer"] = asyncio.create_task(_ring_from_the_bus(ctx))


class CallCenterWorker(Worker):
    """arq's worker, ringing agents from the bus from its start (``on_startup``, once the
    job pool is in ``ctx``) for as long as it runs. The ringer is stopped first on close:
    arq's own close can fail (Redis gone) before a shutdown hook would run, and a
    restarted worker would then ring beside a leftover ringer."""

    async def close(self) -> None:
        ringer = self.ctx.pop("ringer", None)
        if ringer is not None:
            ringer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ringer
        steering = self.ctx.pop("steering", None)
        if steering is not None:
            await steering.close()
        await super().close()


def patient(sweep: WorkerCoroutine) -> WorkerCoroutine:
    """A sweep that finds the database busy with a long write (the demo seeding it beside
    the service, a bulk import) skips its round with one line in the log: the next round
    comes seconds later, and a traceback here would only alarm whoever reads the log."""

    @functools.wraps(sweep)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await sweep(ctx, *args, **kwargs)
        except DatabaseBusy as exc:
            log.warning(
                "sweep skipped: the database is busy", sweep=sweep.__qualname__, error=str(exc)
            )
            return None

    return run


def build_worker(
    redis_url: str, *, ctx: dict[str, Any], handle_signals: bool = True, burst: bool = False
) -> Worker:
    """The worker with every job of every package.

    ``ctx`` is the composition root's worker context (``callcenter.app.worker_context``):
    sessions, Redis, the clock, the switchboard and the Twilio channel's configuration, the
    same objects the app uses. Besides its jobs, the worker rings agents from the bus.

    A ``burst`` worker runs the jobs queued now and stops: without the crons, which are the
    running worker's schedule (each due within the next second would hold the burst open
    until it ran), and without the ringer.
    """
    worker_class = Worker if burst else CallCenterWorker
    return worker_class(
        functions=[
            heartbeat,
            fetch_twilio_recording,
            ring_twilio_agent,
            ring_twilio_consultant,
            ring_agent_for_callback,
            func(transcribe_recording, timeout=TRANSCRIBE_TIMEOUT_SECONDS),
        ],
        cron_jobs=[] if burst else _schedule(),
        redis_settings=RedisSettings.from_dsn(redis_url),
        handle_signals=handle_signals,
        poll_delay=BURST_POLL_SECONDS if burst else 0.5,
        ctx=ctx,
        burst=burst,
        on_startup=None if burst else _start_ringer,
    )


def _schedule() -> list[CronJob]:
    return [
        cron(
            patient(heartbeat),
            second=set(range(0, 60, HEARTBEAT_SECONDS)),
            run_at_startup=True,
            unique=True,
        ),
        cron(patient(sweep_offers), second=set(range(0, 60, 2)), unique=True),
        cron(
            patient(reconcile_calls),
            second=set(range(0, 60, ORPHANS_SWEEP_SECONDS)),
            unique=True,
        ),
        cron(patient(sweep_sla), second=set(range(0, 60, SLA_SWEEP_SECONDS)), unique=True),
        cron(patient(open_maintenance_rounds), minute=MAINTENANCE_MINUTES, second=0, unique=True),
        cron(patient(bill_kept_parts), minute=BILLING_MINUTES, second=0, unique=True),
        cron(patient(plan_campaigns), minute=PLAN_MINUTES, second=30, unique=True),
        cron(patient(tell_part_arrivals), second=40, unique=True),
        cron(patient(purge_recordings), hour=PURGE_HOUR_UTC, minute=0, second=0, unique=True),
        cron(
            patient(transcribe_pending),
            second=set(range(0, 60, TRANSCRIBE_SWEEP_SECONDS)),
            unique=True,
        ),
        cron(patient(settle_twilio_calls), second={25, 55}, unique=True),
        cron(patient(dial_surveys), second={0, 15, 30, 45}, unique=True),
        cron(patient(send_sms_surveys), second={5, 20, 35, 50}, unique=True),
    ]
