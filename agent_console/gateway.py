"""``WS /ws/console``: the only way a browser hears about calls.

The gateway authenticates the socket with the same bearer token as the API (sent in the
first message, never in the URL) and closes it when that token expires. Events come from
this process's hub (one reader of the Redis stream per process), so an event published by
any process reaches a console connected to any uvicorn worker. Each console sees only what
its role may: an agent its own offers (with the screen pop), calls and state; a station's
staff their station's order and SLA events; supervisors everything, plus the wall. A
console that reconnects sends the id of the last event it saw and first receives what it
missed.

A console that says ``"batch": true`` when it signs in takes what reaches it together (a
call's arrival is several events at once, a reconnect many) as one message, a JSON array of
the frames it would otherwise have received one by one, in the same order, at most
``MESSAGE_FRAMES`` to an array: each message is a write to the socket and a wake-up at both
ends, and the events of a burst are most of a busy floor's messages. A frame on its own
(``ready``, ``ping``, a lone event) still comes as an object.

Close codes: 4401 bad or expired token, 4408 the console fell too far behind (reconnect and
resume), 1013 the bus cannot be read (try again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from agent_console.config import ConsoleConfig
from agent_console.hub import (
    CATCH_UP_BATCH,
    ConsoleHub,
    HubContext,
    Item,
    Revoked,
    Seat,
    WallFrame,
    event_id,
)
from core.bus import Envelope
from core.errors import NotAuthenticated
from orders import Actor, actor_from_token

log = structlog.get_logger(__name__)
router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_TRY_LATER = 1013
AUTH_TIMEOUT_SECONDS = 5
PING_SECONDS = 20
EVENT_ID = re.compile(r"\d{1,20}-\d{1,20}")
MESSAGE_FRAMES = 100
"""The most frames one batched message carries: a console far behind, or reconnecting,
gets its backlog in pieces a page can take in one go."""


@dataclass(frozen=True)
class Hello:
    actor: Actor
    last_event_id: str | None
    expires_at: float
    """When the token expires, in seconds since the epoch."""
    token: str
    batch: bool = False
    """The console takes the frames of a burst as one JSON array."""


def console_config(app: FastAPI) -> ConsoleConfig:
    config: ConsoleConfig | None = getattr(app.state, "console_config", None)
    return config or ConsoleConfig()


def hub_of(app: FastAPI) -> ConsoleHub:
    """The process's hub, made when the first console connects."""
    hub: ConsoleHub | None = getattr(app.state, "console_hub", None)
    if hub is None:
        state = app.state
        hub = ConsoleHub(
            HubContext(
                redis_url=state.redis_url,
                acd=state.switchboard.acd,
                sessions=state.sessions,
                clock=state.clock,
                secret_key=state.secret_key,
                config=console_config(app),
            )
        )
        state.console_hub = hub
    return hub


@router.websocket("/ws/console")
async def console(websocket: WebSocket) -> None:
    await websocket.accept()
    hello = await _hello(websocket)
    if hello is None:
        return
    hub = hub_of(websocket.app)
    try:
        seat = await hub.join(hello.actor, hello.token)
    except TimeoutError:
        await websocket.close(code=CLOSE_TRY_LATER, reason="the event bus is unavailable")
        return
    try:
        last = await _resume_from(hub, hello.last_event_id)
        await websocket.send_json(
            {
                "type": "ready",
                "user_id": hello.actor.id,
                "role": hello.actor.role.value,
                "last_event_id": last,
                "server_time": _now(websocket),
            }
        )
        last = await _catch_up(websocket, hub, seat, last, hello.batch)
        await _live(websocket, hub, seat, last, hello)
    except WebSocketDisconnect:
        log.info("console disconnected", user=hello.actor.id)
    finally:
        hub.leave(seat)


async def _resume_from(hub: ConsoleHub, asked: str | None) -> str:
    """Where a console resumes: the id it asked for, or the stream's newest (new events
    only) when it asked for none, or for one past the newest. An id from the future (a
    clock's fault, or a hostile console) held every event back as already sent, and one
    past Redis's 64-bit range made the catch-up's read fail and the console reconnect to
    it every second."""
    newest = await hub.newest_id()
    if asked is None or event_id(asked) > event_id(newest):
        return newest
    return asked


async def _hello(websocket: WebSocket) -> Hello | None:
    message: dict[str, Any] = {}
    try:
        message = await asyncio.wait_for(websocket.receive_json(), AUTH_TIMEOUT_SECONDS)
        token = str(message["token"]) if message.get("type") == "auth" else ""
    except (TimeoutError, KeyError, ValueError, TypeError, AttributeError, WebSocketDisconnect):
        token = ""
    try:
        actor = await _authenticate(websocket, token)
    except NotAuthenticated as exc:
        await websocket.close(code=CLOSE_UNAUTHENTICATED, reason=exc.message[:120])
        return None
    # The signature was checked just now; only the expiry is read here.
    claims = jwt.decode(token, options={"verify_signature": False})
    last = str(message.get("last_event_id") or "")
    # Anything but a stream id (a console's bug, or a hostile one) is read as "new only".
    return Hello(
        actor,
        last if EVENT_ID.fullmatch(last) else None,
        float(claims["exp"]),
        token,
        batch=message.get("batch") is True,
    )


async def _authenticate(websocket: WebSocket, token: str) -> Actor:
    state = websocket.app.state

    def check() -> Actor:
        with state.sessions() as session:
            return actor_from_token(
                session, token=token, secret=state.secret_key, clock=state.clock
            )

    return await run_in_threadpool(check)


async def _catch_up(
    websocket: WebSocket, hub: ConsoleHub, seat: Seat, last: str, batch: bool
) -> str:
    """Send what this console missed since ``last``; returns the id it is now at."""
    while True:
        missed = await hub.after(last)
        texts = [
            await _event_text(hub, envelope, seat.actor.id)
            for envelope in missed
            if seat.sees(envelope)
        ]
        await _send(websocket, texts, batch)
        if missed:
            last = missed[-1].id
        if len(missed) < CATCH_UP_BATCH:
            return last


async def _live(websocket: WebSocket, hub: ConsoleHub, seat: Seat, last: str, hello: Hello) -> None:
    loop = asyncio.get_running_loop()
    listener = asyncio.create_task(_drain(websocket))
    getter: asyncio.Task[Item] | None = None
    next_ping = loop.time() + PING_SECONDS
    try:
        while not listener.done():
            left = hello.expires_at - websocket.app.state.clock().timestamp()
            if left <= 0:
                await websocket.close(code=CLOSE_UNAUTHENTICATED, reason="session expired")
                return
            if seat.revoked is not None:
                await websocket.close(code=CLOSE_UNAUTHENTICATED, reason=seat.revoked[:120])
                return
            if seat.overflowed:
                await websocket.close(code=CLOSE_TOO_SLOW, reason="too far behind; resume")
                return
            getter = getter or asyncio.create_task(seat.queue.get())
            wait = max(0.0, min(next_ping - loop.time(), left))
            done, _ = await asyncio.wait(
                {getter, listener}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if getter in done:
                first, getter = getter.result(), None
                # What the hub had handed over with it goes out now: one wait per burst (a
                # call's arrival is several events at once), not one per frame. Only that
                # much: a steady stream must not keep the checks above from running.
                burst = [first, *(seat.queue.get_nowait() for _ in range(seat.queue.qsize()))]
                last = await _deliver(websocket, hub, seat, burst, last, hello.batch)
            elif loop.time() >= next_ping:
                # Nothing is waiting for this console: every event up to the hub's position
                # was sent or was not for it, so it may resume from there.
                newest = max(last, hub.position, key=event_id)
                await websocket.send_json(
                    {"type": "ping", "last_event_id": newest, "server_time": _now(websocket)}
                )
                next_ping = loop.time() + PING_SECONDS
    finally:
        tasks = [task for task in (listener, getter) if task is not None]
        for task in tasks:  # all cancelled first: awaiting one may raise
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task


async def _deliver(
    websocket: WebSocket, hub: ConsoleHub, seat: Seat, burst: list[Item], last: str, batch: bool
) -> str:
    """Send a burst; returns the id of the newest event sent."""
    texts = []
    for item in burst:
        if isinstance(item, Revoked):
            break  # closed at the top of the loop
        if isinstance(item, WallFrame):
            texts.append(item.text)
        elif event_id(item.id) > event_id(last):  # else already sent while catching up
            texts.append(await _event_text(hub, item, seat.actor.id))
            last = item.id
    await _send(websocket, texts, batch)
    return last


async def _send(websocket: WebSocket, texts: list[str], batch: bool) -> None:
    if not batch:
        for text in texts:
            await websocket.send_text(text)
        return
    for start in range(0, len(texts), MESSAGE_FRAMES):
        chunk = texts[start : start + MESSAGE_FRAMES]
        await websocket.send_text(chunk[0] if len(chunk) == 1 else f"[{','.join(chunk)}]")


async def _drain(websocket: WebSocket) -> None:
    """Consoles only say pong; reading also notices when they go away. Whatever else a
    console sends, a binary frame too, is read and let be."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))


async def _event_text(hub: ConsoleHub, envelope: Envelope, reader: int | None) -> str:
    # The event's data goes out as the stream holds it: encoded once, when published, not
    # once more for every console that sees it.
    data = envelope.raw or json.dumps(envelope.data, ensure_ascii=False)
    head = json.dumps({"type": "event", "id": envelope.id, "name": envelope.name})
    text = f'{head[:-1]},"data":{data}}}'
    offered = envelope.name in ("call.offered", "call.consult_offered")
    if offered and envelope.data.get("agent_id") == reader:
        # Stored as the console's JSON when the call arrived: spliced in, not read and
        # written again for every offer. Only the agent offered the call gets it: a
        # supervisor sees every offer, and the pop came to the wall with call.ringing.
        pop = await hub.screen_pop(envelope.data["call_id"])
        text = f'{text[:-1]},"pop":{pop or "null"}}}'
    return text


def _now(websocket: WebSocket) -> str:
    clock = websocket.app.state.clock
    return str(clock().isoformat())
