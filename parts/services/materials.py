"""Material lines of a work order (材料清单): saving a line takes its stock from the store
(领料减库存), changing its quantity moves the difference (改数量加减), removing it puts the
stock back (删除回加); each through the ledger, in the request's one transaction."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.errors import PermissionDenied
from core.types import Clock
from orders import OPEN_STATES, Actor, Role, WarrantyStatus, WorkOrder, visible_order
from parts.enums import CHARGED, IssueType, MovementReason, WarehouseKind
from parts.exceptions import InvalidStockMove, MaterialLineNotFound
from parts.ledger import Move, book
from parts.models import MaterialLine, Part, Warehouse
from parts.schemas import MaterialChange, MaterialIn, MaterialPublic
from parts.services.catalogue import get_part
from parts.services.warehouses import get_warehouse, store_of

MAY_ISSUE = (Role.ADMIN, Role.SUPERVISOR, Role.STATION, Role.ENGINEER)


def add_line(
    session: Session, *, order_id: int, data: MaterialIn, actor: Actor, clock: Clock
) -> MaterialPublic:
    line = write_line(session, order_id=order_id, data=data, actor=actor, clock=clock)
    session.commit()
    return line


def write_line(
    session: Session, *, order_id: int, data: MaterialIn, actor: Actor, clock: Clock
) -> MaterialPublic:
    """A material line and the stock it takes, written and not committed: for a step
    whose other writes must go with it (a customer's part order picked up)."""
    order = _workable(session, order_id, actor)
    part = get_part(session, data.part_id)
    price = _unit_price(order, part, data)
    store = _source(session, order, data, actor)
    now = clock()
    # The stock first: a short store refuses before anything is written.
    movement = book(
        session,
        Move(
            part.id or 0,
            data.quantity,
            store.id,
            None,
            MovementReason.ISSUE,
            order_id=order_id,
            unit_price_fen=price,
        ),
        actor=actor,
        at=now,
    )
    line = MaterialLine(
        order_id=order_id,
        part_id=part.id or 0,
        warehouse_id=store.id or 0,
        quantity=data.quantity,
        issue_type=data.issue_type,
        unit_price_fen=price,
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    session.add(line)
    session.flush()
    movement.material_line_id = line.id
    session.add(movement)
    session.flush()
    return _public(line, part)


def change_line(
    session: Session,
    *,
    order_id: int,
    line_id: int,
    data: MaterialChange,
    actor: Actor,
    clock: Clock,
) -> MaterialPublic:
    _workable(session, order_id, actor)
    line = _locked_line(session, order_id, line_id)
    delta = data.quantity - line.quantity
    now = clock()
    if delta:
        book(
            session,
            Move(
                line.part_id,
                abs(delta),
                line.warehouse_id if delta > 0 else None,
                None if delta > 0 else line.warehouse_id,
                MovementReason.ISSUE_CHANGE,
                order_id=order_id,
                material_line_id=line.id,
                unit_price_fen=line.unit_price_fen,
                note=f"{line.quantity} → {data.quantity}",
            ),
            actor=actor,
            at=now,
        )
        line.quantity = data.quantity
        line.updated_at = now
        session.add(line)
    session.commit()
    return _public(line, get_part(session, line.part_id))


def remove_line(
    session: Session, *, order_id: int, line_id: int, actor: Actor, clock: Clock
) -> MaterialPublic:
    _workable(session, order_id, actor)
    line = _locked_line(session, order_id, line_id)
    now = clock()
    book(
        session,
        Move(
            line.part_id,
            line.quantity,
            None,
            line.warehouse_id,
            MovementReason.ISSUE_RETURN,
            order_id=order_id,
            material_line_id=line.id,
        ),
        actor=actor,
        at=now,
    )
    line.removed_at = now
    line.updated_at = now
    session.add(line)
    session.commit()
    return _public(line, get_part(session, line.part_id))


def lines(
    session: Session, *, order_id: int, viewer: Actor, removed: bool = False
) -> list[MaterialPublic]:
    visible_order(session, order_id, viewer)
    query = (
        select(MaterialLine, Part)
        .join(Part, col(Part.id) == col(MaterialLine.part_id))
        .where(MaterialLine.order_id == order_id)
        .order_by(col(MaterialLine.id))
    )
    if not removed:
        query = query.where(col(MaterialLine.removed_at).is_(None))
    return [_public(line, part) for line, part in session.exec(query).all()]


def _workable(session: Session, order_id: int, actor: Actor) -> WorkOrder:
    order = visible_order(session, order_id, actor)
    if actor.role not in MAY_ISSUE:
        raise PermissionDenied(
            f"role {actor.role.value} may not issue parts", details={"role": actor.role}
        )
    if order.status not in OPEN_STATES:
        raise InvalidStockMove(
            f"parts go only onto open orders; {order.number} is {order.status.value}",
            details={"status": order.status},
        )
    return order


def _locked_line(session: Session, order_id: int, line_id: int) -> MaterialLine:
    # The row lock makes two changes of one line take turns, so each moves the difference
    # from the quantity the other left (SQLite's writers take turns anyway).
    line = session.exec(
        select(MaterialLine)
        .where(MaterialLine.id == line_id, MaterialLine.order_id == order_id)
        .with_for_update()
    ).first()
    if line is None or line.removed_at is not None:
        raise MaterialLineNotFound(
            f"order {order_id} has no material line {line_id}",
            details={"order_id": order_id, "line_id": line_id},
        )
    return line


def _unit_price(order: WorkOrder, part: Part, data: MaterialIn) -> int:
    if data.issue_type is IssueType.IN_WARRANTY and not _covered(order):
        raise InvalidStockMove(
            f"order {order.number} is out of warranty: issue the part as out_of_warranty (charged)",
            details={"warranty_status": order.warranty_status},
        )
    # From the engineer's own stock the part is paid as any other: free under warranty,
    # charged outside it.
    charged = data.issue_type in CHARGED or (
        data.issue_type is IssueType.ENGINEER and not _covered(order)
    )
    if not charged:
        if data.unit_price_fen:
            raise InvalidStockMove(
                f"a {data.issue_type.value} issue costs the customer nothing",
                details={"unit_price_fen": data.unit_price_fen},
            )
        return 0
    if data.issue_type in (IssueType.CUSTOMER_SALE, IssueType.CUSTOMER_ORDER) and not part.sellable:
        raise InvalidStockMove(
            f"part {part.code} may not be sold (不可销售备件)", details={"part_id": part.id}
        )
    price = part.public_price_fen if data.unit_price_fen is None else data.unit_price_fen
    if price > part.public_price_fen:
        raise InvalidStockMove(
            f"part {part.code} may not be charged above its public price"
            f" of {part.public_price_fen} fen",
            details={"unit_price_fen": price, "public_price_fen": part.public_price_fen},
        )
    return price


def _covered(order: WorkOrder) -> bool:
    """Under the maker's warranty, or the 90-day warranty of an earlier repair."""
    return (
        order.warranty_status is not WarrantyStatus.OUT_OF_WARRANTY
        or order.repair_warranty_of is not None
    )


def _source(session: Session, order: WorkOrder, data: MaterialIn, actor: Actor) -> Warehouse:
    if order.station_id is None:
        raise InvalidStockMove(
            f"order {order.number} has no station yet: parts come from the station's store",
            details={"order_id": order.id},
        )
    if data.warehouse_id is not None:
        store = get_warehouse(session, data.warehouse_id, actor)
        if store.station_id != order.station_id or store.kind is WarehouseKind.CENTRAL:
            raise InvalidStockMove(
                f"store {store.code} is not one of the order's station's stores",
                details={"warehouse_id": store.id, "station_id": order.station_id},
            )
        return store
    if data.issue_type is IssueType.ENGINEER:
        if order.engineer_id is None:
            raise InvalidStockMove(
                "an engineer's issue needs the order's engineer", details={"order_id": order.id}
            )
        return store_of(session, kind=WarehouseKind.ENGINEER, engineer_id=order.engineer_id)
    return store_of(session, kind=WarehouseKind.STATION, station_id=order.station_id)


def _public(line: MaterialLine, part: Part) -> MaterialPublic:
    return MaterialPublic(
        id=line.id or 0,
        order_id=line.order_id,
        part_id=line.part_id,
        part_code=part.code,
        part_name=part.name,
        warehouse_id=line.warehouse_id,
        quantity=line.quantity,
        issue_type=line.issue_type,
        unit_price_fen=line.unit_price_fen,
        total_fen=line.quantity * line.unit_price_fen,
        created_by=line.created_by,
        created_at=line.created_at,
        removed_at=line.removed_at,
    )
