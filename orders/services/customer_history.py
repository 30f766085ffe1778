"""The orders side of a customer's file (客户服务档案): every order with what happened to it,
its visits and its installation or maintenance record, the appliances' maintenance plans,
complaints and the topics of contacts. Read only; each long list is the newest ``limit``
rows with the count of all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from orders.enums import CustomerGrade
from orders.models import (
    Appliance,
    Appointment,
    Complaint,
    ContactRecord,
    Engineer,
    InstallationRecord,
    MaintenancePlan,
    MaintenanceRecord,
    OrderTransition,
    Station,
    WorkOrder,
)
from orders.schemas import (
    AppliancePublic,
    AppointmentPublic,
    ComplaintPublic,
    ContactPublic,
    CustomerPublic,
    InstallationRecordPublic,
    MaintenancePlanPublic,
    MaintenanceRecordPublic,
    OrderPublic,
    TransitionPublic,
)
from orders.services.appliances import to_public as appliance_public
from orders.services.customers import get_customer_row
from orders.services.customers import to_public as customer_public
from orders.services.work_orders import to_public as order_public

Row = TypeVar("Row")


@dataclass(frozen=True)
class OrderHistory:
    order: OrderPublic
    transitions: list[TransitionPublic]
    """Every status change, oldest first."""
    appointments: list[AppointmentPublic]
    station_name: str | None
    engineer_name: str | None


@dataclass(frozen=True)
class CustomerHistory:
    customer: CustomerPublic
    grade: CustomerGrade
    last_satisfaction_score: int | None
    appliances: list[AppliancePublic]
    orders: list[OrderHistory]
    orders_total: int
    installations: list[InstallationRecordPublic]
    maintenance_records: list[MaintenanceRecordPublic]
    maintenance_plans: list[MaintenancePlanPublic]
    complaints: list[ComplaintPublic]
    complaints_total: int
    contacts: list[ContactPublic]
    contacts_total: int


def customer_history(
    session: Session, *, customer_id: int, limit: int, today: date
) -> CustomerHistory:
    """Raises CustomerNotFound. Warranty is judged on ``today``."""
    customer = get_customer_row(session, customer_id)
    appliances = session.exec(
        select(Appliance).where(Appliance.customer_id == customer_id).order_by(col(Appliance.id))
    ).all()
    orders, orders_total = _newest(
        session,
        select(WorkOrder).where(WorkOrder.customer_id == customer_id),
        (col(WorkOrder.created_at).desc(), col(WorkOrder.id).desc()),
        limit,
    )
    complaints, complaints_total = _newest(
        session,
        select(Complaint).where(Complaint.customer_id == customer_id),
        (col(Complaint.created_at).desc(), col(Complaint.id).desc()),
        limit,
    )
    contacts, contacts_total = _newest(
        session,
        select(ContactRecord).where(ContactRecord.customer_id == customer_id),
        (col(ContactRecord.created_at).desc(), col(ContactRecord.id).desc()),
        limit,
    )
    return CustomerHistory(
        customer=customer_public(session, customer),
        grade=customer.grade,
        last_satisfaction_score=customer.last_satisfaction_score,
        appliances=[appliance_public(row, today) for row in appliances],
        orders=_order_histories(session, orders),
        orders_total=orders_total,
        installations=_installations(session, customer_id, limit),
        maintenance_records=_maintenance_records(session, customer_id, limit),
        maintenance_plans=_plans(session, customer_id),
        complaints=[ComplaintPublic.model_validate(c, from_attributes=True) for c in complaints],
        complaints_total=complaints_total,
        contacts=[ContactPublic.model_validate(c, from_attributes=True) for c in contacts],
        contacts_total=contacts_total,
    )


def _newest(
    session: Session, query: SelectOfScalar[Row], order_by: tuple[Any, ...], limit: int
) -> tuple[Sequence[Row], int]:
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    return session.exec(query.order_by(*order_by).limit(limit)).all(), total


def _order_histories(session: Session, orders: Sequence[WorkOrder]) -> list[OrderHistory]:
    ids = [order.id for order in orders if order.id is not None]
    transitions: dict[int, list[TransitionPublic]] = {order_id: [] for order_id in ids}
    for change in session.exec(
        select(OrderTransition)
        .where(col(OrderTransition.order_id).in_(ids))
        .order_by(col(OrderTransition.at), col(OrderTransition.id))
    ):
        transitions[change.order_id].append(
            TransitionPublic.model_validate(change, from_attributes=True)
        )
    visits: dict[int, list[AppointmentPublic]] = {order_id: [] for order_id in ids}
    for visit in session.exec(
        select(Appointment).where(col(Appointment.order_id).in_(ids)).order_by(col(Appointment.id))
    ):
        visits[visit.order_id].append(AppointmentPublic.model_validate(visit, from_attributes=True))
    stations = _names(session, Station, {o.station_id for o in orders if o.station_id})
    engineers = _names(session, Engineer, {o.engineer_id for o in orders if o.engineer_id})
    return [
        OrderHistory(
            order=order_public(order),
            transitions=transitions[order.id],
            appointments=visits[order.id],
            station_name=stations.get(order.station_id) if order.station_id else None,
            engineer_name=engineers.get(order.engineer_id) if order.engineer_id else None,
        )
        for order in orders
        if order.id is not None
    ]


def _names(
    session: Session, table: type[Station] | type[Engineer], ids: set[int]
) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(table.id, table.name).where(col(table.id).in_(ids))).all()
    return {row_id: name for row_id, name in rows if row_id is not None}


def _plans(session: Session, customer_id: int) -> list[MaintenancePlanPublic]:
    rows = session.exec(
        select(MaintenancePlan)
        .join(Appliance, col(Appliance.id) == col(MaintenancePlan.appliance_id))
        .where(Appliance.customer_id == customer_id)
        .order_by(col(MaintenancePlan.next_due), col(MaintenancePlan.id))
    ).all()
    return [MaintenancePlanPublic.model_validate(row, from_attributes=True) for row in rows]


def _installations(
    session: Session, customer_id: int, limit: int
) -> list[InstallationRecordPublic]:
    rows = session.exec(
        select(InstallationRecord)
        .join(WorkOrder, col(WorkOrder.id) == col(InstallationRecord.order_id))
        .where(WorkOrder.customer_id == customer_id)
        .order_by(col(InstallationRecord.recorded_at).desc(), col(InstallationRecord.id).desc())
        .limit(limit)
    ).all()
    return [InstallationRecordPublic.model_validate(row, from_attributes=True) for row in rows]


def _maintenance_records(
    session: Session, customer_id: int, limit: int
) -> list[MaintenanceRecordPublic]:
    rows = session.exec(
        select(MaintenanceRecord)
        .join(WorkOrder, col(WorkOrder.id) == col(MaintenanceRecord.order_id))
        .where(WorkOrder.customer_id == customer_id)
        .order_by(col(MaintenanceRecord.recorded_at).desc(), col(MaintenanceRecord.id).desc())
        .limit(limit)
    ).all()
    return [MaintenanceRecordPublic.model_validate(row, from_attributes=True) for row in rows]
