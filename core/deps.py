"""FastAPI dependencies over the kernel's pieces that the composition root put on
``app.state``: sessions, Redis, the clock, the signing key and the phone region.

Those that only read ``app.state`` are ``async``: FastAPI runs a plain ``def`` dependency
in the threadpool, a thread hop (and, under load, a wait for a free thread) per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import redis
from fastapi import Depends, Request
from sqlmodel import Session

from core.bus import bind_events
from core.db import reading
from core.types import Clock


@contextmanager
def request_session(request: Request) -> Iterator[Session]:
    """The request's session, publishing its events on commit (``core.routes`` opens it
    in the endpoint's own thread)."""
    with request.app.state.sessions() as session:
        bind_events(session, request.app.state.events)
        yield reading(session, request.method)


def get_session(request: Request) -> Iterator[Session]:
    with request_session(request) as session:
        yield session


async def get_bus(request: Request) -> redis.Redis:
    bus: redis.Redis = request.app.state.bus
    return bus


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_secret_key(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


async def get_region(request: Request) -> str:
    """The region that phone numbers without a country code are read in."""
    region: str = request.app.state.region
    return region


SessionDep = Annotated[Session, Depends(get_session)]
BusDep = Annotated[redis.Redis, Depends(get_bus)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SecretKeyDep = Annotated[str, Depends(get_secret_key)]
RegionDep = Annotated[str, Depends(get_region)]
