"""Loaner units (备用机): a unit from the station's loaner store goes to the customer while
their machine is repaired, and comes back, each way a ledger row."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.types import Clock
from orders import Actor, visible_order
from parts.enums import LoanStatus, MovementReason, WarehouseKind
from parts.exceptions import InvalidStockMove, LoanNotFound
from parts.ledger import Move, book
from parts.models import Loan
from parts.schemas import LoanIn, LoanPublic
from parts.services.catalogue import get_part
from parts.services.warehouses import get_warehouse, may_move, store_of


def lend(
    session: Session, *, order_id: int, data: LoanIn, actor: Actor, clock: Clock
) -> LoanPublic:
    order = visible_order(session, order_id, actor)
    get_part(session, data.part_id)
    if data.warehouse_id is not None:
        store = get_warehouse(session, data.warehouse_id, actor)
    elif order.station_id is not None:
        store = store_of(session, kind=WarehouseKind.LOANER, station_id=order.station_id)
    else:
        raise InvalidStockMove(f"order {order.number} has no station to lend from")
    if store.kind is not WarehouseKind.LOANER:
        raise InvalidStockMove(
            f"store {store.code} holds no loaner units", details={"warehouse_id": store.id}
        )
    may_move(session, actor, store)
    now = clock()
    book(
        session,
        Move(data.part_id, 1, store.id, None, MovementReason.LOAN, order_id=order_id),
        actor=actor,
        at=now,
    )
    loan = Loan(
        order_id=order_id,
        part_id=data.part_id,
        warehouse_id=store.id or 0,
        lent_by=actor.name,
        lent_at=now,
    )
    session.add(loan)
    session.commit()
    return LoanPublic.model_validate(loan)


def take_back(session: Session, *, loan_id: int, actor: Actor, clock: Clock) -> LoanPublic:
    loan = session.exec(select(Loan).where(Loan.id == loan_id).with_for_update()).first()
    if loan is None:
        raise LoanNotFound(f"loan {loan_id} does not exist", details={"loan_id": loan_id})
    visible_order(session, loan.order_id, actor)
    if loan.status is LoanStatus.RETURNED:
        raise InvalidStockMove(f"loan {loan_id} was returned already", details={"loan_id": loan_id})
    may_move(session, actor, get_warehouse(session, loan.warehouse_id, actor))
    now = clock()
    book(
        session,
        Move(
            loan.part_id,
            1,
            None,
            loan.warehouse_id,
            MovementReason.LOAN_RETURN,
            order_id=loan.order_id,
        ),
        actor=actor,
        at=now,
    )
    loan.status, loan.returned_at = LoanStatus.RETURNED, now
    session.add(loan)
    session.commit()
    return LoanPublic.model_validate(loan)


def loans_of(session: Session, *, order_id: int, viewer: Actor) -> list[LoanPublic]:
    visible_order(session, order_id, viewer)
    rows = session.exec(select(Loan).where(Loan.order_id == order_id).order_by(col(Loan.id))).all()
    return [LoanPublic.model_validate(r) for r in rows]
