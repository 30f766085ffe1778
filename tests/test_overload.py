"""Past saturation: new calls are refused with 503 and Retry-After, never a 500, and the
calls already in progress go on.

A real uvicorn on a loopback port is flooded with signed new-call webhooks while every
new call it admits is held in a request thread, as a saturated database or CPU holds it.
The app runs as deployed, a session per request (the ``app`` fixture's one shared session
cannot serve requests from many threads at once), over a database of its own.
No timings are asserted: the bounded waits below only keep a failing run from hanging.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from callcenter.app import create_app
from callcenter.middleware import SHED_RETRY_AFTER_SECONDS, is_overload
from callcenter.settings import HttpSettings, Settings
from core.db import make_engine
from telephony.models import Call
from tests.conftest import (
    DATABASES,
    SECRET,
    TWILIO_ACCOUNT_SID,
    TestClock,
    migrated_copy,
)
from tests.live_server import serve
from tests.twilio_sim import TwilioSimulator, TwiML

REQUEST_THREADS = 40
"""anyio's default limit, which every sync route and dependency of the app shares."""
FLOOD = REQUEST_THREADS + 8
"""More new calls at once than there are request threads."""
DEADLINE_S = 15.0
"""Twilio's webhook timeout: an answer later than this is a call dropped."""


class Gate:
    def __init__(self) -> None:
        self.open = threading.Event()
        self.held = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        """The server's event loop, noted by its first request."""
        self.slow_steps = 0.0
        """How long each webhook of a call in progress takes, as on a saturated CPU."""


class HoldNewCalls:
    """Innermost middleware of the test: every admitted new call waits in a request thread
    until the gate opens, and only then reaches its route; every other webhook takes the
    gate's ``slow_steps`` first."""

    def __init__(self, app: ASGIApp, *, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.gate.loop = asyncio.get_running_loop()
        if scope["type"] == "http" and (scope["method"], scope["path"]) == (
            "POST",
            "/twilio/voice",
        ):
            self.gate.held += 1
            await anyio.to_thread.run_sync(self.gate.open.wait)
        elif scope["type"] == "http" and scope["path"].startswith("/twilio/"):
            await anyio.to_thread.run_sync(time.sleep, self.gate.slow_steps)
        await self.app(scope, receive, send)


@pytest.fixture(params=DATABASES)
def own_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database for this test alone: its requests commit, as in production."""
    with migrated_copy(request, request.param, tmp_path) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@pytest.fixture
def live_app(
    settings: Settings,
    own_engine: Engine,
    bus: redis.Redis,
    redis_url: str,
    clock: TestClock,
    gate: Gate,
) -> Any:
    app = create_app(
        settings=settings,
        engine=own_engine,
        bus=bus,
        secret_key=SECRET,
        redis_url=redis_url,
        clock=clock,
    )
    # Appended, it sits inside the app's own middleware (so inside admission control).
    app.user_middleware.append(Middleware(HoldNewCalls, gate=gate))
    return app


@pytest.fixture
def twilio(live_app: Any, gate: Gate) -> Iterator[TwilioSimulator]:
    """Twilio posting to the live server (the simulator only needs ``post``)."""
    with (
        serve(live_app) as address,
        httpx.Client(
            base_url=f"http://{address}",
            timeout=2 * DEADLINE_S,  # past the waits below, so they fail first, clearly
            limits=httpx.Limits(max_connections=FLOOD + 8),
        ) as http,
    ):
        yield TwilioSimulator(http)  # type: ignore[arg-type]
        gate.open.set()  # before the server stops, or its held threads would keep it


def _new_call(twilio: TwilioSimulator, sid: str | None = None) -> httpx.Response:
    params = {
        "CallSid": sid or "CA" + uuid.uuid4().hex,
        "AccountSid": TWILIO_ACCOUNT_SID,
        "From": f"+86139{uuid.uuid4().int % 10**8:08d}",
        "To": twilio.hotline,
        "Direction": "inbound",
        "CallStatus": "ringing",
    }
    return twilio.post("/twilio/voice", params)


def _until(condition: Any, what: str) -> None:
    assert _until_or_not(condition), what


def _until_or_not(condition: Any) -> bool:
    """Wait for ``condition``, at most Twilio's deadline; whether it came."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def production_limits(settings: Settings) -> None:
    """The saturation limits as deployed (the suite's settings raise them, see conftest)."""
    defaults = HttpSettings()
    settings.http.max_loop_lag_ms = defaults.max_loop_lag_ms
    settings.http.max_webhook_answer_ms = defaults.max_webhook_answer_ms


@pytest.fixture
def in_flight_only(settings: Settings) -> None:
    """Only the in-flight cap sheds: the flood's 48 client threads share the server's
    process and its GIL, and the admitted calls are held for as long as the test needs."""
    settings.http.max_loop_lag_ms = 10_000
    settings.http.max_webhook_answer_ms = 10_000


@pytest.mark.usefixtures("in_flight_only")
def test_a_flood_of_new_calls_is_shed_and_the_call_in_progress_goes_on(
    twilio: TwilioSimulator, gate: Gate, settings: Settings
) -> None:
    cap = settings.http.max_new_calls_in_flight
    assert cap < REQUEST_THREADS
    # A call that began before the flood, waiting at the main menu.
    gate.open.set()
    in_progress = twilio.call("+8613800138000")
    assert in_progress.twiml.gather() is not None
    gate.open.clear()
    gate.held = 0

    with ThreadPoolExecutor(max_workers=FLOOD) as pool:
        flood: list[Future[httpx.Response]] = [pool.submit(_new_call, twilio) for _ in range(FLOOD)]
        _until(lambda: gate.held >= cap, "the new calls never reached the service")
        # Saturated: the admitted new calls hold their threads. Every other new call is
        # answered now, with a refusal it can retry, not left waiting for a thread.
        _until_or_not(lambda: sum(f.done() for f in flood) >= FLOOD - cap)
        done = [f for f in flood if f.done()]
        refused = [f.result() for f in done]
        assert len(refused) == FLOOD - cap, (
            f"{len(refused)} of the {FLOOD - cap} new calls over the limit of {cap} were "
            f"answered while the service was saturated; the others were left waiting"
        )
        assert gate.held == cap
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == str(SHED_RETRY_AFTER_SECONDS)
            assert response.json()["error_id"] == "new_call_refused"

        # Meanwhile the call in progress is served: its next step, then its hang-up.
        menu = in_progress.press("0")
        assert menu.verbs()[-1] == "Enqueue", menu.verbs()
        assert in_progress.status("completed").status_code == 204

        gate.open.set()
        admitted = [f.result() for f in flood if f not in done]
    assert len(admitted) == cap
    for response in admitted:
        assert TwiML.parse(response).gather() is not None  # 200, the IVR's first step
    assert all(r.status_code != 500 for r in refused + admitted)
    # Room again: the next new call is admitted.
    assert _new_call(twilio).status_code == 200


class Staller:
    """Keeps the server's event loop busy most of the time, as a saturated CPU does: every
    ``every`` seconds the loop runs a step that takes ``stall`` seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stall: float, every: float) -> None:
        self.loop, self.stall, self.every = loop, stall, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.loop.call_soon_threadsafe(time.sleep, self.stall)
            self.stop.wait(self.every)

    def __enter__(self) -> Staller:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def one_new_call_at_a_time(settings: Settings) -> None:
    settings.http.max_new_calls_in_flight = 1


@pytest.mark.usefixtures("in_flight_only", "one_new_call_at_a_time")
def test_new_calls_one_after_another_on_one_connection_are_all_admitted(
    twilio: TwilioSimulator, gate: Gate
) -> None:
    """A new call's slot is free once its answer is sent: the next request on the same
    connection can come before the route's clean-up has run (wrk's 8 connections met the
    cap of 8 and were refused)."""
    gate.open.set()

    statuses = [_new_call(twilio).status_code for _ in range(40)]

    assert statuses == [200] * 40


def _gauge(twilio: TwilioSimulator, name: str) -> float:
    """A figure the service reports to its operators (``GET /metrics``)."""
    for family in text_string_to_metric_families(twilio.client.get("/metrics").text):
        if family.name == name:
            return float(family.samples[0].value)
    raise AssertionError(f"/metrics does not report {name}")


def _loop_lag(twilio: TwilioSimulator) -> float:
    return _gauge(twilio, "callcenter_event_loop_lag_seconds")


def _answer_time(twilio: TwilioSimulator) -> float:
    return _gauge(twilio, "callcenter_webhook_answer_seconds")


def _refused_new_call(twilio: TwilioSimulator, engine: Engine) -> dict[str, Any]:
    """A new call refused with a retry later, before anything was done for it."""
    sid = "CA" + uuid.uuid4().hex
    refused = _new_call(twilio, sid)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == str(SHED_RETRY_AFTER_SECONDS)
    problem: dict[str, Any] = refused.json()
    assert problem["error_id"] == "new_call_refused"
    assert _calls_logged(engine, sid) == 0
    return problem


def _calls_logged(engine: Engine, sid: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Call).where(Call.provider_id == sid)).all())


@pytest.mark.usefixtures("production_limits")
def test_a_loop_running_behind_refuses_new_calls_and_serves_the_calls_in_progress(
    twilio: TwilioSimulator, gate: Gate, settings: Settings, own_engine: Engine
) -> None:
    """Answered quickly, few new calls are ever in flight at once, however saturated the CPU:
    the loop's lag is what shows it, and sheds them."""
    gate.open.set()
    limit = settings.http.max_loop_lag_ms / 1000
    in_progress = twilio.call("+8613800138000")
    assert in_progress.twiml.gather() is not None
    assert _loop_lag(twilio) < limit
    assert gate.loop is not None

    with Staller(gate.loop, stall=0.4, every=0.45):
        _until(lambda: _loop_lag(twilio) > limit, "the stalled loop never showed its lag")
        problem = _refused_new_call(twilio, own_engine)
        assert problem["details"]["loop_lag_ms"] > settings.http.max_loop_lag_ms
        # The call in progress goes on: its next step, then its hang-up.
        assert in_progress.press("0").verbs()[-1] == "Enqueue"
        assert in_progress.status("completed").status_code == 204

    _until(lambda: _loop_lag(twilio) < limit, "the loop's lag never came down")
    assert _new_call(twilio).status_code == 200


@pytest.mark.usefixtures("production_limits")
def test_webhooks_answered_late_refuse_new_calls_until_they_are_answered_in_time(
    twilio: TwilioSimulator, gate: Gate, settings: Settings, own_engine: Engine
) -> None:
    """The calls in progress saturate the process: each of their webhooks takes a second."""
    gate.open.set()
    limit = settings.http.max_webhook_answer_ms / 1000
    in_progress = twilio.call("+8613800138000")
    assert _answer_time(twilio) < limit
    gate.slow_steps = 1.0
    with ThreadPoolExecutor(max_workers=12) as pool:
        steps = list(pool.map(lambda _: in_progress.status("in-progress"), range(12)))
    assert [s.status_code for s in steps] == [204] * 12
    assert _answer_time(twilio) > limit

    problem = _refused_new_call(twilio, own_engine)
    assert problem["details"]["answer_ms"] > settings.http.max_webhook_answer_ms
    # Answered in time again: the figure fades, and new calls come in again.
    gate.slow_steps = 0.0
    assert in_progress.press("0").verbs()[-1] == "Enqueue"
    _until(lambda: _answer_time(twilio) < limit, "the webhooks' answer time never came down")
    assert _new_call(twilio).status_code == 200


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached, timed out"),
        sa_exc.OperationalError("connect", {}, Exception("FATAL: sorry, too many clients already")),
    ],
)
def test_an_overload_error_is_a_503_with_retry_after(
    app: Any, client: Any, error: Exception
) -> None:
    @app.get("/overloaded-for-the-test")
    def overloaded() -> None:
        raise error

    response = client.get("/overloaded-for-the-test")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(SHED_RETRY_AFTER_SECONDS)
    assert response.json()["error_id"] == "overloaded"


def test_only_overload_errors_count_as_overload() -> None:
    assert is_overload(sa_exc.TimeoutError("pool timed out"))
    assert not is_overload(sa_exc.OperationalError("select", {}, Exception("no such table")))
    assert not is_overload(ValueError("too many clients"))
