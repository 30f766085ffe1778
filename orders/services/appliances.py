"""Appliances and their warranty."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, func, select

from core.types import Clock
from orders.enums import AuditAction, OrderStatus, OrderType, WarrantyStatus
from orders.exceptions import ApplianceNotFound, InvalidOrderData
from orders.models import Appliance, OrderTransition, WorkOrder
from orders.schemas import Actor, ApplianceCreate, AppliancePublic, ApplianceUpdate
from orders.services import audit
from orders.services.customers import get_customer_row
from orders.warranty import warranty_status

REPAIR_WARRANTY = timedelta(days=90)
"""A completed repair is guaranteed this long (90天质保期)."""


def repair_warranty_of(session: Session, *, appliance_id: int, now: datetime) -> int | None:
    """The latest repair of this appliance completed within the repair warranty, if any.

    The intake cannot tell the fault is the same: it flags the earlier repair and the
    agent confirms with the caller (the pop shows the flag on the order)."""
    found = session.exec(
        select(WorkOrder.id, func.max(OrderTransition.at))
        .join(OrderTransition, col(OrderTransition.order_id) == col(WorkOrder.id))
        .where(
            WorkOrder.appliance_id == appliance_id,
            WorkOrder.order_type == OrderType.REPAIR,
            OrderTransition.to_status == OrderStatus.COMPLETED,
            col(OrderTransition.at) >= now - REPAIR_WARRANTY,
            col(OrderTransition.at) <= now,
        )
        .group_by(col(WorkOrder.id))
        .order_by(func.max(OrderTransition.at).desc())
    ).first()
    return found[0] if found else None


def warranty_of(appliance: Appliance, at: date) -> WarrantyStatus:
    return warranty_status(
        at=at,
        has_invoice=appliance.has_invoice,
        purchase_date=appliance.purchase_date,
        manufacture_date=appliance.manufacture_date,
        warranty_months=appliance.warranty_months,
        extended_warranty_until=appliance.extended_warranty_until,
    )


def to_public(appliance: Appliance, today: date) -> AppliancePublic:
    return AppliancePublic(**appliance.model_dump(), warranty_status=warranty_of(appliance, today))


def _check_dates(appliance: Appliance, today: date) -> None:
    for field in ("purchase_date", "manufacture_date"):
        value: date | None = getattr(appliance, field)
        if value is not None and value > today:
            raise InvalidOrderData(
                f"{field} {value.isoformat()} is in the future", details={"field": field}
            )
    if (
        appliance.purchase_date is not None
        and appliance.manufacture_date is not None
        and appliance.purchase_date < appliance.manufacture_date
    ):
        raise InvalidOrderData(
            "purchase_date is before manufacture_date",
            details={"field": "purchase_date"},
        )


def create_appliance(
    session: Session, *, data: ApplianceCreate, actor: Actor, clock: Clock
) -> AppliancePublic:
    get_customer_row(session, data.customer_id)
    now = clock()
    appliance = Appliance(**data.model_dump(), created_at=now, updated_at=now)
    _check_dates(appliance, now.date())
    session.add(appliance)
    session.flush()
    assert appliance.id is not None
    audit.record(
        session,
        actor=actor,
        entity="appliance",
        entity_id=appliance.id,
        action=AuditAction.CREATE,
        after=audit.snapshot(appliance),
        clock=clock,
    )
    session.commit()
    return to_public(appliance, now.date())


def get_appliance_row(session: Session, appliance_id: int) -> Appliance:
    appliance = session.get(Appliance, appliance_id)
    if appliance is None:
        raise ApplianceNotFound(
            f"appliance {appliance_id} does not exist", details={"appliance_id": appliance_id}
        )
    return appliance


def get_appliance(session: Session, *, appliance_id: int, clock: Clock) -> AppliancePublic:
    return to_public(get_appliance_row(session, appliance_id), clock().date())


def update_appliance(
    session: Session,
    *,
    appliance_id: int,
    data: ApplianceUpdate,
    actor: Actor,
    clock: Clock,
) -> AppliancePublic:
    appliance = get_appliance_row(session, appliance_id)
    before = audit.snapshot(appliance)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in {
            "category",
            "brand",
            "model",
            "serial",
            "has_invoice",
            "warranty_months",
        }:
            raise InvalidOrderData(f"{field} cannot be null", details={"field": field})
        setattr(appliance, field, value)
    now = clock()
    _check_dates(appliance, now.date())
    appliance.updated_at = now
    session.add(appliance)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="appliance",
        entity_id=appliance_id,
        action=AuditAction.UPDATE,
        before=before,
        after=audit.snapshot(appliance),
        clock=clock,
    )
    session.commit()
    return to_public(appliance, now.date())


def list_appliances(session: Session, *, customer_id: int, clock: Clock) -> list[AppliancePublic]:
    get_customer_row(session, customer_id)
    rows = session.exec(
        select(Appliance).where(Appliance.customer_id == customer_id).order_by(col(Appliance.id))
    ).all()
    today = clock().date()
    return [to_public(row, today) for row in rows]
