"""Dispatch: which station and engineer take an order, and the record of every choice.

A new order goes to the station covering the customer's district, else the city, else the
province, that has an assignable engineer with the skill (the appliance's category and the
order's type); ties go to the station with the fewest open orders. An engineer is
assignable while active with a valid service certificate (售后服务上岗证) on the day. An
order no station covers stays new on the unassigned list (不能漏单). Every assignment,
automatic or by hand, is kept with its reason.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from core.types import Clock
from orders.enums import ApplianceCategory, AuditAction, OrderStatus, OrderType
from orders.exceptions import EngineerNotAssignable, InvalidOrderData, StationNotFound
from orders.models import (
    Address,
    Appliance,
    Engineer,
    OrderAssignment,
    Station,
    StationRegion,
    WorkOrder,
)
from orders.schemas import Actor, AssignmentPublic
from orders.services import audit
from orders.services.transitions import apply_transition
from orders.states import OPEN_STATES


def service_address(session: Session, order: WorkOrder) -> Address | None:
    if order.address_id is not None:
        return session.get(Address, order.address_id)
    return session.exec(
        select(Address)
        .where(Address.customer_id == order.customer_id)
        .order_by(col(Address.is_primary).desc(), col(Address.id))
    ).first()


def _local_day(station: Station, now: datetime) -> date:
    return now.astimezone(ZoneInfo(station.time_zone)).date()


def assignable(
    engineer: Engineer, *, category: ApplianceCategory | None, order_type: OrderType, day: date
) -> bool:
    """Active, certified on ``day``, and skilled in the category and the kind of work."""
    return (
        engineer.is_active
        and engineer.certificate_expires is not None
        and engineer.certificate_expires >= day
        and (category is None or category.value in engineer.categories)
        and order_type.value in engineer.service_types
    )


def _engineers(session: Session, station_ids: set[int]) -> dict[int, list[Engineer]]:
    found: dict[int, list[Engineer]] = {}
    for engineer in session.exec(
        select(Engineer).where(col(Engineer.station_id).in_(station_ids))
    ).all():
        found.setdefault(engineer.station_id, []).append(engineer)
    return found


def _open_load(session: Session, column: object, ids: set[int]) -> Counter[int]:
    rows = session.exec(
        select(column, func.count())  # type: ignore[call-overload]
        .where(col(WorkOrder.status).in_(sorted(OPEN_STATES)), col(column).in_(ids))
        .group_by(column)
    ).all()
    return Counter({key: count for key, count in rows})


def choose_station(
    session: Session, order: WorkOrder, now: datetime
) -> tuple[Station, StationRegion, str] | None:
    """The covering station with the skill and the least open load, and why it was chosen."""
    address = service_address(session, order)
    if address is None:
        return None
    appliance = session.get(Appliance, order.appliance_id) if order.appliance_id else None
    category = appliance.category if appliance else None
    levels = (
        (address.district, "district"),
        ("", "city"),
    )
    for district, level in levels:
        if level == "district" and not district:
            continue
        found = _covering(session, address.province, address.city, district)
        chosen = _best(session, found, category, order.order_type, now)
        if chosen is not None:
            station, region = chosen
            place = address.district if level == "district" else address.city
            return station, region, f"{level} {place}"
    found = _covering(session, address.province, "", "")
    chosen = _best(session, found, category, order.order_type, now)
    if chosen is not None:
        return chosen[0], chosen[1], f"province {address.province}"
    return None


def _covering(
    session: Session, province: str, city: str, district: str
) -> list[tuple[Station, StationRegion]]:
    rows = session.exec(
        select(Station, StationRegion)
        .join(StationRegion, col(StationRegion.station_id) == col(Station.id))
        .where(
            col(Station.is_active),
            StationRegion.province == province,
            StationRegion.city == city,
            StationRegion.district == district,
        )
    ).all()
    return [(station, region) for station, region in rows]


def _best(
    session: Session,
    found: list[tuple[Station, StationRegion]],
    category: ApplianceCategory | None,
    order_type: OrderType,
    now: datetime,
) -> tuple[Station, StationRegion] | None:
    if not found:
        return None
    engineers = _engineers(session, {s.id for s, _ in found if s.id is not None})
    skilled = [
        (station, region)
        for station, region in found
        if any(
            assignable(e, category=category, order_type=order_type, day=_local_day(station, now))
            for e in engineers.get(station.id or 0, [])
        )
    ]
    if not skilled:
        return None
    load = _open_load(session, WorkOrder.station_id, {s.id for s, _ in skilled if s.id})
    return min(skilled, key=lambda pair: (load[pair[0].id or 0], pair[0].id or 0))


def dispatch_new_order(session: Session, *, order: WorkOrder, actor: Actor, clock: Clock) -> None:
    """Send a new order to its station, or record that none covers it. Does not commit."""
    now = clock()
    choice = choose_station(session, order, now)
    if choice is None:
        address = service_address(session, order)
        where = (
            f"{address.province} {address.city} {address.district}".strip()
            if address
            else "no address"
        )
        _record(
            session,
            order,
            None,
            None,
            automatic=True,
            reason=f"no station covers {where}",
            actor=actor,
            now=now,
        )
        return
    station, region, why = choice
    order.station_id = station.id
    order.urban = region.urban
    apply_transition(
        session,
        order=order,
        to=OrderStatus.ASSIGNED,
        actor=actor,
        note=f"dispatched: {why}",
        clock=clock,
    )
    _record(session, order, station.id, None, automatic=True, reason=why, actor=actor, now=now)


def assign_engineer(
    session: Session, *, order: WorkOrder, engineer_id: int | None, actor: Actor, clock: Clock
) -> AssignmentPublic:
    """The station puts an engineer on the order: the one named, or the least loaded
    assignable one with the skill."""
    if order.station_id is None:
        raise InvalidOrderData(
            "the order has no station yet; dispatch it first", details={"order_id": order.id}
        )
    station = session.get(Station, order.station_id)
    assert station is not None
    now = clock()
    appliance = session.get(Appliance, order.appliance_id) if order.appliance_id else None
    category = appliance.category if appliance else None
    day = _local_day(station, now)
    if engineer_id is None:
        candidates = [
            e
            for e in _engineers(session, {station.id or 0}).get(station.id or 0, [])
            if assignable(e, category=category, order_type=order.order_type, day=day)
        ]
        if not candidates:
            raise EngineerNotAssignable(
                "no engineer of the station can take this order",
                details={"station_id": station.id, "category": category, "day": day.isoformat()},
            )
        load = _open_load(session, WorkOrder.engineer_id, {e.id for e in candidates if e.id})
        engineer = min(candidates, key=lambda e: (load[e.id or 0], -e.level, e.id or 0))
    else:
        found = session.get(Engineer, engineer_id)
        if found is None or found.station_id != station.id:
            raise EngineerNotAssignable(
                f"engineer {engineer_id} is not an engineer of station {station.code}",
                details={"engineer_id": engineer_id},
            )
        if not assignable(found, category=category, order_type=order.order_type, day=day):
            raise EngineerNotAssignable(
                f"engineer {found.name} cannot take this order: inactive, without the skill, "
                "or without a valid certificate",
                details={"engineer_id": engineer_id, "day": day.isoformat()},
            )
        engineer = found
    before = audit.snapshot(order)
    order.engineer_id = engineer.id
    order.updated_at = now
    session.add(order)
    assignment = _record(
        session,
        order,
        station.id,
        engineer.id,
        automatic=engineer_id is None,
        reason=f"engineer {engineer.name}",
        actor=actor,
        now=now,
    )
    audit.record(
        session,
        actor=actor,
        entity="work_order",
        entity_id=order.id or 0,
        action=AuditAction.UPDATE,
        before=before,
        after=audit.snapshot(order),
        clock=clock,
    )
    return assignment


def reassign(
    session: Session,
    *,
    order: WorkOrder,
    station_id: int,
    reason: str,
    actor: Actor,
    clock: Clock,
) -> AssignmentPublic:
    """A supervisor moves an open order to another station by hand, with the reason."""
    station = session.get(Station, station_id)
    if station is None:
        raise StationNotFound(
            f"station {station_id} does not exist", details={"station_id": station_id}
        )
    if order.status not in OPEN_STATES:
        raise InvalidOrderData(
            f"a {order.status.value} order is not reassigned", details={"status": order.status}
        )
    now = clock()
    before = audit.snapshot(order)
    order.station_id = station.id
    order.engineer_id = None
    order.updated_at = now
    session.add(order)
    if order.status is OrderStatus.NEW:
        apply_transition(
            session,
            order=order,
            to=OrderStatus.ASSIGNED,
            actor=actor,
            note=f"assigned by hand: {reason}",
            clock=clock,
        )
    else:
        audit.record(
            session,
            actor=actor,
            entity="work_order",
            entity_id=order.id or 0,
            action=AuditAction.UPDATE,
            before=before,
            after=audit.snapshot(order),
            clock=clock,
        )
    return _record(
        session, order, station.id, None, automatic=False, reason=reason, actor=actor, now=now
    )


def assignments(session: Session, *, order_id: int) -> list[AssignmentPublic]:
    rows = session.exec(
        select(OrderAssignment)
        .where(OrderAssignment.order_id == order_id)
        .order_by(col(OrderAssignment.id))
    ).all()
    return [AssignmentPublic.model_validate(row, from_attributes=True) for row in rows]


def _record(
    session: Session,
    order: WorkOrder,
    station_id: int | None,
    engineer_id: int | None,
    *,
    automatic: bool,
    reason: str,
    actor: Actor,
    now: datetime,
) -> AssignmentPublic:
    row = OrderAssignment(
        order_id=order.id or 0,
        station_id=station_id,
        engineer_id=engineer_id,
        automatic=automatic,
        reason=reason,
        actor_id=actor.id,
        actor_name=actor.name,
        at=now,
    )
    session.add(row)
    session.flush()
    return AssignmentPublic.model_validate(row, from_attributes=True)


def take_reported_order(session: Session, *, order: WorkOrder, actor: Actor, clock: Clock) -> None:
    """An order a station took directly, reported to the hotline (报备): it stays with
    that station, flagged so the hotline sees it. Does not commit."""
    order.station_reported = True
    order.station_id = actor.station_id
    apply_transition(
        session,
        order=order,
        to=OrderStatus.ASSIGNED,
        actor=actor,
        note="taken by the station and reported (报备)",
        clock=clock,
    )
    _record(
        session,
        order,
        actor.station_id,
        None,
        automatic=False,
        reason="taken by the station and reported (报备)",
        actor=actor,
        now=clock(),
    )
