"""FastAPI dependencies over what the app factory put on ``app.state``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import redis
from fastapi import Depends, Request
from sqlmodel import Session

from callcenter.db import reading
from callcenter.settings import Settings
from callcenter.types import Clock


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield reading(session, request.method)


def get_bus(request: Request) -> redis.Redis:
    bus: redis.Redis = request.app.state.bus
    return bus


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_secret_key(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


SessionDep = Annotated[Session, Depends(get_session)]
BusDep = Annotated[redis.Redis, Depends(get_bus)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SecretKeyDep = Annotated[str, Depends(get_secret_key)]
