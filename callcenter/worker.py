"""The background worker (arq): in-process in the embedded mode, separate at scale."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker

from callcenter.constants import WORKER_HEARTBEAT
from telephony.sip.jobs import reconcile_calls
from telephony.twilio.jobs import fetch_twilio_recording, ring_twilio_agent, sweep_offers

HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL_SECONDS = 3600


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Stamp the time so /readyz can tell whether any worker is alive."""
    stamp = ctx["clock"]().isoformat()
    await ctx["redis"].set(WORKER_HEARTBEAT, stamp, ex=HEARTBEAT_TTL_SECONDS)
    return stamp


def build_worker(
    redis_url: str, *, ctx: dict[str, Any], handle_signals: bool = True, burst: bool = False
) -> Worker:
    """The worker with every job of every package.

    ``ctx`` carries ``sessions`` (a session factory), ``settings``, ``bus`` (sync Redis) and
    ``clock`` (the composition root's, so jobs and sweeps read the same time as the app).
    """
    return Worker(
        functions=[heartbeat, fetch_twilio_recording, ring_twilio_agent],
        cron_jobs=[
            cron(
                heartbeat,
                second=set(range(0, 60, HEARTBEAT_SECONDS)),
                run_at_startup=True,
                unique=True,
            ),
            cron(sweep_offers, second=set(range(0, 60, 2)), unique=True),
            cron(reconcile_calls, second={15, 45}, unique=True),
        ],
        redis_settings=RedisSettings.from_dsn(redis_url),
        handle_signals=handle_signals,
        poll_delay=0.5,
        ctx=ctx,
        burst=burst,
    )
