"""The supervisor's wall: queues, agents, live calls, SLA clocks, complaints, the day's calls.

Built by the gateway when events arrive (at most every so often) and pushed to supervisors'
consoles; the day's figures (SLA, complaints, calls per hour) change slowly and are reused
for a while, so a busy hotline does not scan its day on every event. The figures are the
owners' own: ``orders`` counts SLA clocks and complaints, ``telephony`` counts calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from agent_console.config import ConsoleConfig
from agent_console.schemas import Wall, WallAgent
from orders import SlaFigures, complaints_by_level, sla_figures, user_names
from telephony import Acd, HourFigures, calls_per_hour, live_calls


@dataclass(frozen=True)
class DayFigures:
    sla: SlaFigures
    complaints_by_crisis_level: dict[int, int]
    calls_per_hour: list[HourFigures]
    at: datetime


def build_wall(
    session: Session, *, acd: Acd, now: datetime, config: ConsoleConfig, day: DayFigures
) -> Wall:
    return Wall(
        at=now,
        timezone=config.timezone,
        queues=[acd.figures(queue) for queue in acd.queues()],
        agents=wall_agents(session, acd=acd),
        calls=live_calls(
            session,
            since=now - timedelta(hours=config.live_call_window_hours),
            limit=config.live_calls,
        ),
        sla=day.sla,
        complaints_by_crisis_level=day.complaints_by_crisis_level,
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


def wall_agents(session: Session, *, acd: Acd) -> list[WallAgent]:
    agents = acd.presence.all()
    names = user_names(session, [agent.agent_id for agent in agents])
    return [
        WallAgent(
            agent_id=agent.agent_id,
            name=names.get(agent.agent_id, str(agent.agent_id)),
            state=agent.state,
            since=agent.since,
            reason=agent.reason,
            call_id=agent.call_id,
            queues=agent.queues,
        )
        for agent in agents
    ]
