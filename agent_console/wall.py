"""The supervisor's wall: queues, agents, live calls, SLA clocks, complaints, the day's calls.

Built by the gateway when events arrive (at most every so often) and pushed to supervisors'
consoles; the day's figures (SLA, complaints, calls per hour) change slowly and are reused
for a while, so a busy hotline does not scan its day on every event. The figures are the
owners' own: ``orders`` counts SLA clocks and complaints, ``telephony`` counts calls. The
wall adds what a supervisor reads at a glance: which figures are past their thresholds,
and which agents have been in one state too long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from agent_console.config import ConsoleConfig
from agent_console.schemas import (
    Alert,
    Wall,
    WallAgent,
    WallComplaints,
    WallQueue,
    WallThresholds,
)
from orders import CrisisLevel, SlaFigures, complaints_by_level, sla_figures, user_names
from telephony import (
    Acd,
    AgentState,
    CallState,
    HourFigures,
    LiveCall,
    QueueFigures,
    calls_per_hour,
    live_calls,
)


@dataclass(frozen=True)
class DayFigures:
    sla: SlaFigures
    complaints_by_crisis_level: dict[int, int]
    calls_per_hour: list[HourFigures]
    at: datetime


def build_wall(
    session: Session, *, acd: Acd, now: datetime, config: ConsoleConfig, day: DayFigures
) -> Wall:
    agents = wall_agents(session, acd=acd, config=config)
    logged = live_calls(
        session,
        since=now - timedelta(hours=config.live_call_window_hours),
        limit=config.live_calls_scanned,
    )
    calls = carried_calls(logged, acd=acd, agents=agents)
    return Wall(
        at=now,
        timezone=config.timezone,
        thresholds=WallThresholds(
            service_level_warn=config.service_level_warn,
            service_level_alarm=config.service_level_alarm,
            longest_wait_warn_seconds=config.longest_wait_warn_seconds,
            longest_wait_alarm_seconds=config.longest_wait_alarm_seconds,
        ),
        queues=[wall_queue(acd.figures(queue), config) for queue in acd.queues()],
        agents=agents,
        calls=calls[: config.live_calls],
        calls_total=len(calls),
        sla=day.sla,
        # The list holds the worst of the clocks these two count, one line per clock.
        sla_total=day.sla.warning + day.sla.breached,
        complaints=[
            WallComplaints(
                level=level,
                name=level.name.lower(),
                open=day.complaints_by_crisis_level.get(level, 0),
            )
            for level in CrisisLevel
        ],
        calls_per_hour=day.calls_per_hour,
    )


def current_wall(session: Session, *, acd: Acd, now: datetime, config: ConsoleConfig) -> Wall:
    """The wall built from scratch (the REST view; the hub reuses the day's figures)."""
    day = day_figures(session, now=now, config=config)
    return build_wall(session, acd=acd, now=now, config=config, day=day)


def day_figures(session: Session, *, now: datetime, config: ConsoleConfig) -> DayFigures:
    return DayFigures(
        sla=sla_figures(session, now=now, listed=config.sla_orders, zone=config.zone),
        complaints_by_crisis_level=complaints_by_level(session),
        calls_per_hour=calls_per_hour(session, now=now, zone=config.zone),
        at=now,
    )


def wall_queue(figures: QueueFigures, config: ConsoleConfig) -> WallQueue:
    level = figures.service_level
    return WallQueue(
        **figures.model_dump(),
        # No call answered or abandoned yet: nothing to judge.
        service_level_alert="ok"
        if level is None
        else below(level, warn=config.service_level_warn, alarm=config.service_level_alarm),
        longest_wait_alert=above(
            figures.longest_wait_seconds,
            warn=config.longest_wait_warn_seconds,
            alarm=config.longest_wait_alarm_seconds,
        ),
    )


def above(value: float, *, warn: float, alarm: float) -> Alert:
    """Where ``value`` stands when more is worse."""
    if value > alarm:
        return "alarm"
    return "warning" if value > warn else "ok"


def below(value: float, *, warn: float, alarm: float) -> Alert:
    """Where ``value`` stands when less is worse."""
    if value < alarm:
        return "alarm"
    return "warning" if value < warn else "ok"


def wall_agents(session: Session, *, acd: Acd, config: ConsoleConfig) -> list[WallAgent]:
    agents = acd.presence.all()
    names = user_names(session, [agent.agent_id for agent in agents])
    shown = []
    for agent in agents:
        limit = config.state_limit(agent.state, agent.reason)
        shown.append(
            WallAgent(
                agent_id=agent.agent_id,
                name=names.get(agent.agent_id, str(agent.agent_id)),
                state=agent.state,
                since=agent.since,
                reason=agent.reason,
                call_id=agent.call_id,
                queues=agent.queues,
                warn_at=agent.since + timedelta(seconds=limit.warn_seconds) if limit else None,
                alarm_at=agent.since + timedelta(seconds=limit.alarm_seconds) if limit else None,
            )
        )
    return shown


_IN_THE_ACD = frozenset({CallState.QUEUED, CallState.OFFERED, CallState.BRIDGED})
"""States of a call that the ACD and agent presence hold too, for a call that came
through a queue."""


def carried_calls(calls: list[LiveCall], *, acd: Acd, agents: list[WallAgent]) -> list[LiveCall]:
    """The calls a queue or an agent still carries, of those the call log says are live.

    A call whose process died before it was closed (a restart, a lost status callback)
    stays unended in the log for hours, still naming its queue and agent; once that agent
    took the next call, the wall showed them on two calls. The ACD's queues and agent
    presence move with every call, so a call that came through a queue is shown only while
    it waits in its queue or an agent is offered it or is on it. Calls still in the IVR, and
    an agent's own outbound callbacks, never pass a queue: they are shown as the log has them.
    """
    with_agents = {
        agent.call_id for agent in agents if agent.state in (AgentState.OFFERED, AgentState.ON_CALL)
    }
    waiting = acd.waiting_of(
        (call.call_id, call.queue)
        for call in calls
        if call.queue is not None
        and CallState(call.state) in _IN_THE_ACD
        and call.call_id not in with_agents
    )
    return [
        call
        for call in calls
        if call.queue is None
        or CallState(call.state) not in _IN_THE_ACD
        or call.call_id in with_agents
        or call.call_id in waiting
    ]
