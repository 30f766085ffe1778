"""Completion slips (完工单) and their audit (审核单).

The station files the slip once the order is completed: the work done, labour and travel
charged, the customer's confirmation (a signature, or the code they were given) and their
score of the engineer; received_at is when it reached the office. The auditor approves
it, with a quality score, the rewards and penalties that apply and the late deductions
(期限扣款) of the order's late milestones; approval computes the engineer's commission.
Or the auditor sends it back, and the station files it again."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from billing.enums import ChargedTo, Confirmation, SlipStatus
from billing.exceptions import InvalidFeeSchedule, InvalidSlip, SlipNotFound
from billing.models import CompletionSlip, ConfirmationCode, SlipAdjustment
from billing.schemas import AdjustmentPublic, AuditIn, CodePublic, SlipIn, SlipPublic
from billing.services.quotes import approved_quote, needs_quote
from billing.services.rates import commission_of, late_deductions, reward_items
from core.errors import PermissionDenied
from core.types import Clock
from orders import (
    Actor,
    Appliance,
    Customer,
    Engineer,
    MilestoneState,
    Role,
    WorkOrder,
    completed_at,
    engineer_of,
    order_milestones,
    visible_order,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
AUDITORS = (Role.ADMIN, Role.SUPERVISOR)


def issue_code(session: Session, *, order_id: int, actor: Actor, clock: Clock) -> CodePublic:
    """A six-digit code for the customer to confirm the completed work with; a new one
    replaces the last."""
    visible_order(session, order_id, actor)
    row = session.exec(
        select(ConfirmationCode).where(ConfirmationCode.order_id == order_id)
    ).first()
    row = row or ConfirmationCode(order_id=order_id, code="")
    row.code, row.issued_at = f"{secrets.randbelow(10**6):06d}", clock()
    session.add(row)
    session.commit()
    return CodePublic(order_id=order_id, code=row.code, issued_at=row.issued_at)


def file_slip(
    session: Session, *, order_id: int, data: SlipIn, actor: Actor, clock: Clock
) -> SlipPublic:
    order = visible_order(session, order_id, actor)
    done = completed_at(session, order_id)
    if done is None:
        raise InvalidSlip(
            f"order {order.number} is not completed: the slip is filed after the work",
            details={"status": order.status},
        )
    slip = session.exec(
        select(CompletionSlip).where(CompletionSlip.order_id == order_id).with_for_update()
    ).first()
    if slip is not None and slip.status is not SlipStatus.RETURNED:
        raise InvalidSlip(
            f"order {order.number} has its slip ({slip.status.value});"
            " only a slip sent back is filed again",
            details={"status": slip.status},
        )
    _check_confirmation(session, order_id, data)
    quote = approved_quote(session, order_id)
    charged = needs_quote(order) or quote is not None
    slip = slip or CompletionSlip(
        order_id=order_id,
        service_kind=data.service_kind,
        work_done="",
        labour_fen=0,
        travel_fen=0,
        confirmation=data.confirmation,
        engineer_score=0,
        completed_at=done,
        received_at=done,
        filed_by="",
    )
    slip.station_id, slip.engineer_id = order.station_id, order.engineer_id
    slip.service_kind, slip.outsourced, slip.work_done = (
        data.service_kind,
        data.outsourced,
        data.work_done,
    )
    slip.labour_fen = quote.labour_fen if charged and quote else 0
    slip.travel_fen = quote.travel_fen if charged and quote else 0
    slip.confirmation, slip.signature_png = data.confirmation, data.signature_png
    slip.engineer_score, slip.completed_at, slip.received_at = data.engineer_score, done, clock()
    slip.filed_by, slip.status, slip.audit_note = actor.name, SlipStatus.SUBMITTED, slip.audit_note
    session.add(slip)
    session.commit()
    return slip_public(session, slip)


def _check_confirmation(session: Session, order_id: int, data: SlipIn) -> None:
    if data.confirmation is Confirmation.SIGNATURE:
        try:
            image = base64.b64decode(data.signature_png, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidSlip(
                "the signature is not base64", details={"field": "signature_png"}
            ) from exc
        if not image.startswith(PNG_MAGIC):
            raise InvalidSlip(
                "the signature is not a PNG image", details={"field": "signature_png"}
            )
        return
    issued = session.exec(
        select(ConfirmationCode.code).where(ConfirmationCode.order_id == order_id)
    ).first()
    if issued is None or not secrets.compare_digest(issued, data.code):
        raise InvalidSlip(
            "the confirmation code is not the one the customer was given", details={"field": "code"}
        )


def _category(session: Session, slip: CompletionSlip) -> str | None:
    order = session.get(WorkOrder, slip.order_id)
    appliance = session.get(Appliance, order.appliance_id) if order and order.appliance_id else None
    return appliance.category.value if appliance else None


def audit(
    session: Session, *, slip_id: int, data: AuditIn, actor: Actor, clock: Clock
) -> SlipPublic:
    if actor.role not in AUDITORS:
        raise PermissionDenied(
            "completion slips are audited by supervisors", details={"role": actor.role}
        )
    slip = session.exec(
        select(CompletionSlip).where(CompletionSlip.id == slip_id).with_for_update()
    ).first()
    if slip is None:
        raise SlipNotFound(
            f"completion slip {slip_id} does not exist", details={"slip_id": slip_id}
        )
    if slip.status is not SlipStatus.SUBMITTED:
        raise InvalidSlip(
            f"slip {slip_id} is {slip.status.value}, not waiting for audit",
            details={"status": slip.status},
        )
    now = clock()
    if not data.approve:
        if not data.note:
            raise InvalidSlip("a slip sent back says what to correct", details={"field": "note"})
        slip.auditor, slip.audited_at, slip.audit_note = actor.name, now, data.note
        slip.status = SlipStatus.RETURNED
        session.add(slip)
        session.commit()
        return slip_public(session, slip)
    if data.quality_score is None:
        raise InvalidSlip(
            "an approved slip carries its quality score", details={"field": "quality_score"}
        )
    # Everything that can refuse comes before the slip changes.
    adjustments = _rewards(session, slip, data) + _late(session, slip, now)
    base = commission_of(session, slip.service_kind, slip.outsourced, _category(session, slip))
    slip.auditor, slip.audited_at, slip.audit_note = actor.name, now, data.note
    engineer = [a for a in adjustments if a.charged_to is ChargedTo.ENGINEER]
    slip.base_commission_fen = base
    slip.rewards_fen = sum(a.amount_fen for a in engineer if not a.code.startswith("late:"))
    slip.engineer_deductions_fen = -sum(
        a.amount_fen for a in engineer if a.code.startswith("late:")
    )
    slip.station_deductions_fen = -sum(
        a.amount_fen for a in adjustments if a.charged_to is ChargedTo.STATION
    )
    slip.commission_fen = base + slip.rewards_fen - slip.engineer_deductions_fen
    slip.quality_score, slip.status = data.quality_score, SlipStatus.APPROVED
    session.add(slip)
    session.add_all(adjustments)
    session.commit()
    return slip_public(session, slip)


def _rewards(session: Session, slip: CompletionSlip, data: AuditIn) -> list[SlipAdjustment]:
    items = reward_items(session, {item.code for item in data.items})
    unknown = sorted({item.code for item in data.items} - set(items))
    if unknown:
        raise InvalidFeeSchedule(
            f"no reward or penalty item {', '.join(unknown)}", details={"codes": unknown}
        )
    return [
        SlipAdjustment(
            slip_id=slip.id or 0,
            code=item.code,
            name=items[item.code].name,
            count=item.count,
            amount_fen=items[item.code].amount_fen * item.count,
            charged_to=ChargedTo.ENGINEER,
        )
        for item in data.items
    ]


def _late(session: Session, slip: CompletionSlip, now: datetime) -> list[SlipAdjustment]:
    """A deduction for each milestone met after its due time, or never met."""
    rates = late_deductions(session)
    found = []
    for milestone in order_milestones(session, order_id=slip.order_id, now=now):
        late = milestone.state is MilestoneState.BREACHED or (
            milestone.met_at is not None and milestone.met_at > milestone.due_at
        )
        rate = rates.get(milestone.milestone.value)
        if late and rate is not None and rate.amount_fen:
            found.append(
                SlipAdjustment(
                    slip_id=slip.id or 0,
                    code=f"late:{milestone.milestone.value}",
                    name=f"{milestone.milestone.value} late",
                    amount_fen=-rate.amount_fen,
                    charged_to=rate.charged_to,
                )
            )
    return found


def slips(
    session: Session,
    *,
    viewer: Actor,
    status: SlipStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[SlipPublic]:
    query = select(CompletionSlip).order_by(col(CompletionSlip.received_at), col(CompletionSlip.id))
    if status is not None:
        query = query.where(CompletionSlip.status == status)
    if viewer.role is Role.STATION:
        query = query.where(CompletionSlip.station_id == viewer.station_id)
    elif viewer.role is Role.ENGINEER:
        # Their own jobs, as the commission report shows them: not colleagues' customers
        # and pay.
        query = query.where(CompletionSlip.engineer_id == (engineer_of(session, viewer) or -1))
    elif viewer.role is Role.AGENT:
        raise PermissionDenied("completion slips are for stations and auditors")
    return [slip_public(session, s) for s in session.exec(query.offset(offset).limit(limit)).all()]


def slip_of(session: Session, *, order_id: int, viewer: Actor) -> SlipPublic:
    visible_order(session, order_id, viewer)
    slip = session.exec(select(CompletionSlip).where(CompletionSlip.order_id == order_id)).first()
    if slip is None:
        raise SlipNotFound(
            f"order {order_id} has no completion slip", details={"order_id": order_id}
        )
    return slip_public(session, slip)


def slip_public(session: Session, slip: CompletionSlip) -> SlipPublic:
    order = session.get(WorkOrder, slip.order_id)
    engineer = session.get(Engineer, slip.engineer_id) if slip.engineer_id else None
    customer = session.get(Customer, order.customer_id) if order else None
    adjustments = session.exec(
        select(SlipAdjustment)
        .where(SlipAdjustment.slip_id == slip.id)
        .order_by(col(SlipAdjustment.id))
    ).all()
    return SlipPublic(
        id=slip.id or 0,
        order_id=slip.order_id,
        order_number=(order.number if order else "") or "",
        customer_name=customer.name if customer else "",
        station_id=slip.station_id,
        engineer_id=slip.engineer_id,
        engineer_name=engineer.name if engineer else "",
        service_kind=slip.service_kind,
        outsourced=slip.outsourced,
        work_done=slip.work_done,
        labour_fen=slip.labour_fen,
        travel_fen=slip.travel_fen,
        confirmation=slip.confirmation,
        engineer_score=slip.engineer_score,
        completed_at=slip.completed_at,
        received_at=slip.received_at,
        filed_by=slip.filed_by,
        status=slip.status,
        auditor=slip.auditor,
        audited_at=slip.audited_at,
        quality_score=slip.quality_score,
        audit_note=slip.audit_note,
        base_commission_fen=slip.base_commission_fen,
        rewards_fen=slip.rewards_fen,
        engineer_deductions_fen=slip.engineer_deductions_fen,
        station_deductions_fen=slip.station_deductions_fen,
        commission_fen=slip.commission_fen,
        adjustments=[AdjustmentPublic.model_validate(a) for a in adjustments],
    )
