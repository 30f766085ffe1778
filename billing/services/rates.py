"""The fee schedule (有偿服务收费标准) and the rates of commission, rewards and penalties
(维修奖惩) and late deductions (期限扣款): set by supervisors, read by every rule here."""

from __future__ import annotations

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from billing.enums import FeeKind, ServiceKind
from billing.exceptions import InvalidFeeSchedule
from billing.models import CommissionRate, FeeRate, LateDeduction, RewardItem
from billing.schemas import (
    BasicFee,
    CommissionRateIn,
    FeeRateIn,
    FeeRatePublic,
    LateDeductionIn,
    RatesPublic,
    RewardItemIn,
)
from core.db import core_connection, table_of
from orders import Milestone


def set_fee(session: Session, data: FeeRateIn) -> FeeRatePublic:
    if data.kind is FeeKind.LABOUR and (data.service_kind is None or data.urban is not None):
        raise InvalidFeeSchedule("a labour fee names its service kind (and no urban flag)")
    if data.kind is FeeKind.TRAVEL and (data.urban is None or data.service_kind or data.category):
        raise InvalidFeeSchedule("a travel fee says urban true or false, nothing else")
    category = data.category.value if data.category else None
    row = session.exec(
        select(FeeRate).where(
            FeeRate.kind == data.kind,
            FeeRate.service_kind == data.service_kind,
            FeeRate.category == category,
            FeeRate.urban == data.urban,
        )
    ).first() or FeeRate(
        kind=data.kind,
        service_kind=data.service_kind,
        category=category,
        urban=data.urban,
        amount_fen=0,
    )
    row.amount_fen = data.amount_fen
    session.add(row)
    session.commit()
    return FeeRatePublic.model_validate(row)


def set_commission(session: Session, data: CommissionRateIn) -> CommissionRateIn:
    row = session.exec(
        select(CommissionRate).where(
            CommissionRate.service_kind == data.service_kind,
            CommissionRate.outsourced == data.outsourced,
        )
    ).first() or CommissionRate(
        service_kind=data.service_kind, outsourced=data.outsourced, amount_fen=0
    )
    row.amount_fen, row.share_bp = data.amount_fen, data.share_bp
    session.add(row)
    session.commit()
    return data


def set_reward_item(session: Session, data: RewardItemIn) -> RewardItemIn:
    row = session.exec(
        select(RewardItem).where(RewardItem.code == data.code)
    ).first() or RewardItem(code=data.code, name=data.name, amount_fen=0)
    row.name, row.amount_fen = data.name, data.amount_fen
    session.add(row)
    session.commit()
    return data


def set_late_deduction(session: Session, data: LateDeductionIn) -> LateDeductionIn:
    row = session.exec(
        select(LateDeduction).where(LateDeduction.milestone == data.milestone.value)
    ).first() or LateDeduction(
        milestone=data.milestone.value, amount_fen=0, charged_to=data.charged_to
    )
    row.amount_fen, row.charged_to = data.amount_fen, data.charged_to
    session.add(row)
    session.commit()
    return data


def rates(session: Session) -> RatesPublic:
    return RatesPublic(
        fees=[
            FeeRatePublic.model_validate(r)
            for r in session.exec(
                select(FeeRate).order_by(col(FeeRate.kind), col(FeeRate.id))
            ).all()
        ],
        commission=[
            CommissionRateIn(
                service_kind=r.service_kind,
                outsourced=r.outsourced,
                amount_fen=r.amount_fen,
                share_bp=r.share_bp,
            )
            for r in session.exec(select(CommissionRate).order_by(col(CommissionRate.id))).all()
        ],
        rewards=[
            RewardItemIn(code=r.code, name=r.name, amount_fen=r.amount_fen)
            for r in session.exec(select(RewardItem).order_by(col(RewardItem.code))).all()
        ],
        late_deductions=[
            LateDeductionIn(
                milestone=Milestone(r.milestone), amount_fen=r.amount_fen, charged_to=r.charged_to
            )
            for r in session.exec(select(LateDeduction).order_by(col(LateDeduction.id))).all()
        ],
    )


def labour_fee(session: Session, kind: ServiceKind, category: str | None) -> int:
    """The labour fee of a service kind for the appliance's category, else for any."""
    rows = session.exec(
        select(FeeRate).where(FeeRate.kind == FeeKind.LABOUR, FeeRate.service_kind == kind)
    ).all()
    exact = [r for r in rows if r.category == category] or [r for r in rows if r.category is None]
    if not exact:
        raise InvalidFeeSchedule(
            f"the fee schedule has no labour fee for {kind.value}",
            details={"service_kind": kind, "category": category},
        )
    return exact[0].amount_fen


def travel_fee(session: Session, urban: bool) -> int:
    row = session.exec(
        select(FeeRate).where(FeeRate.kind == FeeKind.TRAVEL, FeeRate.urban == urban)
    ).first()
    return row.amount_fen if row else 0


def commission_of(
    session: Session, kind: ServiceKind, outsourced: bool, category: str | None
) -> int:
    """The base commission of a job: the rate's fixed amount plus its share of the labour
    fee the schedule sets for the job (whoever pays it), rounded half up to the fen."""
    row = session.exec(
        select(CommissionRate).where(
            CommissionRate.service_kind == kind, CommissionRate.outsourced == outsourced
        )
    ).first()
    if row is None:
        raise InvalidFeeSchedule(
            f"no commission rate for {kind.value}{' (outsourced)' if outsourced else ''}",
            details={"service_kind": kind, "outsourced": outsourced},
        )
    if not row.share_bp:
        return row.amount_fen
    share = labour_fee(session, kind, category) * row.share_bp
    return row.amount_fen + (share + 5_000) // 10_000


def late_deductions(session: Session) -> dict[str, LateDeduction]:
    return {row.milestone: row for row in session.exec(select(LateDeduction)).all()}


def reward_items(session: Session, codes: set[str]) -> dict[str, RewardItem]:
    return {
        r.code: r
        for r in session.exec(select(RewardItem).where(col(RewardItem.code).in_(codes))).all()
    }


_fee_rates = table_of(FeeRate).c
_SCHEDULE = core_select(
    _fee_rates.kind,
    _fee_rates.service_kind,
    _fee_rates.category,
    _fee_rates.urban,
    _fee_rates.amount_fen,
).order_by(_fee_rates.id)
"""Built once: the fee card is read as every call arrives, as rows, not entities (the
ORM's entities were half the card's CPU)."""


def fee_card(session: Session, categories: set[str]) -> dict[str, list[BasicFee]]:
    """The basic fee schedule an agent reads to a caller whose appliance is out of
    warranty: labour per service kind for each category (its own fee, else the one for
    any category), then travel in town and outside; one read of the schedule."""
    schedule = core_connection(session).execute(_SCHEDULE).all()
    travel = [
        BasicFee(item=f"travel_{'urban' if r.urban else 'non_urban'}", amount_fen=r.amount_fen)
        for r in sorted(
            (r for r in schedule if r.kind is FeeKind.TRAVEL), key=lambda r: not r.urban
        )
    ]
    card = {}
    for category in categories:
        labour: dict[ServiceKind, int] = {}
        for rate in schedule:
            if rate.kind is not FeeKind.LABOUR or rate.service_kind is None:
                continue
            if rate.category == category or (
                rate.category is None and rate.service_kind not in labour
            ):
                labour[rate.service_kind] = rate.amount_fen
        ordered = [kind for kind in ServiceKind if kind in labour]
        card[category] = [
            BasicFee(item=kind.value, amount_fen=labour[kind]) for kind in ordered
        ] + travel
    return card
