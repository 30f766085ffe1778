"""Maintenance plans of an appliance, and its maintenance history."""

from __future__ import annotations

from fastapi import APIRouter

from core.deps import ClockDep, SessionDep
from orders.http.common import PathId
from orders.http.deps import Staff
from orders.schemas import (
    MaintenancePlanIn,
    MaintenancePlanPublic,
    MaintenancePlanUpdate,
    MaintenanceRecordPublic,
)
from orders.services import maintenance_plans, service_records

router = APIRouter(tags=["appliances"])


@router.get("/appliances/{appliance_id}/maintenance-plans")
def plans(appliance_id: PathId, session: SessionDep, actor: Staff) -> list[MaintenancePlanPublic]:
    return maintenance_plans.plans(session, appliance_id=appliance_id)


@router.post("/appliances/{appliance_id}/maintenance-plans", status_code=201)
def create_plan(
    appliance_id: PathId,
    data: MaintenancePlanIn,
    session: SessionDep,
    actor: Staff,
    clock: ClockDep,
) -> MaintenancePlanPublic:
    """Periodic care: an order is created ``lead_days`` before each due date."""
    return maintenance_plans.create_plan(
        session, appliance_id=appliance_id, data=data, actor=actor, clock=clock
    )


@router.patch("/maintenance-plans/{plan_id}")
def update_plan(
    plan_id: PathId,
    data: MaintenancePlanUpdate,
    session: SessionDep,
    actor: Staff,
    clock: ClockDep,
) -> MaintenancePlanPublic:
    return maintenance_plans.update_plan(
        session, plan_id=plan_id, data=data, actor=actor, clock=clock
    )


@router.get("/appliances/{appliance_id}/maintenance-records")
def records(
    appliance_id: PathId, session: SessionDep, actor: Staff
) -> list[MaintenanceRecordPublic]:
    """What each maintenance visit did, newest first."""
    return service_records.maintenance_records(session, appliance_id=appliance_id)
