"""The FastAPI app factory: routes, error rendering, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hmac
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import redis
import structlog
from arq import create_pool
from arq.connections import RedisSettings
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute

import agent_console.gateway
import agent_console.http
import agent_console.pages
import billing.http
import callbacks.http
import orders.http
import parts.http
import recordings.http
import recordings.search_http
import telephony.http
import telephony.twilio.http
import telephony.twilio.media
from callcenter import docs, problems, wiring
from callcenter.middleware import Admission, BodyLimit, Metrics
from callcenter.saturation import Saturation
from callcenter.settings import Settings
from callcenter.sweep_metrics import SweepFigures
from callcenter.wiring import (
    access_policy,
    build_switchboard,
    install_rules,
    load_configured_flows,
)
from callcenter.worker import build_worker
from core.db import ServiceSession, writer
from core.errors import PermissionDenied
from core.keys import WORKER_HEARTBEAT
from core.types import Clock
from ivr import load_model
from orders import prepare_logins

log = structlog.get_logger(__name__)


def create_app(
    *,
    settings: Settings,
    engine: Engine,
    bus: redis.Redis,
    secret_key: str,
    clock: Clock,
    redis_url: str | None = None,
    run_worker: bool = False,
    on_close: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the app over resources the caller owns.

    With ``redis_url`` the app can queue background jobs; with ``run_worker`` too, it also
    runs the arq worker in its own event loop (the embedded, one-process mode).
    """
    app = FastAPI(
        title="callcenter",
        version="0.1.0",
        summary="Call-center service for home-appliance after-sales hotlines",
        # /docs is served by callcenter.docs from the installed package, never from a CDN;
        # ReDoc is not served (why: see there).
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(redis_url, run_worker, on_close),
    )
    app.state.settings = settings
    app.state.engine = engine
    # Where every request, websocket and job gets its session; tests swap in their own.
    # Requests write from several threads at once: on SQLite each takes the write lock
    # when it begins, so two webhooks never fail each other with "database is locked".
    writes = writer(engine)
    app.state.sessions = lambda: ServiceSession(writes, expire_on_commit=False)
    app.state.bus = bus
    app.state.redis_url = redis_url
    app.state.secret_key = secret_key
    app.state.clock = clock
    app.state.recordings_dir = settings.recordings_path
    app.state.prompts_dir = settings.data_dir / "prompts"
    flows, flow = load_configured_flows(settings)
    app.state.region = settings.phone.default_region
    app.state.access = access_policy(settings)
    install_rules()
    app.state.twilio = settings.twilio
    app.state.public_url = settings.public_url
    app.state.switchboard = build_switchboard(settings, bus, flow=flow, flows=flows, clock=clock)
    app.state.events = app.state.switchboard.events
    app.state.console_config = wiring.console_config(settings)
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.state.saturation = saturation = Saturation(
        max_loop_lag_seconds=settings.http.max_loop_lag_ms / 1000,
        max_answer_seconds=settings.http.max_webhook_answer_ms / 1000,
    )
    Gauge(
        "callcenter_event_loop_lag_seconds",
        "How late this process's event loop runs what is due (smoothed)",
        registry=registry,
    ).set_function(lambda: saturation.loop_lag)
    Gauge(
        "callcenter_webhook_answer_seconds",
        "How long this process's Twilio webhooks take to be answered (smoothed)",
        registry=registry,
    ).set_function(saturation.answer_seconds)
    registry.register(SweepFigures(bus))

    problems.install(app)
    app.router.routes.extend(_routes())
    app.add_middleware(BodyLimit, max_bytes=settings.http.max_body_bytes)
    app.add_middleware(
        Admission,
        max_new_calls=settings.http.max_new_calls_in_flight,
        saturation=saturation,
    )
    app.add_middleware(Metrics, registry=registry)
    return app


def _lifespan(redis_url: str | None, run_worker: bool, on_close: Callable[[], None] | None) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = app.state.settings.vosk_model
        if model is not None:
            # Loaded before the first call rather than by it: a Media Stream's first words
            # would otherwise queue for seconds and reach the agent as one late line.
            await asyncio.to_thread(load_model, model)
        await asyncio.to_thread(prepare_logins)
        try:
            async with (
                app.state.saturation.watching(),
                _jobs_and_worker(app, redis_url, run_worker),
            ):
                # What is built by now lives as long as the app: kept out of the cyclic
                # collector's sight, a full collection walks only what came after. Python
                # runs one whenever the survivors grow by a quarter; over a served worker's
                # whole heap (about 360,000 objects) it took 170 ms, a stall of every call
                # in flight; frozen, under 1 ms.
                gc.freeze()
                yield
        finally:
            gc.unfreeze()
            if on_close is not None:
                on_close()

    return lifespan


@contextlib.asynccontextmanager
async def _jobs_and_worker(
    app: FastAPI, redis_url: str | None, run_worker: bool
) -> AsyncIterator[None]:
    app.state.jobs = None
    if redis_url is None:
        yield
        return
    if run_worker:  # an unusable Vosk model stops the start, not the worker's restarts
        wiring.transcription_model(app.state.settings)
    app.state.jobs = await create_pool(RedisSettings.from_dsn(redis_url))
    app.state.worker_restarts = 0
    task = asyncio.create_task(_supervised_worker(app, redis_url)) if run_worker else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.jobs.aclose()


WORKER_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
WORKER_HEALTHY_SECONDS = 60
"""A worker that ran this long before it died starts again without waiting."""


async def _supervised_worker(app: FastAPI, redis_url: str) -> None:
    """The in-process worker, started again whenever it dies (Redis gone, a bug)."""
    loop = asyncio.get_running_loop()
    failures = 0
    while True:
        worker = build_worker(redis_url, ctx=worker_context(app), handle_signals=False)
        started = loop.time()
        try:
            await worker.async_run()
            reason = "returned"
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await worker.close()
            raise
        except Exception as exc:  # whatever killed it, the service needs its worker back
            reason = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            await worker.close()
        if loop.time() - started >= WORKER_HEALTHY_SECONDS:
            failures = 0
        delay = WORKER_BACKOFF_SECONDS[min(failures, len(WORKER_BACKOFF_SECONDS) - 1)]
        failures += 1
        app.state.worker_restarts += 1
        log.warning("background worker stopped; starting it again", reason=reason, retry_in=delay)
        await asyncio.sleep(delay)


def worker_context(app: FastAPI) -> dict[str, Any]:
    """What the app's jobs run over: the very objects the app's routes use."""
    return wiring.worker_context(
        app.state.settings,
        sessions=app.state.sessions,
        bus=app.state.bus,
        clock=app.state.clock,
        switchboard=app.state.switchboard,
    )


def _worker_state(app: FastAPI, beat: str | None) -> str:
    """ "ok" while some worker has beaten lately; ring jobs and sweeps stop without one."""
    if beat is None:
        return "error: no worker has beaten"
    try:
        age = (app.state.clock() - datetime.fromisoformat(beat)).total_seconds()
    except (TypeError, ValueError):
        return "error: unreadable heartbeat"
    stale = app.state.settings.worker.heartbeat_stale_seconds
    if age < -stale:
        return "error: heartbeat from the future; the worker's clock is off"
    return "ok" if age <= stale else f"error: last heartbeat {age:.0f} s ago"


LOOPBACK = frozenset({"127.0.0.1", "::1"})


def _may_scrape(request: Request) -> bool:
    token = request.app.state.settings.metrics.token
    if token is None:
        return request.client is not None and request.client.host in LOOPBACK
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode())


@functools.cache
def _routes() -> tuple[BaseRoute, ...]:
    """Every route, built once per process: resolving each endpoint's parameters into
    pydantic fields takes a third of a second for the whole app, and routes read what they
    need of their app from the request, so every app of the process can share them."""
    router = APIRouter()
    # Routes are matched in order, each at a cost (about 1.6 us a route): the calls' own
    # webhooks and sockets come first, ahead of the hundred-odd routes of the API.
    router.include_router(telephony.twilio.http.router)
    router.include_router(telephony.twilio.media.router)
    router.include_router(agent_console.gateway.router)
    api = APIRouter(prefix="/api", responses=problems.PROBLEM_RESPONSES)
    # Ahead of orders' GET /customers/{customer_id}, which would take "search" for an id.
    api.include_router(agent_console.http.customers_router)
    api.include_router(orders.http.router)
    api.include_router(parts.http.router)
    api.include_router(billing.http.router)
    api.include_router(callbacks.http.router)
    api.include_router(telephony.http.router)
    api.include_router(agent_console.http.router)
    api.include_router(agent_console.http.recordings_router)
    api.include_router(recordings.http.router)
    api.include_router(recordings.search_http.router)
    router.include_router(api)
    router.include_router(agent_console.pages.router)
    router.mount("/console/static", agent_console.pages.static_files, name="console-static")
    router.include_router(docs.router)
    router.mount(docs.ASSETS_PATH, docs.assets, name="docs-assets")
    router.include_router(_operations_router())
    # Resolved here, once, rather than on each app's first request or OpenAPI document.
    list(iter_route_contexts(router.routes))
    return tuple(router.routes)


def _operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "A check failed: not ready"}})
    def readyz(request: Request) -> JSONResponse:
        """The database and Redis answer; the worker's last heartbeat is reported."""
        checks: dict[str, Any] = {}
        try:
            with request.app.state.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; report it, do not raise
            checks["database"] = f"error: {type(exc).__name__}"
        checks["worker"] = "unknown"
        try:
            request.app.state.bus.ping()
            checks["redis"] = "ok"
            beat = request.app.state.bus.get(WORKER_HEARTBEAT)
            checks["worker_heartbeat"] = beat
            checks["worker"] = _worker_state(request.app, beat)
        except redis.RedisError as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        ready = checks["database"] == "ok" and checks["redis"] == "ok" and checks["worker"] == "ok"
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus figures: for the scraper holding the token, or on loopback only."""
        if not _may_scrape(request):
            raise PermissionDenied(
                "metrics are served on loopback, or with CALLCENTER_METRICS_TOKEN as bearer"
            )
        return Response(
            generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST
        )

    return router
