"""What an installation or maintenance visit did (装机单, 保护保养记录): filed on site,
before the order can complete (the transitions refuse completion without it)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from core.types import Clock
from orders.enums import AuditAction, OrderStatus, OrderType
from orders.exceptions import InvalidServiceRecord
from orders.models import InstallationRecord, MaintenancePlan, MaintenanceRecord, WorkOrder
from orders.schemas import (
    Actor,
    InstallationRecordIn,
    InstallationRecordPublic,
    MaintenanceRecordIn,
    MaintenanceRecordPublic,
)
from orders.services import audit
from orders.services.appliances import get_appliance_row
from orders.services.work_orders import visible_order


def file_installation(
    session: Session, *, order_id: int, data: InstallationRecordIn, actor: Actor, clock: Clock
) -> InstallationRecordPublic:
    _filable(session, order_id, actor, OrderType.INSTALLATION, InstallationRecord)
    row = InstallationRecord(
        order_id=order_id, **data.model_dump(), recorded_by=actor.name, recorded_at=clock()
    )
    _save(session, row, actor, clock)
    return InstallationRecordPublic.model_validate(row, from_attributes=True)


def file_maintenance(
    session: Session, *, order_id: int, data: MaintenanceRecordIn, actor: Actor, clock: Clock
) -> MaintenanceRecordPublic:
    _filable(session, order_id, actor, OrderType.MAINTENANCE, MaintenanceRecord)
    plan_id = session.exec(
        select(MaintenancePlan.id).where(MaintenancePlan.open_order_id == order_id)
    ).first()
    row = MaintenanceRecord(
        order_id=order_id,
        plan_id=plan_id,
        **data.model_dump(),
        recorded_by=actor.name,
        recorded_at=clock(),
    )
    _save(session, row, actor, clock)
    return MaintenanceRecordPublic.model_validate(row, from_attributes=True)


def installation_record(
    session: Session, *, order_id: int, viewer: Actor
) -> InstallationRecordPublic | None:
    visible_order(session, order_id, viewer)
    row = session.exec(
        select(InstallationRecord).where(InstallationRecord.order_id == order_id)
    ).first()
    if row is None:
        return None
    return InstallationRecordPublic.model_validate(row, from_attributes=True)


def maintenance_records(session: Session, *, appliance_id: int) -> list[MaintenanceRecordPublic]:
    """The appliance's maintenance history, newest first."""
    get_appliance_row(session, appliance_id)
    rows = session.exec(
        select(MaintenanceRecord)
        .join(WorkOrder, WorkOrder.id == MaintenanceRecord.order_id)  # type: ignore[arg-type]
        .where(WorkOrder.appliance_id == appliance_id)
        .order_by(MaintenanceRecord.recorded_at.desc())  # type: ignore[attr-defined]
    ).all()
    return [MaintenanceRecordPublic.model_validate(r, from_attributes=True) for r in rows]


def _filable(
    session: Session, order_id: int, actor: Actor, kind: OrderType, table: type[Any]
) -> WorkOrder:
    order = visible_order(session, order_id, actor)
    if order.order_type is not kind:
        raise InvalidServiceRecord(
            f"order {order.number} is a {order.order_type.value} order, not {kind.value}",
            details={"order_type": order.order_type},
        )
    # Filed at the visit: before it nobody has seen the machine, after completion the
    # record is part of what was audited.
    if order.status is not OrderStatus.IN_SERVICE:
        raise InvalidServiceRecord(
            f"the record is filed during the visit (in_service), not in {order.status.value}",
            details={"status": order.status},
        )
    if session.exec(select(table.id).where(table.order_id == order_id)).first() is not None:
        raise InvalidServiceRecord(
            f"order {order.number} has its record already", details={"order_id": order_id}
        )
    return order


def _save(session: Session, row: Any, actor: Actor, clock: Clock) -> None:
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity=row.__tablename__,
        entity_id=row.id or 0,
        action=AuditAction.CREATE,
        after=audit.snapshot(row),
        clock=clock,
    )
    session.commit()
