"""A route whose sync endpoint opens its session in its own thread keeps what
``get_session`` promises: its work is committed when it commits, rolled back when it
fails, and the endpoint's other parameters arrive as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.db import ServiceSession, make_engine
from core.deps import SessionDep
from core.routes import OneThreadRoute, in_one_thread


class Refused(Exception):
    pass


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'notes.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def _notes(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT body FROM note"))]


@pytest.fixture
def client(database: Engine) -> Iterator[TestClient]:
    router = APIRouter(route_class=OneThreadRoute)

    @router.post("/notes")
    def add(session: SessionDep, body: str = Query()) -> Response:
        session.execute(text("INSERT INTO note (body) VALUES (:body)"), {"body": body})
        session.commit()
        return Response(status_code=201)

    @router.post("/refused")
    def refuse(session: SessionDep, body: str = Query()) -> Response:
        session.execute(text("INSERT INTO note (body) VALUES (:body)"), {"body": body})
        session.flush()
        raise Refused(body)

    @router.post("/uncommitted")
    def leave(session: SessionDep, body: str = Query()) -> Response:
        session.execute(text("INSERT INTO note (body) VALUES (:body)"), {"body": body})
        return Response(status_code=202)

    @router.get("/echo")
    def echo(request: Request, session: SessionDep, word: str = Query()) -> Response:
        count = session.execute(text("SELECT count(*) FROM note")).scalar_one()
        return Response(f"{request.url.path} {word} {count}")

    app = FastAPI()
    app.state.sessions = lambda: ServiceSession(database, expire_on_commit=False)
    app.state.events = None
    app.include_router(router)

    @app.exception_handler(Refused)
    def refused(_request: Request, exc: Refused) -> Response:
        return Response(f"refused {exc}", status_code=409)

    with TestClient(app) as test_client:
        yield test_client


def test_a_committed_write_is_kept(client: TestClient, database: Engine) -> None:
    assert client.post("/notes", params={"body": "kept"}).status_code == 201
    assert _notes(database) == ["kept"]


def test_a_failed_request_leaves_nothing(client: TestClient, database: Engine) -> None:
    response = client.post("/refused", params={"body": "lost"})
    assert (response.status_code, response.text) == (409, "refused lost")
    assert _notes(database) == []
    # The session was closed: the next request writes, it does not wait on a lock.
    assert client.post("/notes", params={"body": "after"}).status_code == 201
    assert _notes(database) == ["after"]


def test_work_not_committed_is_rolled_back(client: TestClient, database: Engine) -> None:
    assert client.post("/uncommitted", params={"body": "dropped"}).status_code == 202
    assert _notes(database) == []


def test_the_endpoint_keeps_its_own_request_and_parameters(client: TestClient) -> None:
    client.post("/notes", params={"body": "one"})
    response = client.get("/echo", params={"word": "hello"})
    assert (response.status_code, response.text) == (200, "/echo hello 1")
    assert client.get("/echo").status_code == 422  # a missing parameter is still refused


def test_endpoints_without_a_session_and_async_ones_are_left_as_they_are() -> None:
    def plain(word: str) -> str:
        return word

    async def coroutine(session: SessionDep) -> None:
        return None

    assert in_one_thread(plain) is plain
    assert in_one_thread(coroutine) is coroutine
