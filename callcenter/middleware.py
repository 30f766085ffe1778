"""ASGI middleware: request body limit, admission control and request metrics."""

from __future__ import annotations

import time
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callcenter.problems import problem
from callcenter.saturation import Saturation

log = structlog.get_logger(__name__)

NEW_CALL_PATHS = frozenset({"/twilio/voice"})
"""Where new calls come in (POST). Every other webhook is of a call already in progress."""
WEBHOOKS = "/twilio/"
"""Requests whose answer time measures saturation: short steps of calls, unlike an export
or a report, which may take long on an idle service."""
SHED_RETRY_AFTER_SECONDS = 2
"""When a refused request may come again: saturation passes in seconds, or it is sustained
and the retry is refused as cheaply as the first try."""
_OUT_OF_CONNECTIONS = ("too many clients", "remaining connection slots")


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413 before any route reads them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "payload_too_large",
            f"request body exceeds {self.max_bytes} bytes",
            {"max_bytes": self.max_bytes},
        )
        await response(scope, receive, send)


class Admission:
    """Past saturation, refuse new calls explicitly and keep the calls in progress going.

    A new call (``POST /twilio/voice``) is admitted while fewer than ``max_new_calls`` are
    being answered by this process and the process keeps up (``Saturation``: its event loop
    is not running late, its webhooks are answered in time); otherwise it is refused at once,
    before its body is read, with 503 and ``Retry-After``. Everything else (the webhooks of
    calls in progress, such as gather, status, queue, agent legs and recordings, the
    consoles and the API) is always admitted. Sync routes run on anyio's 40 threads; a cap
    well below that leaves threads for the calls in progress however many new calls arrive,
    where without it a flood of new calls queues them all behind it until Twilio's 15 s
    deadline drops them. Saturation is the other half: once new calls are answered quickly,
    the in-flight count stays low while the CPU is saturated by the calls in progress;
    admitted calls then pile up in the agents' queues faster than the agents' consoles hear
    of them, and agents who are offered calls late free up late, so more pile up.

    An error that means "out of capacity" rather than a bug (no pooled connection came in
    time, PostgreSQL or Redis out of connection slots, a Redis that did not answer in time)
    is a 503 with ``Retry-After`` too, never a 500, for every route.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_new_calls: int,
        saturation: Saturation,
    ) -> None:
        self.app = app
        self.max_new_calls = max_new_calls
        self.saturation = saturation
        self.behind = False
        self.new_calls = 0
        """New calls this process is answering now (one event loop: no lock needed)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        new_call = scope["method"] == "POST" and _path(scope) in NEW_CALL_PATHS
        if new_call and self.new_calls >= self.max_new_calls:
            await _overloaded(
                "new_call_refused",
                "the service is answering as many new calls as it can; try again shortly",
                {"in_flight": self.new_calls, "limit": self.max_new_calls},
            )(scope, receive, send)
            return
        behind = self._running_behind() if new_call else None
        if behind is not None:
            await _overloaded(
                "new_call_refused", "the service is running behind; try again shortly", behind
            )(scope, receive, send)
            return
        started = False
        webhook = scope["method"] == "POST" and _path(scope).startswith(WEBHOOKS)
        arrived = time.perf_counter()

        counted = 1 if new_call else 0
        self.new_calls += counted

        def release() -> None:
            nonlocal counted
            self.new_calls -= counted
            counted = 0

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                if webhook:
                    self.saturation.answered(time.perf_counter() - arrived)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Free once the answer goes out, not when the app returns: work inside the
                # app (the route's clean-up) may still run after it, and by then the caller
                # may have sent its next request on the same connection.
                release()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if started or not is_overload(error):
                raise
            log.warning("overloaded", path=_path(scope), error=f"{type(error).__name__}: {error}")
            await _overloaded(
                "overloaded", "the service is out of capacity; try again shortly", {}
            )(scope, receive, send)
        finally:
            release()

    def _running_behind(self) -> dict[str, Any] | None:
        behind = self.saturation.behind()
        if (behind is not None) != self.behind:
            # Once per change: a sustained overload is one line, not one per call.
            self.behind = behind is not None
            if behind is not None:
                log.warning("refusing new calls: the service is running behind", **behind)
            else:
                log.info("admitting new calls again")
        return behind


def is_overload(error: BaseException) -> bool:
    """Errors of a database out of capacity, which a retry a little later gets past. (Redis
    errors never get here: the app answers them as ``bus_unavailable``, see problems.py.)"""
    if isinstance(error, sa_exc.TimeoutError):
        return True  # no pooled connection came in time
    if isinstance(error, sa_exc.OperationalError):
        return any(words in str(error).lower() for words in _OUT_OF_CONNECTIONS)
    return False


def _overloaded(error_id: str, message: str, details: dict[str, Any]) -> Any:
    return problem(
        503,
        error_id,
        message,
        {"retry_after": SHED_RETRY_AFTER_SECONDS, **details},
        headers={"Retry-After": str(SHED_RETRY_AFTER_SECONDS)},
    )


def _path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path.removeprefix(root) if root and path.startswith(root) else path


class Metrics:
    """Count and time requests by route template, so ids do not explode the label set."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "callcenter_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "callcenter_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_template(scope)
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
