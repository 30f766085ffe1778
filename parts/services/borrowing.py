"""Borrowing from the central store and giving back (spec §4.1, §4.3).

A station asks (备件申请单); the hotline (a supervisor) and the after-sales manager (an
admin) both approve before it ships; the central store ships the approval's day when it
came before 12:00 on a working day, else the next working day. What a station holds on
loan comes back: faulty parts within 5 working days of the repair they came out of, with
its voucher; unused ones within 10 working days of shipment; whatever is still out after
20 working days is billed to the station at its price (以维修站购买价格进行销售). Working
days are the station's own (its hours, closures, China's holidays and make-up days)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, func, select

from core.errors import PermissionDenied
from core.types import Clock
from orders import (
    HOTLINE_ZONE,
    SYSTEM,
    Actor,
    BusinessCalendar,
    Role,
    calendar_for,
    completed_at,
    get_station_row,
    is_working_day,
    visible_order,
)
from parts.enums import MovementReason, PartRequestStatus, ReturnCondition, WarehouseKind
from parts.exceptions import BorrowedPartNotFound, InvalidPartRequest, PartRequestNotFound
from parts.ledger import Move, book
from parts.models import (
    BorrowedPart,
    MaterialLine,
    Part,
    PartRequest,
    PartRequestLine,
    PartReturn,
    Warehouse,
)
from parts.schemas import (
    DueReturn,
    PartRequestDecision,
    PartRequestIn,
    PartRequestLinePublic,
    PartRequestPublic,
    ReturnIn,
    ReturnPublic,
)
from parts.services.catalogue import get_part
from parts.services.warehouses import store_of

SAME_DAY_BEFORE = time(12, 0)
"""Requests the central store accepts before noon ship that day (12:00之前当天发出)."""
FAULTY_RETURN_DAYS = 5
UNUSED_RETURN_DAYS = 10
BILL_AFTER_DAYS = 20


def request_parts(
    session: Session, *, data: PartRequestIn, actor: Actor, clock: Clock
) -> PartRequestPublic:
    if actor.role is Role.STATION:
        if data.station_id not in (None, actor.station_id):
            raise PermissionDenied(
                "a station asks for parts for itself", details={"station_id": data.station_id}
            )
        station_id = actor.station_id
    elif actor.role in (Role.ADMIN, Role.SUPERVISOR):
        station_id = data.station_id
    else:
        raise PermissionDenied(
            f"role {actor.role.value} may not ask for parts", details={"role": actor.role}
        )
    if station_id is None:
        raise InvalidPartRequest(
            "a parts request names the station it is for", details={"field": "station_id"}
        )
    get_station_row(session, station_id)
    if data.order_id is not None:
        visible_order(session, data.order_id, actor)
    for line in data.lines:
        get_part(session, line.part_id)
    request = PartRequest(
        station_id=station_id,
        order_id=data.order_id,
        note=data.note,
        requested_by=actor.name,
        requested_at=clock(),
    )
    session.add(request)
    session.flush()
    for line in data.lines:
        session.add(
            PartRequestLine(
                request_id=request.id or 0, part_id=line.part_id, quantity=line.quantity
            )
        )
    session.commit()
    return _public(session, request)


def decide(
    session: Session, *, request_id: int, data: PartRequestDecision, actor: Actor, clock: Clock
) -> PartRequestPublic:
    """The hotline's (a supervisor's) or the after-sales manager's (an admin's) signature;
    either may refuse. Both signed: approved, with the central store's ship day."""
    if actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        # Refusals too: a station's staff could refuse another station's request.
        raise PermissionDenied(
            "parts requests are approved by the hotline (a supervisor) and the after-sales"
            " manager (an admin)",
            details={"role": actor.role},
        )
    request = _locked(session, request_id)
    if request.status is not PartRequestStatus.PENDING:
        raise InvalidPartRequest(
            f"parts request {request_id} is {request.status.value} already",
            details={"status": request.status},
        )
    now = clock()
    if not data.approve:
        if not data.reason:
            raise InvalidPartRequest("a refusal gives its reason", details={"field": "reason"})
        request.status = PartRequestStatus.REJECTED
        request.rejected_by = actor.name
        request.reject_reason = data.reason
    elif actor.role is Role.SUPERVISOR:
        if request.hotline_approved_at is not None:
            raise InvalidPartRequest("the hotline has approved this request already")
        request.hotline_approved_by, request.hotline_approved_at = actor.name, now
    else:
        if request.manager_approved_at is not None:
            raise InvalidPartRequest("the after-sales manager has approved this request already")
        request.manager_approved_by, request.manager_approved_at = actor.name, now
    if request.hotline_approved_at is not None and request.manager_approved_at is not None:
        request.status = PartRequestStatus.APPROVED
        request.approved_at = now
        request.ship_on = ship_day(now)
    session.add(request)
    session.commit()
    return _public(session, request)


def ship_day(approved: datetime) -> date:
    """The central store's day to ship: the same working day before noon, else the next."""
    local = approved.astimezone(HOTLINE_ZONE)
    day = local.date()
    if is_working_day(day) and local.time() < SAME_DAY_BEFORE:
        return day
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def ship(session: Session, *, request_id: int, actor: Actor, clock: Clock) -> PartRequestPublic:
    """The central store sends an approved request: its stock moves to the station's parts
    store, all lines or none, and each line is on loan from then on."""
    if actor.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise PermissionDenied("the central store ships", details={"role": actor.role})
    request = _locked(session, request_id)
    if request.status is not PartRequestStatus.APPROVED:
        raise InvalidPartRequest(
            f"parts request {request_id} is {request.status.value}: only approved requests ship",
            details={"status": request.status},
        )
    central = store_of(session, kind=WarehouseKind.CENTRAL)
    target = store_of(session, kind=WarehouseKind.STATION, station_id=request.station_id)
    now = clock()
    # All lines or none: a savepoint, so a short central store leaves no line shipped
    # whoever holds the session.
    with session.begin_nested():
        _ship_lines(session, request, central.id or 0, target.id or 0, actor, now)
    request.status = PartRequestStatus.SHIPPED
    request.shipped_by, request.shipped_at = actor.name, now
    session.add(request)
    session.commit()
    return _public(session, request)


def _ship_lines(
    session: Session, request: PartRequest, central: int, target: int, actor: Actor, now: datetime
) -> None:
    for line in _lines(session, request.id or 0):
        book(
            session,
            Move(
                line.part_id,
                line.quantity,
                central,
                target,
                MovementReason.SHIPMENT,
                order_id=request.order_id,
                note=f"parts request {request.id}",
            ),
            actor=actor,
            at=now,
        )
        session.add(
            BorrowedPart(
                request_line_id=line.id or 0,
                station_id=request.station_id,
                part_id=line.part_id,
                quantity=line.quantity,
                shipped_at=now,
            )
        )


def give_back(
    session: Session, *, borrowed_id: int, data: ReturnIn, actor: Actor, clock: Clock
) -> ReturnPublic:
    """Units of a loan come back to the central store: unused ones from the station's
    store; faulty ones, out of a customer's machine, into the central damaged store, each
    with the voucher of its repair. A late return is recorded as late."""
    borrowed = session.exec(
        select(BorrowedPart).where(BorrowedPart.id == borrowed_id).with_for_update()
    ).first()
    if borrowed is None or not _may_return(actor, borrowed):
        raise BorrowedPartNotFound(
            f"no borrowed parts {borrowed_id}", details={"borrowed_id": borrowed_id}
        )
    if data.quantity > outstanding(borrowed):
        raise InvalidPartRequest(
            f"{outstanding(borrowed)} of these parts are out, {data.quantity} returned",
            details={"outstanding": outstanding(borrowed)},
        )
    calendar = calendar_for(session, borrowed.station_id)
    now = clock()
    if data.condition is ReturnCondition.FAULTY:
        due_on = _faulty_due(session, borrowed, data)
        move = Move(
            borrowed.part_id,
            data.quantity,
            None,
            _central_damaged(session).id,
            MovementReason.RETURN,
            order_id=data.voucher_order_id,
            note=f"faulty, borrowed {borrowed_id}",
        )
    else:
        due_on = calendar.add_working_days(
            calendar.local_day(borrowed.shipped_at), UNUSED_RETURN_DAYS
        )
        move = Move(
            borrowed.part_id,
            data.quantity,
            store_of(session, kind=WarehouseKind.STATION, station_id=borrowed.station_id).id,
            store_of(session, kind=WarehouseKind.CENTRAL).id,
            MovementReason.RETURN,
            note=f"unused, borrowed {borrowed_id}",
        )
    book(session, move, actor=actor, at=now)
    if data.condition is ReturnCondition.FAULTY:
        borrowed.returned_faulty += data.quantity
    else:
        borrowed.returned_unused += data.quantity
    row = PartReturn(
        borrowed_id=borrowed_id,
        quantity=data.quantity,
        condition=data.condition,
        voucher_order_id=data.voucher_order_id,
        due_on=due_on,
        late=calendar.local_day(now) > due_on,
        returned_by=actor.name,
        returned_at=now,
    )
    session.add(borrowed)
    session.add(row)
    session.commit()
    return ReturnPublic.model_validate(row)


def _faulty_due(session: Session, borrowed: BorrowedPart, data: ReturnIn) -> date:
    if data.voucher_order_id is None:
        raise InvalidPartRequest(
            "a faulty part comes back with the voucher of its repair",
            details={"field": "voucher_order_id"},
        )
    used = session.exec(
        select(MaterialLine.id).where(
            MaterialLine.order_id == data.voucher_order_id,
            MaterialLine.part_id == borrowed.part_id,
            col(MaterialLine.removed_at).is_(None),
        )
    ).first()
    done = completed_at(session, data.voucher_order_id)
    if used is None or done is None:
        raise InvalidPartRequest(
            "the voucher must be a completed repair that used this part",
            details={"voucher_order_id": data.voucher_order_id, "part_id": borrowed.part_id},
        )
    calendar = calendar_for(session, borrowed.station_id)
    return calendar.add_working_days(calendar.local_day(done), FAULTY_RETURN_DAYS)


def _central_damaged(session: Session) -> Warehouse:
    return store_of(session, kind=WarehouseKind.DAMAGED, station_id=None)


def outstanding(borrowed: BorrowedPart) -> int:
    return (
        borrowed.quantity
        - borrowed.returned_faulty
        - borrowed.returned_unused
        - borrowed.billed_quantity
    )


def bill_overdue(session: Session, *, now: datetime) -> int:
    """Bills to their station the units out past 20 working days; idempotent (a billed
    unit is no longer out). Returns how many units it billed."""
    billed = 0
    rows = session.exec(
        select(BorrowedPart, Part)
        .join(Part, col(Part.id) == col(BorrowedPart.part_id))
        .where(
            col(BorrowedPart.quantity)
            > col(BorrowedPart.returned_faulty)
            + col(BorrowedPart.returned_unused)
            + col(BorrowedPart.billed_quantity)
        )
        .with_for_update(of=BorrowedPart)
    ).all()
    calendars = _Calendars(session)
    for borrowed, part in rows:
        calendar = calendars.of(borrowed.station_id)
        if calendar.local_day(now) < calendar.add_working_days(
            calendar.local_day(borrowed.shipped_at), BILL_AFTER_DAYS
        ):
            continue
        units = outstanding(borrowed)
        borrowed.billed_quantity += units
        borrowed.billed_fen += units * part.station_price_fen
        borrowed.billed_at = now
        session.add(borrowed)
        billed += units
    session.commit()
    return billed


def due_returns(
    session: Session, *, viewer: Actor, clock: Clock, station_id: int | None = None
) -> list[DueReturn]:
    """Loans with units out or billed, oldest first, counted in the station's working days."""
    query = (
        select(BorrowedPart, Part)
        .join(Part, col(Part.id) == col(BorrowedPart.part_id))
        .where(
            col(BorrowedPart.quantity)
            > col(BorrowedPart.returned_faulty) + col(BorrowedPart.returned_unused)
        )
        .order_by(col(BorrowedPart.shipped_at), col(BorrowedPart.id))
    )
    if viewer.role in (Role.STATION, Role.ENGINEER):
        station_id = viewer.station_id
    if station_id is not None:
        query = query.where(BorrowedPart.station_id == station_id)
    now = clock()
    found = []
    calendars = _Calendars(session)
    for borrowed, part in session.exec(query).all():
        calendar = calendars.of(borrowed.station_id)
        shipped = calendar.local_day(borrowed.shipped_at)
        unused_due = calendar.add_working_days(shipped, UNUSED_RETURN_DAYS)
        today = calendar.local_day(now)
        left = outstanding(borrowed)
        state = "billed" if not left else "overdue" if today > unused_due else "ok"
        found.append(
            DueReturn(
                borrowed_id=borrowed.id or 0,
                station_id=borrowed.station_id,
                part_id=part.id or 0,
                part_code=part.code,
                shipped_at=borrowed.shipped_at,
                outstanding=left,
                working_days_out=calendar.working_days_between(shipped, today),
                unused_due_on=unused_due,
                bill_on=calendar.add_working_days(shipped, BILL_AFTER_DAYS),
                billed_quantity=borrowed.billed_quantity,
                billed_fen=borrowed.billed_fen,
                state=state,
            )
        )
    return found


def list_requests(
    session: Session, *, viewer: Actor, status: PartRequestStatus | None = None
) -> list[PartRequestPublic]:
    query = select(PartRequest).order_by(col(PartRequest.id).desc()).limit(200)
    if viewer.role in (Role.STATION, Role.ENGINEER):
        query = query.where(PartRequest.station_id == viewer.station_id)
    if status is not None:
        query = query.where(PartRequest.status == status)
    return [_public(session, r) for r in session.exec(query).all()]


class _Calendars:
    """Each station's calendar read once per pass over many loans."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[int, BusinessCalendar] = {}

    def of(self, station_id: int) -> BusinessCalendar:
        if station_id not in self.known:
            self.known[station_id] = calendar_for(self.session, station_id)
        return self.known[station_id]


def _may_return(actor: Actor, borrowed: BorrowedPart) -> bool:
    if actor.role in (Role.ADMIN, Role.SUPERVISOR):
        return True
    return actor.role is Role.STATION and actor.station_id == borrowed.station_id


def _locked(session: Session, request_id: int) -> PartRequest:
    request = session.exec(
        select(PartRequest).where(PartRequest.id == request_id).with_for_update()
    ).first()
    if request is None:
        raise PartRequestNotFound(
            f"parts request {request_id} does not exist", details={"request_id": request_id}
        )
    return request


def _lines(session: Session, request_id: int) -> list[PartRequestLine]:
    return list(
        session.exec(
            select(PartRequestLine)
            .where(PartRequestLine.request_id == request_id)
            .order_by(col(PartRequestLine.id))
        ).all()
    )


def _public(session: Session, request: PartRequest) -> PartRequestPublic:
    lines = session.exec(
        select(PartRequestLine, Part.code)
        .join(Part, col(Part.id) == col(PartRequestLine.part_id))
        .where(PartRequestLine.request_id == request.id)
        .order_by(col(PartRequestLine.id))
    ).all()
    return PartRequestPublic(
        id=request.id or 0,
        station_id=request.station_id,
        order_id=request.order_id,
        status=request.status,
        note=request.note,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        hotline_approved_by=request.hotline_approved_by,
        manager_approved_by=request.manager_approved_by,
        ship_on=request.ship_on,
        shipped_at=request.shipped_at,
        rejected_by=request.rejected_by,
        reject_reason=request.reject_reason,
        lines=[
            PartRequestLinePublic(part_id=line.part_id, part_code=code, quantity=line.quantity)
            for line, code in lines
        ],
    )


def billed_by_station(session: Session, *, start: datetime, end: datetime) -> dict[int, int]:
    """Station → fen billed in [start, end) for parts kept past 20 working days."""
    rows = session.exec(
        select(BorrowedPart.station_id, func.sum(BorrowedPart.billed_fen))
        .where(col(BorrowedPart.billed_at) >= start, col(BorrowedPart.billed_at) < end)
        .group_by(col(BorrowedPart.station_id))
    ).all()
    return {station: int(total or 0) for station, total in rows}


def overdue_by_station(session: Session, *, at: datetime) -> dict[int, int]:
    """Station → borrowed lines with unused units out past their 10 working days at ``at``."""
    found: dict[int, int] = {}
    for line in due_returns(session, viewer=SYSTEM, clock=lambda: at):
        if line.state == "overdue":
            found[line.station_id] = found.get(line.station_id, 0) + 1
    return found
