"""IVR sessions live in Redis for the length of a call, so any process can take the next step."""

from __future__ import annotations

from typing import cast

import redis

from ivr.constants import SESSION_KEY, SESSION_TTL_SECONDS
from ivr.engine import IvrSession


def save(client: redis.Redis, session: IvrSession) -> None:
    client.set(
        SESSION_KEY.format(call_id=session.call_id),
        session.model_dump_json(),
        ex=SESSION_TTL_SECONDS,
    )


def load(client: redis.Redis, call_id: str) -> IvrSession | None:
    # redis-py types the sync client's replies as ``Awaitable | Any`` (its commands serve
    # the asyncio client too): the cast says what Redis returns.
    raw = cast("str | bytes | None", client.get(SESSION_KEY.format(call_id=call_id)))
    return None if raw is None else IvrSession.model_validate_json(raw)
