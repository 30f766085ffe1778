"""Customer and caller-lookup routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.deps import ClockDep, RegionDep, SessionDep
from orders.http.common import Limit, Offset, PathId
from orders.http.deps import Staff
from orders.schemas import (
    AppliancePublic,
    CallerLookup,
    CustomerCreate,
    CustomerPublic,
    CustomerUpdate,
    NoNul,
    Page,
)
from orders.services import appliances, customers, lookup

router = APIRouter(tags=["customers"])


@router.post("/customers", status_code=201)
def create_customer(
    data: CustomerCreate, session: SessionDep, actor: Staff, region: RegionDep, clock: ClockDep
) -> CustomerPublic:
    return customers.create_customer(session, data=data, actor=actor, region=region, clock=clock)


@router.get("/customers")
def search_customers(
    session: SessionDep,
    _actor: Staff,
    region: RegionDep,
    phone: Annotated[str | None, Query(max_length=40), NoNul] = None,
    name: Annotated[str | None, Query(max_length=200), NoNul] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CustomerPublic]:
    items, total = customers.search_customers(
        session,
        phone=phone,
        name=name,
        region=region,
        limit=limit,
        offset=offset,
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/customers/{customer_id}")
def get_customer(customer_id: PathId, session: SessionDep, _actor: Staff) -> CustomerPublic:
    return customers.get_customer(session, customer_id=customer_id)


@router.patch("/customers/{customer_id}")
def update_customer(
    customer_id: PathId,
    data: CustomerUpdate,
    session: SessionDep,
    actor: Staff,
    region: RegionDep,
    clock: ClockDep,
) -> CustomerPublic:
    return customers.update_customer(
        session,
        customer_id=customer_id,
        data=data,
        actor=actor,
        region=region,
        clock=clock,
    )


@router.get("/customers/{customer_id}/appliances")
def list_customer_appliances(
    customer_id: PathId, session: SessionDep, _actor: Staff, clock: ClockDep
) -> list[AppliancePublic]:
    return appliances.list_appliances(session, customer_id=customer_id, clock=clock)


@router.get("/lookup", tags=["lookup"])
def lookup_caller(
    session: SessionDep,
    _actor: Staff,
    region: RegionDep,
    clock: ClockDep,
    phone: Annotated[str, Query(min_length=1, max_length=40, description="Caller ID")],
) -> CallerLookup:
    """The screen-pop payload for a caller ID: every customer who has this number."""
    return lookup.lookup_caller(session, phone=phone, region=region, clock=clock)
