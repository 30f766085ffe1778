"""``WS /ws/console``: the only way a browser hears about calls.

The gateway authenticates the socket with the same bearer token as the API (sent in the
first message, never in the URL), then reads the event stream from Redis itself, so an
event published by any process reaches a console connected to any uvicorn worker. Each
console sees only what its role may: an agent its own offers (with the screen pop),
calls and state; supervisors everything. A console that reconnects sends the id of the
last event it saw and receives what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import redis.asyncio as aioredis
import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from callcenter.bus import Envelope, parse_entries
from callcenter.constants import EVENTS_STREAM
from callcenter.errors import NotAuthenticated
from orders.enums import Role
from orders.schemas import Actor
from orders.services.users import actor_from_token
from telephony.constants import POP

log = structlog.get_logger(__name__)
router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
AUTH_TIMEOUT_SECONDS = 5
PING_SECONDS = 20
BLOCK_MS = 2000
CONSOLE_ROLES = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}
_AGENT_EVENTS = {"call.offered", "call.bridged", "call.ended", "agent.state_changed"}


def visible(actor: Actor, envelope: Envelope) -> bool:
    """What this console may see of an event (the gateway's ACL)."""
    if actor.role in {Role.SUPERVISOR, Role.ADMIN}:
        return True
    return envelope.name in _AGENT_EVENTS and envelope.data.get("agent_id") == actor.id


@router.websocket("/ws/console")
async def console(websocket: WebSocket) -> None:
    await websocket.accept()
    hello = await _hello(websocket)
    if hello is None:
        return
    actor, last_id = hello
    state = websocket.app.state
    client = aioredis.Redis.from_url(state.redis_url, decode_responses=True)
    try:
        if last_id == "$":
            last_id = await _newest_id(client)
        await websocket.send_json(
            {
                "type": "ready",
                "user_id": actor.id,
                "role": actor.role.value,
                "last_event_id": last_id,
            }
        )
        await _pump(websocket, client, actor, last_id)
    except WebSocketDisconnect:
        log.info("console disconnected", user=actor.id)
    finally:
        await client.aclose()


async def _hello(websocket: WebSocket) -> tuple[Actor, str] | None:
    try:
        message = await asyncio.wait_for(websocket.receive_json(), AUTH_TIMEOUT_SECONDS)
        token = str(message["token"]) if message.get("type") == "auth" else ""
    except (TimeoutError, KeyError, ValueError, TypeError, WebSocketDisconnect):
        token = ""
    state = websocket.app.state

    def authenticate() -> Actor:
        with state.sessions() as session:
            return actor_from_token(session, token=token, secret=state.secret_key)

    try:
        actor = await run_in_threadpool(authenticate)
    except NotAuthenticated as exc:
        await websocket.close(code=CLOSE_UNAUTHENTICATED, reason=exc.message[:120])
        return None
    if actor.role not in CONSOLE_ROLES:
        await websocket.close(
            code=CLOSE_FORBIDDEN, reason=f"role {actor.role.value} has no console"
        )
        return None
    last = str(message.get("last_event_id") or "$")
    return actor, last


async def _newest_id(client: aioredis.Redis) -> str:
    newest = await client.xrevrange(EVENTS_STREAM, count=1)
    return str(newest[0][0]) if newest else "0"


async def _pump(websocket: WebSocket, client: aioredis.Redis, actor: Actor, last_id: str) -> None:
    listener = asyncio.create_task(_drain_client(websocket))
    loop = asyncio.get_running_loop()
    next_ping = loop.time() + PING_SECONDS
    try:
        while not listener.done():
            reply = await client.xread({EVENTS_STREAM: last_id}, count=100, block=BLOCK_MS)
            for envelope in parse_entries(reply):
                last_id = envelope.id
                if visible(actor, envelope):
                    await websocket.send_text(json.dumps(await _frame(client, envelope)))
            if loop.time() >= next_ping:
                await websocket.send_json({"type": "ping", "last_event_id": last_id})
                next_ping = loop.time() + PING_SECONDS
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await listener


async def _drain_client(websocket: WebSocket) -> None:
    """Consoles only say pong; reading also notices when they go away."""
    while True:
        await websocket.receive_text()


async def _frame(client: aioredis.Redis, envelope: Envelope) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "event",
        "id": envelope.id,
        "name": envelope.name,
        "data": envelope.data,
    }
    if envelope.name == "call.offered":
        raw = await client.get(POP.format(call_id=envelope.data["call_id"]))
        frame["pop"] = json.loads(raw) if raw else None
    return frame
