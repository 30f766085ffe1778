"""Property-based run over the app's own OpenAPI document: no 5xx, nothing off its schema.

Every operation in ``/openapi.json`` is fuzzed in-process, authenticated as an admin with a
real token, against an app over a freshly migrated database (SQLite, and PostgreSQL when it
answers: it refuses inputs SQLite takes, such as NUL characters) and the machine's Redis.
A station, a customer with an address, an appliance and an order are seeded so that ids 1
exist and the deeper code paths run, not only the 404s.

Checks: ``not_a_server_error``, ``response_schema_conformance``,
``status_code_conformance`` and ``content_type_conformance``. The negative-data checks
(``negative_data_rejection``, ``positive_data_acceptance``) are left out on purpose: they
judge by JSON Schema alone, while FastAPI coerces lenient input by design (``"1"`` for an
integer in a query string) and schema-valid bodies still fail domain rules the schema cannot
express (phone numbers, dates in the future, moves of the state machine). Both would fail on
documented behaviour. Negative *generation* still runs, so malformed input is sent and must
be answered with a documented 4xx in problem JSON.
"""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import redis
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.app import create_app
from callcenter.embedded_redis import EmbeddedRedis
from callcenter.settings import Settings
from core.db import make_engine
from core.keys import WORKER_HEARTBEAT
from orders.enums import ApplianceCategory, Role
from orders.models import User
from orders.schemas import (
    SYSTEM,
    AddressIn,
    ApplianceCreate,
    CustomerCreate,
    OrderCreate,
    PhoneIn,
    StationCreate,
    UserCreate,
)
from orders.services import appliances, customers, stations, users, work_orders
from tests.conftest import OPEN_HOURS, REDIS_URL, SECRET, TestClock, at, migrated_copy

CLOCK = TestClock(OPEN_HOURS)
"""One clock for the module's app, its seed data and its token."""

# A Redis database of its own: the run writes login-failure counters and presence.
API_REDIS_URL = f"{REDIS_URL}/9"
# Per operation and phase, with shrinking off. The module takes 3.5-4 minutes of a test
# worker (330 cases over both databases); at 10 it took 5 % less: most of the time goes in
# the cases that the coverage phase generates whatever this says.
MAX_EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def _document_app() -> FastAPI:
    """The app over resources never touched, only to serve /openapi.json.

    Schemathesis parametrizes at import, before any fixture can build a database; the
    document does not depend on one. Requests go to ``api_app`` (same factory, real resources).
    """
    return create_app(
        settings=Settings(auth={"secret_key": SECRET}),
        engine=make_engine("sqlite://"),
        bus=redis.Redis.from_url(API_REDIS_URL),
        secret_key=SECRET,
        clock=CLOCK,
    )


schema = schemathesis.openapi.from_asgi("/openapi.json", _document_app())
# No example database: a run must not depend on what earlier runs found. No shrinking: a
# failure is reported as generated, instead of hundreds more requests to minimise it.
schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none", no_shrink=True)


@pytest.fixture(scope="module")
def api_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis when it answers, else a private embedded one."""
    try:
        redis.Redis.from_url(API_REDIS_URL).ping()
    except redis.ConnectionError:
        embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
        yield embedded.start()
        embedded.stop()
        return
    yield API_REDIS_URL


@pytest.fixture(scope="module")
def api_bus(api_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(api_redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database of the run's own: it commits, unlike the rolled-back ``db`` fixture."""
    directory = tmp_path_factory.mktemp("schemathesis")
    with migrated_copy(request, request.param, directory) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def admin_id(api_engine: Engine) -> int:
    """Seed a station, an admin, a customer, an appliance and an order; the admin's id."""
    with Session(api_engine, expire_on_commit=False) as session:
        station = StationCreate(code="ST01", name="朝阳服务站")
        stations.create_station(session, data=station, actor=SYSTEM, clock=CLOCK)
        admin = users.create_user(
            session,
            data=UserCreate(username="admin", role=Role.ADMIN, password="schemathesis-admin"),
            actor=SYSTEM,
            clock=CLOCK,
        )
        address = AddressIn(
            province="北京市", city="北京市", district="朝阳区", street="建国路88号"
        )
        customer = customers.create_customer(
            session,
            data=CustomerCreate(
                name="王建国", phones=[PhoneIn(number="13800138000")], addresses=[address]
            ),
            actor=SYSTEM,
            clock=CLOCK,
        )
        appliance = appliances.create_appliance(
            session,
            data=ApplianceCreate(
                customer_id=customer.id,
                category=ApplianceCategory.WASHING_MACHINE,
                brand="海尔",
                purchase_date=at(2025, 3, 1).date(),
                has_invoice=True,
            ),
            actor=SYSTEM,
            clock=CLOCK,
        )
        work_orders.create_order(
            session,
            data=OrderCreate(customer_id=customer.id, appliance_id=appliance.id),
            actor=SYSTEM,
            clock=CLOCK,
        )
        assert admin.id is not None
        return admin.id


@pytest.fixture(scope="module")
def api_app(
    tmp_path_factory: pytest.TempPathFactory,
    api_engine: Engine,
    api_bus: redis.Redis,
    api_redis_url: str,
    admin_id: int,
) -> FastAPI:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), auth={"secret_key": SECRET})
    return create_app(
        settings=settings,
        engine=api_engine,
        bus=api_bus,
        secret_key=SECRET,
        redis_url=api_redis_url,
        clock=CLOCK,
    )


@pytest.fixture(scope="module")
def auth(api_engine: Engine, admin_id: int) -> dict[str, str]:
    with Session(api_engine) as session:
        admin = session.get(User, admin_id)
        assert admin is not None
        token = users.issue_token(admin, secret=SECRET, minutes=60, clock=CLOCK).access_token
    return {"Authorization": f"Bearer {token}"}


def _restore_admin(engine: Engine, admin_id: int) -> None:
    # PATCH /api/users/{id} may demote or disable the very admin whose token the run uses;
    # put it back so later cases still reach the routes instead of a wall of 401/403.
    with engine.begin() as connection:
        connection.execute(
            update(User)
            .where(User.id == admin_id)  # type: ignore[arg-type]
            .values(role=Role.ADMIN, is_active=True, station_id=None)
        )


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case,
    api_app: FastAPI,
    auth: dict[str, str],
    api_engine: Engine,
    admin_id: int,
    api_bus: redis.Redis,
) -> None:
    # A worker beats, as in a running service; without one /readyz rightly answers 503.
    api_bus.set(WORKER_HEARTBEAT, CLOCK().isoformat())
    try:
        case.call_and_validate(app=api_app, headers=auth, checks=CHECKS)
    finally:
        if case.operation.label == "PATCH /api/users/{user_id}":
            _restore_admin(api_engine, admin_id)
