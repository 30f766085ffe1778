"""Stores and what is in them; receipts and transfers between them."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import PermissionDenied
from core.types import Clock
from orders import Actor, Role, engineer_of, get_engineer_row, get_station_row
from parts.enums import OWNED_BY_STATION, MovementReason, WarehouseKind
from parts.exceptions import (
    DuplicateWarehouse,
    InvalidStockMove,
    NoStationWarehouse,
    WarehouseNotFound,
)
from parts.ledger import Move, book, stock_of
from parts.models import StockMovement, Warehouse
from parts.schemas import (
    MovementPublic,
    ReceiptIn,
    StockLine,
    StockPublic,
    TransferIn,
    WarehouseIn,
    WarehousePublic,
)
from parts.services.catalogue import get_part

HQ_ROLES = (Role.ADMIN, Role.SUPERVISOR)


def create_warehouse(
    session: Session, *, data: WarehouseIn, actor: Actor, clock: Clock
) -> WarehousePublic:
    if actor.role not in HQ_ROLES:
        raise PermissionDenied("only supervisors set up stores", details={"role": actor.role})
    station_id = data.station_id
    if data.kind is WarehouseKind.CENTRAL:
        if data.station_id is not None or data.engineer_id is not None:
            raise InvalidStockMove("the central store belongs to no station or engineer")
    elif data.kind is WarehouseKind.ENGINEER:
        if data.engineer_id is None:
            raise InvalidStockMove(
                "an engineer's store names its engineer", details={"field": "engineer_id"}
            )
        station_id = get_engineer_row(session, data.engineer_id).station_id
    elif data.kind is WarehouseKind.DAMAGED and data.station_id is None:
        # The parts group's own damaged store, where faulty parts come back to.
        if data.engineer_id is not None:
            raise InvalidStockMove("a damaged store belongs to a station or to the parts group")
    else:
        if data.station_id is None or data.engineer_id is not None:
            raise InvalidStockMove(
                f"a {data.kind.value} store belongs to one station", details={"field": "station_id"}
            )
        get_station_row(session, data.station_id)
    if session.exec(select(Warehouse.id).where(Warehouse.code == data.code)).first() is not None:
        raise DuplicateWarehouse(f"store {data.code} exists already", details={"code": data.code})
    if data.kind is not WarehouseKind.CENTRAL:
        owner = (
            Warehouse.engineer_id == data.engineer_id
            if data.kind is WarehouseKind.ENGINEER
            else Warehouse.station_id == station_id
        )
        clash = session.exec(
            select(Warehouse.code).where(Warehouse.kind == data.kind, owner)
        ).first()
        if clash is not None:
            raise DuplicateWarehouse(
                f"store {clash} is already this {data.kind.value} store", details={"code": clash}
            )
    store = Warehouse(
        code=data.code,
        name=data.name,
        kind=data.kind,
        station_id=station_id,
        engineer_id=data.engineer_id,
        created_at=clock(),
    )
    session.add(store)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise DuplicateWarehouse(
            f"store {data.code} exists already", details={"code": data.code}
        ) from exc
    return WarehousePublic.model_validate(store)


def list_warehouses(
    session: Session, *, viewer: Actor, station_id: int | None = None
) -> list[WarehousePublic]:
    query = select(Warehouse).order_by(col(Warehouse.code))
    if viewer.role in (Role.STATION, Role.ENGINEER):
        query = query.where(Warehouse.station_id == viewer.station_id)
    elif station_id is not None:
        query = query.where(Warehouse.station_id == station_id)
    stores = [s for s in session.exec(query).all() if _sees(session, viewer, s)]
    return [WarehousePublic.model_validate(s) for s in stores]


def get_warehouse(session: Session, warehouse_id: int, viewer: Actor) -> Warehouse:
    store = session.get(Warehouse, warehouse_id)
    # Another station's stores are absent to a station, as its orders are.
    if store is None or not _sees(session, viewer, store):
        raise WarehouseNotFound(
            f"store {warehouse_id} does not exist", details={"warehouse_id": warehouse_id}
        )
    return store


def _sees(session: Session, viewer: Actor, store: Warehouse) -> bool:
    if viewer.role is Role.STATION:
        return store.station_id is not None and store.station_id == viewer.station_id
    if viewer.role is Role.ENGINEER:
        return store.engineer_id is not None and store.engineer_id == engineer_of(session, viewer)
    return True


def may_move(session: Session, viewer: Actor, store: Warehouse) -> None:
    """Headquarters moves any stock; a station only its own stores' (its engineers'
    included); engineers and agents read only."""
    if viewer.role in HQ_ROLES:
        return
    if viewer.role is Role.STATION and store.station_id == viewer.station_id:
        return
    raise PermissionDenied(
        f"role {viewer.role.value} may not move the stock of store {store.code}",
        details={"warehouse_id": store.id},
    )


def stock(session: Session, *, warehouse_id: int, viewer: Actor) -> StockPublic:
    store = get_warehouse(session, warehouse_id, viewer)
    lines = [
        StockLine(
            part_id=part.id or 0,
            code=part.code,
            name=part.name,
            quantity=quantity,
            station_price_fen=part.station_price_fen,
            value_fen=quantity * part.station_price_fen,
        )
        for part, quantity in stock_of(session, warehouse_id)
        if quantity
    ]
    return StockPublic(
        warehouse=WarehousePublic.model_validate(store),
        lines=lines,
        value_fen=sum(line.value_fen for line in lines),
    )


def receive(
    session: Session, *, warehouse_id: int, data: ReceiptIn, actor: Actor, clock: Clock
) -> MovementPublic:
    store = get_warehouse(session, warehouse_id, actor)
    may_move(session, actor, store)
    get_part(session, data.part_id)
    row = book(
        session,
        Move(data.part_id, data.quantity, None, store.id, MovementReason.RECEIPT, note=data.note),
        actor=actor,
        at=clock(),
    )
    session.commit()
    return MovementPublic.model_validate(row)


def transfer(session: Session, *, data: TransferIn, actor: Actor, clock: Clock) -> MovementPublic:
    source = get_warehouse(session, data.from_warehouse_id, actor)
    target = get_warehouse(session, data.to_warehouse_id, actor)
    may_move(session, actor, source)
    may_move(session, actor, target)
    get_part(session, data.part_id)
    if WarehouseKind.CENTRAL in (source.kind, target.kind) and actor.role not in HQ_ROLES:
        raise PermissionDenied("the central store lends and takes back through part requests")
    reason = (
        MovementReason.SCRAP if target.kind is WarehouseKind.DAMAGED else MovementReason.TRANSFER
    )
    row = book(
        session,
        Move(data.part_id, data.quantity, source.id, target.id, reason, note=data.note),
        actor=actor,
        at=clock(),
    )
    session.commit()
    return MovementPublic.model_validate(row)


def store_of(
    session: Session,
    *,
    kind: WarehouseKind,
    station_id: int | None = None,
    engineer_id: int | None = None,
) -> Warehouse:
    """The one store of a kind that a station (or an engineer) holds."""
    query = select(Warehouse).where(Warehouse.kind == kind, Warehouse.is_active)
    if kind is WarehouseKind.ENGINEER:
        query = query.where(Warehouse.engineer_id == engineer_id)
    elif kind in OWNED_BY_STATION:
        query = query.where(Warehouse.station_id == station_id)
    store = session.exec(query.order_by(col(Warehouse.id))).first()
    if store is None:
        owner = (
            f"engineer {engineer_id}" if kind is WarehouseKind.ENGINEER else f"station {station_id}"
        )
        raise NoStationWarehouse(
            f"{owner} has no {kind.value} store; a supervisor sets one up at POST /api/warehouses",
            details={"kind": kind, "station_id": station_id, "engineer_id": engineer_id},
        )
    return store


def movements(
    session: Session,
    *,
    viewer: Actor,
    part_id: int | None = None,
    warehouse_id: int | None = None,
    order_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[StockMovement]:
    """Ledger rows, newest first; a station sees the rows of its own stores."""
    query = select(StockMovement)
    if part_id is not None:
        query = query.where(StockMovement.part_id == part_id)
    if warehouse_id is not None:
        get_warehouse(session, warehouse_id, viewer)
        query = query.where(
            (col(StockMovement.from_warehouse_id) == warehouse_id)
            | (col(StockMovement.to_warehouse_id) == warehouse_id)
        )
    elif viewer.role in (Role.STATION, Role.ENGINEER):
        own = [s.id for s in list_warehouses(session, viewer=viewer)]
        query = query.where(
            col(StockMovement.from_warehouse_id).in_(own)
            | col(StockMovement.to_warehouse_id).in_(own)
        )
    if order_id is not None:
        query = query.where(StockMovement.order_id == order_id)
    return list(
        session.exec(query.order_by(col(StockMovement.id).desc()).offset(offset).limit(limit)).all()
    )
