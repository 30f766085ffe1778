"""Stations (their regions, hours and closures) and their engineers."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, delete, select

from core.errors import PermissionDenied
from core.types import Clock
from orders.enums import AuditAction, Role
from orders.exceptions import (
    DuplicateStationCode,
    EngineerNotFound,
    InvalidUserData,
    StationNotFound,
    UserNotFound,
)
from orders.models import Engineer, Station, StationClosure, StationRegion, User
from orders.schemas import (
    Actor,
    EngineerCreate,
    EngineerPublic,
    EngineerUpdate,
    RegionIn,
    StationCreate,
    StationPublic,
    StationUpdate,
)
from orders.services import audit


def station_public(session: Session, station: Station) -> StationPublic:
    regions = session.exec(
        select(StationRegion)
        .where(StationRegion.station_id == station.id)
        .order_by(col(StationRegion.id))
    ).all()
    closures = session.exec(
        select(StationClosure.day)  # type: ignore[call-overload]
        .where(StationClosure.station_id == station.id)
        .order_by(col(StationClosure.day))
    ).all()
    return StationPublic.model_validate(
        {
            **station.model_dump(),
            "regions": [r.model_dump() for r in regions],
            "closures": list(closures),
        }
    )


def get_station_row(session: Session, station_id: int) -> Station:
    station = session.get(Station, station_id)
    if station is None:
        raise StationNotFound(
            f"station {station_id} does not exist", details={"station_id": station_id}
        )
    return station


def create_station(
    session: Session, *, data: StationCreate, actor: Actor, clock: Clock
) -> StationPublic:
    if session.exec(select(Station).where(Station.code == data.code)).first() is not None:
        raise DuplicateStationCode(
            f"station code {data.code} is taken", details={"code": data.code}
        )
    fields: dict[str, Any] = data.model_dump(exclude={"regions", "closures", "working_hours"})
    station = Station(**fields, created_at=clock())
    if data.working_hours is not None:
        station.working_hours = data.working_hours  # type: ignore[assignment]
    session.add(station)
    session.flush()
    _replace_regions(session, station, data.regions)
    _replace_closures(session, station, data.closures)
    return _saved(session, station, None, AuditAction.CREATE, actor, clock)


def update_station(
    session: Session, *, station_id: int, data: StationUpdate, actor: Actor, clock: Clock
) -> StationPublic:
    station = get_station_row(session, station_id)
    before = station_public(session, station).model_dump(mode="json")
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "phone", "time_zone", "working_hours", "is_active"):
        if key in changes and changes[key] is not None:
            setattr(station, key, changes[key])
    if data.regions is not None:
        _replace_regions(session, station, data.regions)
    if data.closures is not None:
        _replace_closures(session, station, data.closures)
    session.add(station)
    return _saved(session, station, before, AuditAction.UPDATE, actor, clock)


def list_stations(session: Session) -> list[StationPublic]:
    return [
        station_public(session, s)
        for s in session.exec(select(Station).order_by(col(Station.id))).all()
    ]


def _replace_regions(session: Session, station: Station, regions: list[RegionIn]) -> None:
    session.exec(delete(StationRegion).where(col(StationRegion.station_id) == station.id))
    unique = {(r.province, r.city, r.district): r for r in regions}
    for region in unique.values():
        session.add(StationRegion(station_id=station.id or 0, **region.model_dump()))


def _replace_closures(session: Session, station: Station, days: list[Any]) -> None:
    session.exec(delete(StationClosure).where(col(StationClosure.station_id) == station.id))
    for day in sorted(set(days)):
        session.add(StationClosure(station_id=station.id or 0, day=day))


def _saved(
    session: Session,
    station: Station,
    before: dict[str, Any] | None,
    action: AuditAction,
    actor: Actor,
    clock: Clock,
) -> StationPublic:
    session.flush()
    public = station_public(session, station)
    audit.record(
        session,
        actor=actor,
        entity="station",
        entity_id=station.id or 0,
        action=action,
        before=before,
        after=public.model_dump(mode="json"),
        clock=clock,
    )
    session.commit()
    return public


# Engineers


def _may_manage(actor: Actor, station_id: int) -> None:
    if actor.role in (Role.ADMIN, Role.SUPERVISOR):
        return
    if actor.role is Role.STATION and actor.station_id == station_id:
        return
    raise PermissionDenied(
        "only supervisors, or the station's own staff, manage its engineers",
        details={"station_id": station_id},
    )


def create_engineer(
    session: Session, *, data: EngineerCreate, actor: Actor, clock: Clock
) -> EngineerPublic:
    get_station_row(session, data.station_id)
    _may_manage(actor, data.station_id)
    if data.user_id is not None:
        user = session.get(User, data.user_id)
        if user is None:
            raise UserNotFound(
                f"user {data.user_id} does not exist", details={"user_id": data.user_id}
            )
        if user.role is not Role.ENGINEER or user.station_id != data.station_id:
            raise InvalidUserData(
                "an engineer's login must be an engineer user of the same station",
                details={"field": "user_id"},
            )
    engineer = Engineer(**data.model_dump(mode="json"), created_at=clock())
    engineer.certificate_expires = data.certificate_expires
    session.add(engineer)
    return _engineer_saved(session, engineer, None, AuditAction.CREATE, actor, clock)


def update_engineer(
    session: Session, *, engineer_id: int, data: EngineerUpdate, actor: Actor, clock: Clock
) -> EngineerPublic:
    engineer = get_engineer_row(session, engineer_id)
    _may_manage(actor, engineer.station_id)
    before = audit.snapshot(engineer)
    for key, value in data.model_dump(exclude_unset=True, mode="json").items():
        if key == "certificate_expires":
            engineer.certificate_expires = data.certificate_expires
        elif value is not None:
            # A null for a field that always has a value leaves it as it is, as for stations;
            # only the certificate's expiry can be cleared.
            setattr(engineer, key, value)
    session.add(engineer)
    return _engineer_saved(session, engineer, before, AuditAction.UPDATE, actor, clock)


def get_engineer_row(session: Session, engineer_id: int) -> Engineer:
    engineer = session.get(Engineer, engineer_id)
    if engineer is None:
        raise EngineerNotFound(
            f"engineer {engineer_id} does not exist", details={"engineer_id": engineer_id}
        )
    return engineer


def list_engineers(
    session: Session, *, viewer: Actor, station_id: int | None = None
) -> list[EngineerPublic]:
    query = select(Engineer).order_by(col(Engineer.id))
    if viewer.role in (Role.STATION, Role.ENGINEER):
        station_id = viewer.station_id
    if station_id is not None:
        query = query.where(Engineer.station_id == station_id)
    return [EngineerPublic.model_validate(e, from_attributes=True) for e in session.exec(query)]


def _engineer_saved(
    session: Session,
    engineer: Engineer,
    before: dict[str, Any] | None,
    action: AuditAction,
    actor: Actor,
    clock: Clock,
) -> EngineerPublic:
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="engineer",
        entity_id=engineer.id or 0,
        action=action,
        before=before,
        after=audit.snapshot(engineer),
        clock=clock,
    )
    session.commit()
    return EngineerPublic.model_validate(engineer, from_attributes=True)
