"""The billing routes, mounted under /api: the fee schedule and rates, quotes, completion
slips and their audit, fee statements, and the commission and settlement reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from billing.enums import SlipStatus
from billing.schemas import (
    AuditIn,
    CodePublic,
    CommissionRateIn,
    FeeRateIn,
    FeeRatePublic,
    FeeStatement,
    LateDeductionIn,
    QuoteDecision,
    QuoteIn,
    QuotePublic,
    RatesPublic,
    RewardItemIn,
    SlipIn,
    SlipPublic,
)
from billing.services import quotes, rates, slips, statements
from core import xlsx
from core.deps import ClockDep, SessionDep
from core.errors import PermissionDenied
from core.xlsx import ExportFormat, Sheet
from orders import Report, Role, engineer_of
from orders.http import AnyUser, Limit, Offset, PathId, Supervisor, report_answer

router = APIRouter(tags=["billing"], responses=xlsx.RESPONSES)
Format = Annotated[ExportFormat, Query()]
MonthQuery = Annotated[
    str, Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$", description="YYYY-MM, 2000 to 2099")
]


@router.get("/rates")
def get_rates(session: SessionDep, _actor: AnyUser) -> RatesPublic:
    """The fee schedule (有偿服务收费标准), commission rates, reward and penalty items and
    late deductions."""
    return rates.rates(session)


@router.put("/rates/fees")
def set_fee(session: SessionDep, _actor: Supervisor, data: FeeRateIn) -> FeeRatePublic:
    return rates.set_fee(session, data)


@router.put("/rates/commission")
def set_commission(
    session: SessionDep, _actor: Supervisor, data: CommissionRateIn
) -> CommissionRateIn:
    return rates.set_commission(session, data)


@router.put("/rates/rewards")
def set_reward(session: SessionDep, _actor: Supervisor, data: RewardItemIn) -> RewardItemIn:
    return rates.set_reward_item(session, data)


@router.put("/rates/late-deductions")
def set_late_deduction(
    session: SessionDep, _actor: Supervisor, data: LateDeductionIn
) -> LateDeductionIn:
    return rates.set_late_deduction(session, data)


@router.get("/orders/{order_id}/quotes")
def order_quotes(order_id: PathId, session: SessionDep, actor: AnyUser) -> list[QuotePublic]:
    return quotes.quotes_of(session, order_id=order_id, viewer=actor)


@router.post("/orders/{order_id}/quotes", status_code=201)
def quote(
    order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: QuoteIn
) -> QuotePublic:
    """A quote for paid work from the fee schedule: labour, parts, travel."""
    return quotes.create_quote(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.post("/quotes/{quote_id}/decision")
def decide_quote(
    quote_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: QuoteDecision
) -> QuotePublic:
    """The customer's answer, and how it was given."""
    return quotes.decide_quote(session, quote_id=quote_id, data=data, actor=actor, clock=clock)


@router.post("/orders/{order_id}/confirmation-code", status_code=201)
def confirmation_code(
    order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> CodePublic:
    return slips.issue_code(session, order_id=order_id, actor=actor, clock=clock)


@router.get("/orders/{order_id}/completion-slip")
def completion_slip(order_id: PathId, session: SessionDep, actor: AnyUser) -> SlipPublic:
    return slips.slip_of(session, order_id=order_id, viewer=actor)


@router.post("/orders/{order_id}/completion-slip", status_code=201)
def file_slip(
    order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: SlipIn
) -> SlipPublic:
    """完工单, filed after the work is completed (again, once an auditor sent it back)."""
    return slips.file_slip(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.get("/completion-slips", response_model=list[SlipPublic])
def completion_slips(
    session: SessionDep,
    actor: AnyUser,
    status: SlipStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    format: Format = ExportFormat.JSON,
) -> list[SlipPublic] | Response:
    """Slips in the order they reached the office; ``status=submitted``: the audit queue."""
    rows = slips.slips(session, viewer=actor, status=status, limit=limit, offset=offset)
    if format is ExportFormat.JSON:
        return rows
    columns = [
        "slip",
        "order",
        "customer",
        "engineer",
        "service kind",
        "status",
        "received at",
        "commission (fen)",
    ]
    sheet = Sheet(
        "completion slips",
        columns,
        [
            [
                s.id,
                s.order_number,
                s.customer_name,
                s.engineer_name,
                s.service_kind.value,
                s.status.value,
                s.received_at.isoformat(),
                s.commission_fen,
            ]
            for s in rows
        ],
    )
    return xlsx.attachment(xlsx.workbook([sheet]), "completion-slips.xlsx")


@router.post("/completion-slips/{slip_id}/audit")
def audit(
    slip_id: PathId, session: SessionDep, actor: Supervisor, clock: ClockDep, data: AuditIn
) -> SlipPublic:
    """审核单: approve (the commission is computed) or send back with what to correct."""
    return slips.audit(session, slip_id=slip_id, data=data, actor=actor, clock=clock)


@router.get("/orders/{order_id}/fee-statement")
def fee_statement(order_id: PathId, session: SessionDep, actor: AnyUser) -> FeeStatement:
    return statements.fee_statement(session, order_id=order_id, viewer=actor)


@router.get("/reports/commission", response_model=Report)
def commission(
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
    month: MonthQuery,
    format: Format = ExportFormat.JSON,
) -> Report | Response:
    """Engineers' commission for the slips audited in the month; an engineer sees their own."""
    engineer_id = None
    if actor.role is Role.ENGINEER:
        engineer_id = engineer_of(session, actor) or -1
    elif actor.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise PermissionDenied("commission statements are for supervisors and the engineer")
    report = statements.commission_report(
        session, month=month, now=clock(), engineer_id=engineer_id
    )
    return report_answer(report, format)


@router.get("/reports/settlement", response_model=Report)
def settlement(
    session: SessionDep,
    _actor: Supervisor,
    clock: ClockDep,
    month: MonthQuery,
    format: Format = ExportFormat.JSON,
) -> Report | Response:
    """Stations' monthly settlement."""
    return report_answer(statements.settlement_report(session, month=month, now=clock()), format)
