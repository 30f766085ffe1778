"""Appliance routes."""

from __future__ import annotations

from fastapi import APIRouter

from core.deps import ClockDep, SessionDep
from orders.http.common import PathId
from orders.http.deps import Staff
from orders.schemas import ApplianceCreate, AppliancePublic, ApplianceUpdate
from orders.services import appliances

router = APIRouter(prefix="/appliances", tags=["appliances"])


@router.post("", status_code=201)
def create_appliance(
    data: ApplianceCreate, session: SessionDep, actor: Staff, clock: ClockDep
) -> AppliancePublic:
    return appliances.create_appliance(session, data=data, actor=actor, clock=clock)


@router.get("/{appliance_id}")
def get_appliance(
    appliance_id: PathId, session: SessionDep, _actor: Staff, clock: ClockDep
) -> AppliancePublic:
    return appliances.get_appliance(session, appliance_id=appliance_id, clock=clock)


@router.patch("/{appliance_id}")
def update_appliance(
    appliance_id: PathId, data: ApplianceUpdate, session: SessionDep, actor: Staff, clock: ClockDep
) -> AppliancePublic:
    return appliances.update_appliance(
        session, appliance_id=appliance_id, data=data, actor=actor, clock=clock
    )
