"""Agent presence, kept in Redis so every process sees the same agents.

States and the moves between them are explicit; every change publishes
``agent.state_changed``. ``reconcile`` repairs agents left in a call state by a crash.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import redis
from pydantic import BaseModel

from core.bus import Event, EventBus
from core.types import Clock
from telephony import lua_scripts
from telephony.constants import AGENT, AGENTS, AVAILABLE, PRESENCE_CHANGES
from telephony.exceptions import (
    AgentMovedMeanwhile,
    AgentNotOffered,
    AgentNotOnCall,
    InvalidAgentState,
)

NEXT_CHANGE_SCRIPT = lua_scripts.source("changes.lua") + "return next_change(KEYS[1], ARGV[1])"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    OFFERED = "offered"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"


S = AgentState
MOVES: dict[S, frozenset[S]] = {
    S.LOGGED_OUT: frozenset({S.AVAILABLE, S.BREAK}),
    S.AVAILABLE: frozenset({S.OFFERED, S.BREAK, S.LOGGED_OUT}),
    S.OFFERED: frozenset({S.ON_CALL, S.AVAILABLE, S.BREAK}),
    S.ON_CALL: frozenset({S.WRAP_UP}),
    S.WRAP_UP: frozenset({S.AVAILABLE, S.BREAK, S.LOGGED_OUT}),
    S.BREAK: frozenset({S.AVAILABLE, S.LOGGED_OUT}),
}
# States an agent may choose; the others are set by the ACD as calls come and go.
CHOSEN = frozenset({S.AVAILABLE, S.BREAK, S.LOGGED_OUT, S.WRAP_UP})
CHOICES: dict[S, frozenset[S]] = {
    state: frozenset() if state is S.OFFERED else MOVES[state] & CHOSEN for state in S
}
"""What an agent may choose from each state. A ringing call is answered or declined,
never left by a choice: it would ring on for an agent who is no longer there."""


class Agent(BaseModel):
    agent_id: int
    state: AgentState = AgentState.LOGGED_OUT
    since: datetime
    reason: str = ""
    call_id: str | None = None
    queues: list[str] = []
    skills: list[str] = []
    extension: str | None = None
    """Where to ring the agent: ``client:NAME`` or ``sip:USER@HOST``; default by id."""
    missed_offers: int = 0
    changes: int = 0
    """Order of the last state change across all agents; ties on ``since`` go by this."""
    wrap_up_until: datetime | None = None


class AgentStateChanged(Event):
    name = "agent.state_changed"
    agent_id: int
    state: AgentState
    previous: AgentState
    reason: str
    call_id: str | None
    at: datetime
    changes: int
    """The move's number in the count of presence changes (``Agent.changes``): moves made
    by different processes can be published out of order, and this number orders them."""
    left_call_id: str | None = None
    """The call this move took the agent off: the one they were offered (declined, rung
    out, withdrawn) or on (its wrap-up over). A channel stops what still rings them for it."""


class Presence:
    def __init__(self, client: redis.Redis, bus: EventBus, *, clock: Clock) -> None:
        # redis-py types the sync client's replies as ``Awaitable | Any``, one set of commands
        # serving both clients: the casts say what Redis returns.
        self.client = client
        self.bus = bus
        self.clock = clock
        self._next_change_script = client.register_script(NEXT_CHANGE_SCRIPT)

    def get(self, agent_id: int) -> Agent:
        raw = cast("dict[Any, Any]", self.client.hgetall(AGENT.format(agent_id=agent_id)))
        return self._agent(agent_id, raw)

    def all(self) -> list[Agent]:
        ids = sorted(int(i) for i in cast("set[str | bytes]", self.client.smembers(AGENTS)))
        # One round trip for all agents (the wall and the worker's sweeps read them all).
        pipe = self.client.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(AGENT.format(agent_id=agent_id))
        return [self._agent(i, raw) for i, raw in zip(ids, pipe.execute(), strict=True)]

    def index_available(self) -> None:
        """Rebuild the index of available agents (by queue, scored by the moment each
        became available) from their records: run as a process starts, for agents who
        became available before the index existed. A move racing this leaves at most a
        stale entry, which the ACD's dispatch passes over (it reads the agent's record)
        and the agent's next move removes."""
        pipe = self.client.pipeline(transaction=False)
        for agent in self.all():
            if agent.state is AgentState.AVAILABLE:
                for queue in agent.queues:
                    pipe.zadd(AVAILABLE.format(queue=queue), {str(agent.agent_id): _score(agent)})
        pipe.execute()

    def _agent(self, agent_id: int, raw: dict[Any, Any]) -> Agent:
        if not raw:
            return Agent(agent_id=agent_id, since=self.clock())
        # Each field is stored as JSON (see _fields): joined into one document, the agent is
        # parsed in one pass, four times faster than decoding field by field. The ACD reads
        # every agent on each dispatch.
        fields = _decoded(raw) if isinstance(next(iter(raw)), bytes) else raw
        document = ",".join(f'"{k}":{v}' for k, v in fields.items())
        return Agent.model_validate_json("{" + document + "}")

    def log_in(
        self, agent_id: int, *, queues: list[str], skills: list[str], extension: str | None = None
    ) -> Agent:
        """Join queues and become available; refused while a call rings for the agent."""
        profile = {"queues": queues, "skills": skills, "extension": extension}
        return self.move(
            agent_id,
            AgentState.AVAILABLE,
            allow_same=True,
            chosen=True,
            profile=profile,
            missed_offers=0,
        )

    def choose(self, agent_id: int, state: AgentState, *, reason: str = "") -> Agent:
        """A state the agent (or a supervisor) picks; call states are the ACD's.

        While a call rings for the agent, the only ways on are to answer or to decline it:
        a break or "available" pressed then would leave the offer ringing for nobody.
        Choosing "available" clears the count of missed offers.
        """
        if state not in CHOSEN:
            raise InvalidAgentState(
                f"{state.value} is set by the ACD, not chosen",
                details={"state": state.value, "choosable": sorted(s.value for s in CHOSEN)},
            )
        return self.move(
            agent_id,
            state,
            reason=reason,
            chosen=True,
            missed_offers=0 if state is S.AVAILABLE else None,
        )

    def move(
        self,
        agent_id: int,
        state: AgentState,
        *,
        reason: str = "",
        call_id: str | None = None,
        wrap_up_seconds: int | None = None,
        allow_same: bool = False,
        missed_offers: int | None = None,
        chosen: bool = False,
        offered: str | None = None,
        talking: str | None = None,
        profile: dict[str, Any] | None = None,
        read_at_change: int | None = None,
    ) -> Agent:
        """Move the agent, checked and written as one step against concurrent moves.

        ``offered`` names the call the agent must be offered now (the ACD's moves out of an
        offer), ``talking`` the call they must be on now (its end); ``chosen`` marks the
        agent's own choice, which an offer refuses; ``profile`` (queues, skills, extension)
        is written in the same step. ``read_at_change`` is the agent's ``changes`` as the
        caller read them: the move is refused if the agent has moved since.
        """
        key = AGENT.format(agent_id=agent_id)
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]  # unannotated in redis-py
                    # Watching, the pipeline runs commands at once and returns their replies.
                    agent = self._agent(agent_id, cast("dict[Any, Any]", pipe.hgetall(key)))
                    same = state is agent.state and allow_same
                    if same and profile is None:
                        pipe.reset()
                        return agent
                    if read_at_change is not None and agent.changes != read_at_change:
                        raise AgentMovedMeanwhile(
                            f"agent {agent_id} changed state since they were read",
                            details={"agent_id": agent_id, "state": agent.state.value},
                        )
                    _check_move(
                        agent, state, chosen=chosen, offered=offered, talking=talking, same=same
                    )
                    moved = (
                        agent.model_copy()
                        if same
                        else self._moved(agent, state, reason, call_id, wrap_up_seconds)
                    )
                    if missed_offers is not None:
                        moved.missed_offers = missed_offers
                    if profile is not None:
                        moved = moved.model_copy(update=profile)
                    pipe.multi()
                    pipe.hset(key, mapping=_fields(moved))
                    pipe.sadd(AGENTS, agent_id)
                    # The index of available agents changes in the same transaction.
                    for queue in agent.queues:
                        pipe.zrem(AVAILABLE.format(queue=queue), agent_id)
                    if moved.state is AgentState.AVAILABLE:
                        for queue in moved.queues:
                            pipe.zadd(AVAILABLE.format(queue=queue), {str(agent_id): _score(moved)})
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        if same:
            return moved
        self.bus.publish(
            AgentStateChanged(
                agent_id=agent_id,
                state=state,
                previous=agent.state,
                reason=reason,
                call_id=moved.call_id,
                at=moved.since,
                changes=moved.changes,
                left_call_id=agent.call_id if agent.call_id != moved.call_id else None,
            )
        )
        return moved

    def _moved(
        self,
        agent: Agent,
        state: AgentState,
        reason: str,
        call_id: str | None,
        wrap_up_seconds: int | None,
    ) -> Agent:
        now = self.clock()
        update: dict[str, Any] = {
            "state": state,
            "since": now,
            "reason": reason,
            "call_id": call_id if state in {S.OFFERED, S.ON_CALL, S.WRAP_UP} else None,
            "wrap_up_until": None,
            "changes": self._next_change(now),
        }
        if wrap_up_seconds is not None:
            update["wrap_up_until"] = datetime.fromtimestamp(
                now.timestamp() + wrap_up_seconds, tz=now.tzinfo
            )
        return agent.model_copy(update=update)

    def _next_change(self, now: datetime) -> int:
        """The next number of the count of presence changes, which the ACD's scripts
        count in too (the rule is in lua/changes.lua)."""
        return cast(int, self._next_change_script(keys=[PRESENCE_CHANGES], args=[now.timestamp()]))

    def finish_wrap_ups(self) -> list[Agent]:
        """Agents whose timed wrap-up is over become available again.

        An agent who moved after the sweep read them (a break or log-out picked as the
        wrap-up ran out, or a new call's wrap-up) is left as they now are.
        """
        now = self.clock()
        finished = []
        for agent in self.all():
            over = agent.wrap_up_until is not None and agent.wrap_up_until <= now
            if agent.state is not AgentState.WRAP_UP or not over:
                continue
            with contextlib.suppress(AgentMovedMeanwhile):
                finished.append(
                    self.move(
                        agent.agent_id,
                        AgentState.AVAILABLE,
                        reason="wrap-up over",
                        read_at_change=agent.changes,
                    )
                )
        return finished

    def reconcile(self, live_call_ids: Callable[[], set[str]]) -> list[Agent]:
        """Agents offered or on a call that no longer exists go to wrap-up.

        After a crash or restart nobody may stay ``on_call`` without a call: the most
        common fault of open-source call centers. The live calls are read after the
        agents: a call logged and offered between two such reads the other way round
        looked gone, and its ringing agent was freed.
        """
        repaired = []
        agents = self.all()
        live = live_call_ids()
        for agent in agents:
            stuck = agent.state in {S.OFFERED, S.ON_CALL} and agent.call_id not in live
            if not stuck:
                continue
            target = S.WRAP_UP if agent.state is S.ON_CALL else S.AVAILABLE
            # The call's own hang-up, or the agent's next call, may have moved the agent
            # since they were read: then there is nothing left to repair.
            with contextlib.suppress(AgentMovedMeanwhile):
                repaired.append(
                    self.move(
                        agent.agent_id,
                        target,
                        reason="reconciled: call gone",
                        wrap_up_seconds=0 if target is S.WRAP_UP else None,
                        read_at_change=agent.changes,
                    )
                )
        return repaired


def _score(agent: Agent) -> float:
    return agent.since.timestamp()


def _fields(agent: Agent) -> dict[str, str]:
    return {k: json.dumps(v) for k, v in agent.model_dump(mode="json").items()}


def _check_move(
    agent: Agent,
    state: AgentState,
    *,
    chosen: bool,
    offered: str | None,
    talking: str | None = None,
    same: bool = False,
) -> None:
    if offered is not None and (agent.state is not S.OFFERED or agent.call_id != offered):
        raise AgentNotOffered(
            f"agent {agent.agent_id} is not offered call {offered}",
            details={"agent_id": agent.agent_id, "call_id": offered, "state": agent.state.value},
        )
    if talking is not None and (agent.state is not S.ON_CALL or agent.call_id != talking):
        raise AgentNotOnCall(
            f"agent {agent.agent_id} is not on call {talking}",
            details={"agent_id": agent.agent_id, "call_id": talking, "state": agent.state.value},
        )
    if chosen and agent.state is S.OFFERED:
        raise InvalidAgentState(
            f"a call is ringing for agent {agent.agent_id}: answer it or decline it",
            details={
                "from": agent.state.value,
                "to": state.value,
                "call_id": agent.call_id,
                "allowed": [],
                "decline": "POST /api/agents/me/decline",
            },
        )
    allowed = CHOICES[agent.state] if chosen else MOVES[agent.state]
    if state not in allowed and not same:
        raise InvalidAgentState(
            f"agent {agent.agent_id} cannot go from {agent.state.value} to {state.value}",
            details={
                "from": agent.state.value,
                "to": state.value,
                "allowed": sorted(s.value for s in allowed),
            },
        )


def _decoded(raw: dict[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
