"""Customers, their phone numbers and addresses."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import case, or_
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from core.types import Clock
from orders.enums import AuditAction
from orders.exceptions import CustomerNotFound
from orders.models import Address, Customer, CustomerPhone, WorkOrder
from orders.phones import normalize_phone, try_normalize_phone
from orders.schemas import (
    Actor,
    AddressIn,
    AddressPublic,
    CustomerCreate,
    CustomerPublic,
    CustomerUpdate,
    PhoneIn,
    PhonePublic,
)
from orders.services import audit


def _normalized(phones: list[PhoneIn], region: str) -> list[tuple[str, str]]:
    """E.164 numbers in input order, duplicates dropped; raises on the first bad one."""
    seen: dict[str, str] = {}
    for phone in phones:
        seen.setdefault(normalize_phone(phone.number, default_region=region), phone.label)
    return list(seen.items())


def _primary_flags(addresses: list[AddressIn]) -> list[bool]:
    # Exactly one primary address when there are any: the first one flagged, else the first.
    flags = [address.is_primary for address in addresses]
    first = flags.index(True) if True in flags else 0
    return [index == first for index in range(len(addresses))]


def _write_children(
    session: Session,
    customer_id: int,
    phones: list[tuple[str, str]] | None,
    addresses: list[AddressIn] | None,
) -> None:
    if phones is not None:
        for existing in session.exec(
            select(CustomerPhone).where(CustomerPhone.customer_id == customer_id)
        ):
            session.delete(existing)
        session.flush()
        for e164, label in phones:
            session.add(CustomerPhone(customer_id=customer_id, e164=e164, label=label))
    if addresses is not None:
        for old in session.exec(select(Address).where(Address.customer_id == customer_id)):
            session.delete(old)
        session.flush()
        for address, primary in zip(addresses, _primary_flags(addresses), strict=True):
            session.add(
                Address(
                    customer_id=customer_id,
                    **address.model_dump(exclude={"is_primary"}),
                    is_primary=primary,
                )
            )
    session.flush()


def to_public(session: Session, customer: Customer) -> CustomerPublic:
    assert customer.id is not None
    phones = session.exec(
        select(CustomerPhone)
        .where(CustomerPhone.customer_id == customer.id)
        .order_by(col(CustomerPhone.id))
    ).all()
    addresses = session.exec(
        select(Address).where(Address.customer_id == customer.id).order_by(col(Address.id))
    ).all()
    return CustomerPublic(
        **customer.model_dump(),
        phones=[PhonePublic(e164=p.e164, label=p.label) for p in phones],
        addresses=[AddressPublic.model_validate(a, from_attributes=True) for a in addresses],
    )


def _audit_view(session: Session, customer: Customer) -> dict[str, Any]:
    return to_public(session, customer).model_dump(mode="json")


def create_customer(
    session: Session,
    *,
    data: CustomerCreate,
    actor: Actor,
    region: str = "CN",
    clock: Clock,
) -> CustomerPublic:
    phones = _normalized(data.phones, region)
    now = clock()
    customer = Customer(
        name=data.name,
        title=data.title,
        preferred_language=data.preferred_language,
        notes=data.notes,
        created_at=now,
        updated_at=now,
    )
    session.add(customer)
    session.flush()
    assert customer.id is not None
    _write_children(session, customer.id, phones, data.addresses)
    public = to_public(session, customer)
    audit.record(
        session,
        actor=actor,
        entity="customer",
        entity_id=customer.id,
        action=AuditAction.CREATE,
        after=public.model_dump(mode="json"),
        clock=clock,
    )
    session.commit()
    return public


def get_customer_row(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(
            f"customer {customer_id} does not exist", details={"customer_id": customer_id}
        )
    return customer


def get_customer(session: Session, *, customer_id: int) -> CustomerPublic:
    return to_public(session, get_customer_row(session, customer_id))


def update_customer(
    session: Session,
    *,
    customer_id: int,
    data: CustomerUpdate,
    actor: Actor,
    region: str = "CN",
    clock: Clock,
) -> CustomerPublic:
    customer = get_customer_row(session, customer_id)
    phones = None if data.phones is None else _normalized(data.phones, region)
    before = _audit_view(session, customer)
    for field in ("name", "title", "preferred_language", "notes"):
        value = getattr(data, field)
        if value is not None:
            setattr(customer, field, value)
    customer.updated_at = clock()
    session.add(customer)
    _write_children(session, customer_id, phones, data.addresses)
    public = to_public(session, customer)
    audit.record(
        session,
        actor=actor,
        entity="customer",
        entity_id=customer_id,
        action=AuditAction.UPDATE,
        before=before,
        after=public.model_dump(mode="json"),
        clock=clock,
    )
    session.commit()
    return public


def search_customers(
    session: Session,
    *,
    phone: str | None = None,
    name: str | None = None,
    region: str = "CN",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[CustomerPublic], int]:
    query = select(Customer)
    if phone:
        e164 = normalize_phone(phone, default_region=region)
        query = query.where(
            col(Customer.id).in_(
                select(CustomerPhone.customer_id).where(CustomerPhone.e164 == e164)
            )
        )
    if name:
        query = query.where(col(Customer.name).contains(name.strip(), autoescape=True))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Customer.id)).limit(limit).offset(offset)).all()
    return [to_public(session, row) for row in rows], total


MIN_PHONE_TAIL = 4
"""A number's last digits find it from this many on (a caller reading out a tail)."""
_TYPED_BETWEEN_DIGITS = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"\+?\d+")


def find_customers(
    session: Session, *, text: str, region: str = "CN", limit: int
) -> tuple[list[CustomerPublic], int]:
    """Customers found by what an agent types in one box: a phone number in any form
    (139 1234 5678, +86..., or its last digits), part of a name, an order number, or part
    of an address. Exact finds (the whole number, the order, the very name) come first."""
    compact = _TYPED_BETWEEN_DIGITS.sub("", text)
    exact = [
        select(Customer.id).where(func.lower(Customer.name) == text.lower()),
        select(WorkOrder.customer_id).where(WorkOrder.number == compact.upper()),
    ]
    near = [
        select(Customer.id).where(col(Customer.name).icontains(text, autoescape=True)),
        _by_address(text),
    ]
    if _PHONE.fullmatch(compact):
        e164 = try_normalize_phone(compact, default_region=region)
        if e164 is not None:
            exact.append(select(CustomerPhone.customer_id).where(CustomerPhone.e164 == e164))
        digits = compact.lstrip("+")
        if len(digits) >= MIN_PHONE_TAIL:
            near.append(
                select(CustomerPhone.customer_id).where(col(CustomerPhone.e164).endswith(digits))
            )
    query = select(Customer).where(or_(*(col(Customer.id).in_(ids) for ids in exact + near)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rank = case((or_(*(col(Customer.id).in_(ids) for ids in exact)), 0), else_=1)
    rows = session.exec(query.order_by(rank, col(Customer.name), col(Customer.id)).limit(limit))
    return [to_public(session, row) for row in rows.all()], total


def _by_address(text: str) -> SelectOfScalar[int]:
    """Province, city, district and street read as one line (朝阳区建国路 spans two)."""
    line = col(Address.province) + col(Address.city) + col(Address.district) + col(Address.street)
    typed = {text, re.sub(r"\s+", "", text)}
    return select(Address.customer_id).where(
        or_(*(line.icontains(form, autoescape=True) for form in typed))
    )


def first_phone(session: Session, customer_id: int) -> str | None:
    """The customer's first number on file: the one the hotline calls or texts."""
    return session.exec(
        select(CustomerPhone.e164)
        .where(CustomerPhone.customer_id == customer_id)
        .order_by(col(CustomerPhone.id))
    ).first()
