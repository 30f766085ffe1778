"""Stations, engineers and dispatch routes."""

from __future__ import annotations

from fastapi import APIRouter

from core.deps import ClockDep, SessionDep
from orders.http.common import IdFilter, PathId
from orders.http.deps import AnyUser, Staff, Supervisor
from orders.schemas import (
    AssignmentPublic,
    EngineerChoice,
    EngineerCreate,
    EngineerPublic,
    EngineerUpdate,
    ReassignIn,
    StationCreate,
    StationPublic,
    StationUpdate,
)
from orders.services import dispatch, stations, work_orders

router = APIRouter()


@router.post("/stations", status_code=201, tags=["stations"])
def create_station(
    data: StationCreate, session: SessionDep, actor: Supervisor, clock: ClockDep
) -> StationPublic:
    """A station with the regions it covers, its time zone, hours and closures."""
    return stations.create_station(session, data=data, actor=actor, clock=clock)


@router.get("/stations", tags=["stations"])
def list_stations(session: SessionDep, _actor: AnyUser) -> list[StationPublic]:
    return stations.list_stations(session)


@router.get("/stations/{station_id}", tags=["stations"])
def get_station(station_id: PathId, session: SessionDep, _actor: AnyUser) -> StationPublic:
    return stations.station_public(session, stations.get_station_row(session, station_id))


@router.patch("/stations/{station_id}", tags=["stations"])
def update_station(
    station_id: PathId,
    data: StationUpdate,
    session: SessionDep,
    actor: Supervisor,
    clock: ClockDep,
) -> StationPublic:
    return stations.update_station(
        session, station_id=station_id, data=data, actor=actor, clock=clock
    )


@router.post("/engineers", status_code=201, tags=["stations"])
def create_engineer(
    data: EngineerCreate, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> EngineerPublic:
    """An engineer of a station (supervisors, or the station's own staff)."""
    return stations.create_engineer(session, data=data, actor=actor, clock=clock)


@router.get("/engineers", tags=["stations"])
def list_engineers(
    session: SessionDep, actor: AnyUser, station_id: IdFilter = None
) -> list[EngineerPublic]:
    return stations.list_engineers(session, viewer=actor, station_id=station_id)


@router.patch("/engineers/{engineer_id}", tags=["stations"])
def update_engineer(
    engineer_id: PathId,
    data: EngineerUpdate,
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
) -> EngineerPublic:
    return stations.update_engineer(
        session, engineer_id=engineer_id, data=data, actor=actor, clock=clock
    )


@router.post("/orders/{order_id}/assign-engineer", tags=["orders"])
def assign_engineer(
    order_id: PathId,
    data: EngineerChoice,
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
) -> AssignmentPublic:
    """The station puts an engineer on its order (omitted: by skill and load)."""
    order = work_orders.visible_order(session, order_id, actor)
    assignment = dispatch.assign_engineer(
        session, order=order, engineer_id=data.engineer_id, actor=actor, clock=clock
    )
    session.commit()
    return assignment


@router.post("/orders/{order_id}/reassign", tags=["orders"])
def reassign(
    order_id: PathId,
    data: ReassignIn,
    session: SessionDep,
    actor: Supervisor,
    clock: ClockDep,
) -> AssignmentPublic:
    """A supervisor moves the order to another station, with the reason."""
    order = work_orders.visible_order(session, order_id, actor)
    assignment = dispatch.reassign(
        session,
        order=order,
        station_id=data.station_id,
        reason=data.reason,
        actor=actor,
        clock=clock,
    )
    session.commit()
    return assignment


@router.get("/orders/{order_id}/assignments", tags=["orders"])
def assignments(order_id: PathId, session: SessionDep, actor: Staff) -> list[AssignmentPublic]:
    work_orders.visible_order(session, order_id, actor)
    return dispatch.assignments(session, order_id=order_id)
