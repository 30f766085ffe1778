"""The station view: the station's board (from ``orders``) with each job's SLA clock."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from agent_console.config import ConsoleConfig
from agent_console.schemas import BoardJob, StationView
from orders import Actor, sla_clock, station_board


def station_view(
    session: Session, *, viewer: Actor, now: datetime, config: ConsoleConfig
) -> StationView:
    board = station_board(session, viewer=viewer)
    jobs = [
        BoardJob(
            **dict(job),
            sla=sla_clock(
                created_at=job.created_at, urgency=job.urgency, now=now, policy=config.sla
            ),
        )
        for job in board.jobs
    ]
    return StationView(
        station_id=board.station_id,
        station_name=board.station_name,
        jobs=jobs,
        engineers=board.engineers,
        server_time=now,
    )
