"""Quotes for paid work (有偿服务): labour from the fee schedule, parts at most at their
public price, travel; the customer's approval, with how it was given, comes before the
work starts, and an out-of-warranty order does not go into service without it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from billing.enums import QuoteStatus
from billing.exceptions import InvalidQuote, QuoteNotFound, QuoteRequired
from billing.models import Quote
from billing.schemas import QuoteDecision, QuoteIn, QuotePublic
from billing.services.rates import labour_fee, travel_fee
from core.errors import PermissionDenied
from core.types import Clock
from orders import (
    OPEN_STATES,
    Actor,
    Appliance,
    OrderStatus,
    Role,
    WarrantyStatus,
    WorkOrder,
    visible_order,
)
from parts import InvalidStockMove, get_part

MAY_QUOTE = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.STATION, Role.ENGINEER)


def needs_quote(order: WorkOrder) -> bool:
    """Out of the maker's warranty and of the 90-day warranty of an earlier repair."""
    return (
        order.warranty_status is WarrantyStatus.OUT_OF_WARRANTY and order.repair_warranty_of is None
    )


def create_quote(
    session: Session, *, order_id: int, data: QuoteIn, actor: Actor, clock: Clock
) -> QuotePublic:
    order = visible_order(session, order_id, actor)
    if order.status not in OPEN_STATES:
        raise InvalidQuote(
            f"order {order.number} is {order.status.value}: quotes are for work still to do",
            details={"status": order.status},
        )
    appliance = session.get(Appliance, order.appliance_id) if order.appliance_id else None
    labour = labour_fee(session, data.service_kind, appliance.category.value if appliance else None)
    parts: list[dict[str, object]] = []
    parts_fen = 0
    for line in data.parts:
        part = get_part(session, line.part_id)
        price = part.public_price_fen if line.unit_price_fen is None else line.unit_price_fen
        if price > part.public_price_fen:
            raise InvalidStockMove(
                f"part {part.code} may not be quoted above its public price"
                f" of {part.public_price_fen} fen",
                details={"unit_price_fen": price, "public_price_fen": part.public_price_fen},
            )
        parts.append(
            {
                "part_id": part.id,
                "code": part.code,
                "name": part.name,
                "quantity": line.quantity,
                "unit_price_fen": price,
            }
        )
        parts_fen += line.quantity * price
    travel = travel_fee(session, order.urban is not False) if data.travel else 0
    quote = Quote(
        order_id=order_id,
        service_kind=data.service_kind,
        parts=parts,
        labour_fen=labour,
        parts_fen=parts_fen,
        travel_fen=travel,
        total_fen=labour + parts_fen + travel,
        created_by=actor.name,
        created_at=clock(),
    )
    session.add(quote)
    session.commit()
    return QuotePublic.model_validate(quote)


def decide_quote(
    session: Session, *, quote_id: int, data: QuoteDecision, actor: Actor, clock: Clock
) -> QuotePublic:
    quote = session.exec(select(Quote).where(Quote.id == quote_id).with_for_update()).first()
    if quote is None:
        raise QuoteNotFound(f"quote {quote_id} does not exist", details={"quote_id": quote_id})
    visible_order(session, quote.order_id, actor)
    if actor.role not in MAY_QUOTE:
        raise PermissionDenied(f"role {actor.role.value} may not record a customer's answer")
    if quote.status is not QuoteStatus.PENDING:
        raise InvalidQuote(
            f"quote {quote_id} was {quote.status.value} already", details={"status": quote.status}
        )
    quote.status = QuoteStatus.APPROVED if data.approve else QuoteStatus.DECLINED
    quote.decided_at, quote.method = clock(), data.method
    quote.customer_name, quote.recorded_by = data.customer_name, actor.name
    session.add(quote)
    session.commit()
    return QuotePublic.model_validate(quote)


def quotes_of(session: Session, *, order_id: int, viewer: Actor) -> list[QuotePublic]:
    visible_order(session, order_id, viewer)
    rows = session.exec(
        select(Quote).where(Quote.order_id == order_id).order_by(col(Quote.id))
    ).all()
    return [QuotePublic.model_validate(r) for r in rows]


def approved_quote(session: Session, order_id: int) -> Quote | None:
    return session.exec(
        select(Quote)
        .where(Quote.order_id == order_id, Quote.status == QuoteStatus.APPROVED)
        .order_by(col(Quote.id).desc())
    ).first()


def quote_before_paid_work(session: Session, order: WorkOrder, to: OrderStatus) -> None:
    """The precondition the composition root installs on orders' status changes."""
    if (
        to is OrderStatus.IN_SERVICE
        and needs_quote(order)
        and approved_quote(session, order.id or 0) is None
    ):
        raise QuoteRequired(
            f"order {order.number} is out of warranty: the customer approves a quote before"
            f" the work starts (POST /api/orders/{order.id}/quotes)",
            details={"order_id": order.id},
        )
