"""The station view: the station's board (from ``orders``) with each job's SLA clock."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from agent_console.schemas import BoardJob, StationView
from orders import Actor, next_deadlines, station_board


def station_view(session: Session, *, viewer: Actor, now: datetime) -> StationView:
    board = station_board(session, viewer=viewer, now=now)
    deadlines = next_deadlines(session, order_ids=[job.id for job in board.jobs], now=now)
    jobs = [BoardJob(**dict(job), sla=deadlines.get(job.id)) for job in board.jobs]
    return StationView(
        station_id=board.station_id,
        station_name=board.station_name,
        time_zone=board.time_zone,
        jobs=jobs,
        engineers=board.engineers,
        server_time=now,
    )
