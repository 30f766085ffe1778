"""The orders domain's routes, mounted under /api by the app factory, and the
dependencies other packages' routes share: who is calling, and in which role."""

from __future__ import annotations

from fastapi import APIRouter

from orders.http import (
    appliances,
    appointments,
    audit,
    complaints,
    customers,
    maintenance,
    order_records,
    reports,
    sla,
    stations,
    users,
    work_orders,
)
from orders.http.common import IdempotencyKey, IdFilter, Limit, Offset, PathId
from orders.http.deps import AnyUser, Staff, StationStaff, StationWork, Supervisor
from orders.http.reports import report_answer

__all__ = [
    "AnyUser",
    "IdFilter",
    "IdempotencyKey",
    "Limit",
    "Offset",
    "PathId",
    "Staff",
    "StationStaff",
    "StationWork",
    "Supervisor",
    "report_answer",
    "router",
]

router = APIRouter()
router.include_router(users.auth_router)
router.include_router(users.router)
router.include_router(customers.router)
router.include_router(appliances.router)
router.include_router(work_orders.router)
router.include_router(audit.router)
router.include_router(reports.router)
router.include_router(sla.router)
router.include_router(stations.router)
router.include_router(complaints.router)
router.include_router(appointments.router)
router.include_router(order_records.router)
router.include_router(maintenance.router)
