"""Maintenance plans: periodic care of an appliance (e.g. air-conditioner cleaning every
12 months). The worker creates each round's maintenance order ``lead_days`` ahead of the
due date; it is dispatched like any order, and the station books the visit before the
due date. Completing the order (with its maintenance record) starts the next round."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from core.errors import CallCenterError
from core.types import Clock
from orders.calendar import HOTLINE_ZONE
from orders.enums import AuditAction, Channel, OrderType, ServiceMode
from orders.exceptions import MaintenancePlanNotFound
from orders.models import MaintenancePlan
from orders.schemas import (
    MAX_LEAD_DAYS,
    Actor,
    MaintenancePlanIn,
    MaintenancePlanPublic,
    MaintenancePlanUpdate,
    OrderCreate,
)
from orders.services import audit
from orders.services.appliances import get_appliance_row
from orders.services.work_orders import intake

log = structlog.get_logger(__name__)


def create_plan(
    session: Session, *, appliance_id: int, data: MaintenancePlanIn, actor: Actor, clock: Clock
) -> MaintenancePlanPublic:
    get_appliance_row(session, appliance_id)
    plan = MaintenancePlan(
        appliance_id=appliance_id, **data.model_dump(), created_by=actor.name, created_at=clock()
    )
    session.add(plan)
    return _saved(session, plan, actor, clock, AuditAction.CREATE)


def update_plan(
    session: Session, *, plan_id: int, data: MaintenancePlanUpdate, actor: Actor, clock: Clock
) -> MaintenancePlanPublic:
    plan = _plan(session, plan_id)
    for field, value in data.model_dump(exclude_none=True).items():
        setattr(plan, field, value)
    session.add(plan)
    return _saved(session, plan, actor, clock, AuditAction.UPDATE)


def plans(session: Session, *, appliance_id: int) -> list[MaintenancePlanPublic]:
    get_appliance_row(session, appliance_id)
    rows = session.exec(
        select(MaintenancePlan)
        .where(MaintenancePlan.appliance_id == appliance_id)
        .order_by(col(MaintenancePlan.id))
    ).all()
    return [MaintenancePlanPublic.model_validate(r, from_attributes=True) for r in rows]


def create_due_orders(session: Session, *, now: datetime, actor: Actor) -> int:
    """One maintenance order for every active plan whose round is within its lead time
    and has none yet. Safe with several workers: a plan is claimed by a guarded update
    inside the transaction that creates its order, so a second worker finds it taken."""
    today = now.astimezone(HOTLINE_ZONE).date()
    due = session.exec(
        select(
            col(MaintenancePlan.id), col(MaintenancePlan.next_due), col(MaintenancePlan.lead_days)
        ).where(
            col(MaintenancePlan.is_active),
            col(MaintenancePlan.open_order_id).is_(None),
            col(MaintenancePlan.next_due) <= today + timedelta(days=MAX_LEAD_DAYS),
        )
    ).all()
    session.rollback()  # ends the read: each plan is claimed in a transaction of its own
    created = 0
    for plan_id, next_due, lead_days in due:
        if plan_id is None or next_due - timedelta(days=lead_days) > today:
            continue
        try:
            created += _open_round(session, plan_id, actor=actor, now=now)
        except CallCenterError as failure:
            # One plan whose appliance or customer cannot take an order (e.g. no longer
            # valid) must not stop the others; it is tried again on the next run.
            session.rollback()
            log.warning("maintenance_order_failed", plan_id=plan_id, error=str(failure))
    return created


def _open_round(session: Session, plan_id: int, *, actor: Actor, now: datetime) -> int:
    table = MaintenancePlan.__table__  # type: ignore[attr-defined]
    # Takes the plan's row lock: a second worker waits here, then finds the round open.
    claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(table)
        .where(table.c.id == plan_id, table.c.open_order_id.is_(None), table.c.is_active)
        .values(open_order_id=None)
    )
    plan = session.get(MaintenancePlan, plan_id)
    if claimed.rowcount != 1 or plan is None:
        session.rollback()
        return 0
    appliance = get_appliance_row(session, plan.appliance_id)
    order = intake(
        session,
        data=OrderCreate(
            customer_id=appliance.customer_id,
            appliance_id=plan.appliance_id,
            order_type=OrderType.MAINTENANCE,
            service_mode=ServiceMode.ON_SITE,
            channel=Channel.MAINTENANCE_PLAN,
            fault_description=f"定期保养：{plan.task}（到期 {plan.next_due:%Y-%m-%d}，请预约上门）",
        ),
        actor=actor,
        clock=lambda: now,
    )
    plan.open_order_id = order.id
    session.add(plan)
    session.commit()
    return 1


def _plan(session: Session, plan_id: int) -> MaintenancePlan:
    plan = session.get(MaintenancePlan, plan_id)
    if plan is None:
        raise MaintenancePlanNotFound(
            f"maintenance plan {plan_id} does not exist", details={"plan_id": plan_id}
        )
    return plan


def _saved(
    session: Session, plan: MaintenancePlan, actor: Actor, clock: Clock, action: AuditAction
) -> MaintenancePlanPublic:
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="maintenance_plan",
        entity_id=plan.id or 0,
        action=action,
        after=audit.snapshot(plan),
        clock=clock,
    )
    session.commit()
    return MaintenancePlanPublic.model_validate(plan, from_attributes=True)
