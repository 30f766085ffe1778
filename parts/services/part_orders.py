"""Customers' part orders (客户预订购件): a part ordered at a price fixed then, shown as
arrived once the station's store holds it (到货查询), and handed over at pick-up (取件),
when its stock leaves as a charged material line of the order."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.types import Clock
from orders import Actor, WorkOrder, visible_order
from parts.enums import IssueType, PartOrderStatus, WarehouseKind
from parts.exceptions import InvalidStockMove, NoStationWarehouse, PartOrderNotFound
from parts.ledger import on_hand
from parts.models import Part, PartOrder
from parts.schemas import MaterialIn, PartOrderIn, PartOrderPublic
from parts.services.catalogue import get_part
from parts.services.materials import write_line
from parts.services.warehouses import store_of


def order_part(
    session: Session, *, order_id: int, data: PartOrderIn, actor: Actor, clock: Clock
) -> PartOrderPublic:
    order = visible_order(session, order_id, actor)
    part = get_part(session, data.part_id)
    if not part.sellable:
        raise InvalidStockMove(
            f"part {part.code} may not be sold (不可销售备件)", details={"part_id": part.id}
        )
    price = part.public_price_fen if data.unit_price_fen is None else data.unit_price_fen
    if price > part.public_price_fen:
        raise InvalidStockMove(
            f"part {part.code} may not be sold above its public price"
            f" of {part.public_price_fen} fen",
            details={"unit_price_fen": price},
        )
    row = PartOrder(
        order_id=order.id or 0,
        part_id=part.id or 0,
        quantity=data.quantity,
        unit_price_fen=price,
        ordered_by=actor.name,
        ordered_at=clock(),
    )
    session.add(row)
    session.commit()
    return _public(session, row, part, order.station_id)


def pick_up(session: Session, *, part_order_id: int, actor: Actor, clock: Clock) -> PartOrderPublic:
    row = session.exec(
        select(PartOrder).where(PartOrder.id == part_order_id).with_for_update()
    ).first()
    if row is None:
        raise PartOrderNotFound(
            f"part order {part_order_id} does not exist", details={"part_order_id": part_order_id}
        )
    order = visible_order(session, row.order_id, actor)
    if row.status is not PartOrderStatus.ORDERED:
        raise InvalidStockMove(
            f"part order {part_order_id} is {row.status.value}", details={"status": row.status}
        )
    # One transaction with the status: committed apart, the line let go of the part
    # order's lock, and a second pick-up at the same moment took the stock again.
    line = write_line(
        session,
        order_id=row.order_id,
        data=MaterialIn(
            part_id=row.part_id,
            quantity=row.quantity,
            issue_type=IssueType.CUSTOMER_ORDER,
            unit_price_fen=row.unit_price_fen,
        ),
        actor=actor,
        clock=clock,
    )
    row.status, row.material_line_id, row.picked_up_at = PartOrderStatus.PICKED_UP, line.id, clock()
    session.add(row)
    session.commit()
    return _public(session, row, get_part(session, row.part_id), order.station_id)


def part_orders(session: Session, *, order_id: int, viewer: Actor) -> list[PartOrderPublic]:
    order = visible_order(session, order_id, viewer)
    rows = session.exec(
        select(PartOrder, Part)
        .join(Part, col(Part.id) == col(PartOrder.part_id))
        .where(PartOrder.order_id == order_id)
        .order_by(col(PartOrder.id))
    ).all()
    return [_public(session, row, part, order.station_id) for row, part in rows]


def arrived_part_orders(session: Session) -> list[tuple[int, int]]:
    """The customers' part orders waiting at their station now (its store holds them), as
    (part order, work order): the ones to tell the customer about."""
    rows = session.exec(
        select(PartOrder, WorkOrder.station_id)
        .join(WorkOrder, col(WorkOrder.id) == col(PartOrder.order_id))
        .where(PartOrder.status == PartOrderStatus.ORDERED)
    ).all()
    return [
        (row.id or 0, row.order_id)
        for row, station_id in rows
        if _arrived(session, row, station_id)
    ]


def _arrived(session: Session, row: PartOrder, station_id: int | None) -> bool:
    if row.status is not PartOrderStatus.ORDERED or station_id is None:
        return False
    try:
        store = store_of(session, kind=WarehouseKind.STATION, station_id=station_id)
    except NoStationWarehouse:
        return False  # nowhere for it to arrive yet
    return on_hand(session, store.id or 0, row.part_id) >= row.quantity


def _public(
    session: Session, row: PartOrder, part: Part, station_id: int | None
) -> PartOrderPublic:
    arrived = _arrived(session, row, station_id)
    return PartOrderPublic(
        id=row.id or 0,
        order_id=row.order_id,
        part_id=row.part_id,
        part_code=part.code,
        quantity=row.quantity,
        unit_price_fen=row.unit_price_fen,
        total_fen=row.quantity * row.unit_price_fen,
        status=row.status,
        arrived=arrived,
        ordered_by=row.ordered_by,
        ordered_at=row.ordered_at,
        picked_up_at=row.picked_up_at,
    )
