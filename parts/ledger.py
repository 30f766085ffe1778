"""The stock ledger: the one place stock moves. Every movement is a ledger row, and the
balance of each store and part (``stock``) changes in the same transaction by the same
quantity, so the stock is always what the ledger sums to.

Taking stock is one conditional UPDATE (``quantity >= asked``): on PostgreSQL a second
writer waits for the first's row lock and re-reads the balance; on SQLite writers hold the
database's write lock from their first statement (core.db.WRITER). Either way two requests
can never both take the last unit, and the CHECK on ``stock`` backs it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from orders import Actor
from parts.enums import MovementReason
from parts.exceptions import InvalidStockMove, OutOfStock
from parts.models import Part, Stock, StockMovement, Warehouse


@dataclass(frozen=True)
class Move:
    """One movement to book: who and why come from the caller, the rest from here."""

    part_id: int
    quantity: int
    source: int | None
    target: int | None
    reason: MovementReason
    order_id: int | None = None
    material_line_id: int | None = None
    unit_price_fen: int | None = None
    note: str = ""


def book(session: Session, move: Move, *, actor: Actor, at: datetime) -> StockMovement:
    """Moves the stock and writes the ledger row; raises OutOfStock (nothing written) when
    the source holds fewer than asked."""
    if move.quantity <= 0:
        raise InvalidStockMove(
            "a movement moves at least one unit", details={"quantity": move.quantity}
        )
    if move.source is None and move.target is None:
        raise InvalidStockMove("a movement needs a store to leave or to enter")
    if move.source is not None and move.source == move.target:
        raise InvalidStockMove(
            "a movement needs two different stores", details={"warehouse_id": move.source}
        )
    if move.source is not None:
        _take(session, move.source, move.part_id, move.quantity)
    if move.target is not None:
        _put(session, move.target, move.part_id, move.quantity)
    row = StockMovement(
        at=at,
        part_id=move.part_id,
        quantity=move.quantity,
        from_warehouse_id=move.source,
        to_warehouse_id=move.target,
        reason=move.reason,
        order_id=move.order_id,
        material_line_id=move.material_line_id,
        unit_price_fen=move.unit_price_fen,
        actor_id=actor.id,
        actor_name=actor.name,
        note=move.note,
    )
    session.add(row)
    session.flush()
    return row


def _take(session: Session, warehouse_id: int, part_id: int, quantity: int) -> None:
    table: Any = Stock.__table__  # type: ignore[attr-defined]
    taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(table)
        .where(
            table.c.warehouse_id == warehouse_id,
            table.c.part_id == part_id,
            table.c.quantity >= quantity,
        )
        .values(quantity=table.c.quantity - quantity)
    )
    if taken.rowcount == 1:
        return
    available = on_hand(session, warehouse_id, part_id)
    code = session.exec(select(Part.code).where(Part.id == part_id)).first() or str(part_id)
    store = session.exec(select(Warehouse.code).where(Warehouse.id == warehouse_id)).first()
    raise OutOfStock(
        f"{store or warehouse_id} holds {available} of part {code}, {quantity} asked",
        details={
            "part_id": part_id,
            "warehouse_id": warehouse_id,
            "available": available,
            "requested": quantity,
        },
    )


def _put(session: Session, warehouse_id: int, part_id: int, quantity: int) -> None:
    table: Any = Stock.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(warehouse_id=warehouse_id, part_id=part_id, quantity=quantity)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["warehouse_id", "part_id"],
            set_={"quantity": table.c.quantity + quantity},
        )
    )


def on_hand(session: Session, warehouse_id: int, part_id: int) -> int:
    found = session.exec(
        select(Stock.quantity).where(Stock.warehouse_id == warehouse_id, Stock.part_id == part_id)
    ).first()
    return found or 0


def ledger_balance(session: Session, warehouse_id: int, part_id: int) -> int:
    """What the ledger rows sum to for a store and part (in minus out)."""
    into = session.exec(
        select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.to_warehouse_id == warehouse_id, StockMovement.part_id == part_id
        )
    ).one()
    out = session.exec(
        select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.from_warehouse_id == warehouse_id, StockMovement.part_id == part_id
        )
    ).one()
    return int(into) - int(out)


def discrepancies(session: Session) -> list[tuple[int, int, int, int]]:
    """Stores and parts whose balance differs from their ledger: (warehouse, part,
    balance, ledger). Empty unless someone wrote to ``stock`` behind the ledger's back."""
    found = []
    pairs = session.exec(select(Stock.warehouse_id, Stock.part_id, Stock.quantity)).all()
    for warehouse_id, part_id, quantity in pairs:
        ledger = ledger_balance(session, warehouse_id, part_id)
        if ledger != quantity:
            found.append((warehouse_id, part_id, quantity, ledger))
    return found


def stock_of(session: Session, warehouse_id: int) -> list[tuple[Part, int]]:
    rows = session.exec(
        select(Part, Stock.quantity)
        .join(Stock, col(Stock.part_id) == col(Part.id))
        .where(Stock.warehouse_id == warehouse_id)
        .order_by(col(Part.code))
    ).all()
    return [(part, quantity) for part, quantity in rows]
