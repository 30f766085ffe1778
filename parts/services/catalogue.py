"""The parts catalogue: codes, the models they fit, the two prices."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from core.types import Clock
from orders import Actor
from parts.exceptions import DuplicatePartCode, InvalidPart, PartNotFound
from parts.models import Part
from parts.schemas import PartIn, PartPublic


def create_part(session: Session, *, data: PartIn, actor: Actor, clock: Clock) -> PartPublic:
    if data.station_price_fen > data.public_price_fen:
        raise InvalidPart(
            "a station's price may not be above the public price (不得高于公布的客户价格)",
            details={
                "station_price_fen": data.station_price_fen,
                "public_price_fen": data.public_price_fen,
            },
        )
    if session.exec(select(Part.id).where(Part.code == data.code)).first() is not None:
        raise DuplicatePartCode(f"part {data.code} exists already", details={"code": data.code})
    part = Part(**data.model_dump(), created_at=clock())
    session.add(part)
    try:
        session.commit()
    except IntegrityError as exc:  # the same code created at the same moment
        session.rollback()
        raise DuplicatePartCode(
            f"part {data.code} exists already", details={"code": data.code}
        ) from exc
    return PartPublic.model_validate(part)


def get_part(session: Session, part_id: int) -> Part:
    part = session.get(Part, part_id)
    if part is None:
        raise PartNotFound(f"part {part_id} does not exist", details={"part_id": part_id})
    return part


def list_parts(
    session: Session, *, q: str = "", model: str = "", limit: int = 100, offset: int = 0
) -> tuple[list[PartPublic], int]:
    """Parts whose code or name holds ``q``; with ``model``, those that fit it (or any)."""
    where = []
    if q:
        pattern = f"%{q}%"
        where.append(or_(col(Part.code).ilike(pattern), col(Part.name).ilike(pattern)))
    rows = session.exec(select(Part).where(*where).order_by(col(Part.code))).all()
    if model:
        rows = [part for part in rows if not part.models or model in part.models]
    return [PartPublic.model_validate(p) for p in rows[offset : offset + limit]], len(rows)
