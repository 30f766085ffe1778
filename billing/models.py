"""Tables of the money domain: the fee schedule and the rates, quotes, completion slips
and their audit, with the adjustments that make up an engineer's commission."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from billing.enums import (
    ApprovalMethod,
    ChargedTo,
    Confirmation,
    FeeKind,
    QuoteStatus,
    ServiceKind,
    SlipStatus,
)
from core.types import UTCDateTime, enum_type


def _stamp(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class FeeRate(SQLModel, table=True):
    """A line of the fee schedule (有偿服务收费标准): labour by service kind (for one
    appliance category, or any), travel by urban or not. Fen (分)."""

    __tablename__ = "fee_rate"
    __table_args__ = (UniqueConstraint("kind", "service_kind", "category", "urban"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: FeeKind = Field(sa_type=enum_type(FeeKind))
    service_kind: ServiceKind | None = Field(default=None, sa_type=enum_type(ServiceKind))
    category: str | None = Field(default=None, max_length=32)
    urban: bool | None = None
    amount_fen: int


class CommissionRate(SQLModel, table=True):
    """What an engineer earns for a job of a service kind (提成), done by the station's
    own engineer or outsourced (外协): a fixed amount per job (计件), a share of the job's
    scheduled labour fee (提成比例), or both."""

    __tablename__ = "commission_rate"
    __table_args__ = (
        UniqueConstraint("service_kind", "outsourced"),
        CheckConstraint("share_bp BETWEEN 0 AND 10000", name="commission_share_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    service_kind: ServiceKind = Field(sa_type=enum_type(ServiceKind))
    outsourced: bool = False
    amount_fen: int
    share_bp: int = 0
    """Share of the labour fee in basis points (2500 = 25 %)."""


class RewardItem(SQLModel, table=True):
    """A reward (positive) or penalty (negative) the auditor may apply (维修奖惩): attitude,
    timeliness, satisfaction, skill, complaints."""

    __tablename__ = "reward_item"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    amount_fen: int


class LateDeduction(SQLModel, table=True):
    """期限扣款: what a milestone met late (or never) costs, and whom."""

    __tablename__ = "late_deduction"

    id: int | None = Field(default=None, primary_key=True)
    milestone: str = Field(max_length=32, unique=True)
    amount_fen: int
    charged_to: ChargedTo = Field(sa_type=enum_type(ChargedTo))


class Quote(SQLModel, table=True):
    """A quote for paid work: labour from the fee schedule, parts at most at their public
    price, travel; the customer approves (or declines) it before the work starts."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    service_kind: ServiceKind = Field(sa_type=enum_type(ServiceKind))
    parts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """[{part_id, code, name, quantity, unit_price_fen}]"""
    labour_fen: int
    parts_fen: int
    travel_fen: int
    total_fen: int
    status: QuoteStatus = Field(default=QuoteStatus.PENDING, sa_type=enum_type(QuoteStatus))
    created_by: str = Field(max_length=200)
    created_at: datetime = _stamp()
    decided_at: datetime | None = _stamp(nullable=True)
    method: ApprovalMethod | None = Field(default=None, sa_type=enum_type(ApprovalMethod))
    customer_name: str = Field(default="", max_length=200)
    """Who gave the answer on the customer's side."""
    recorded_by: str = Field(default="", max_length=200)


class CompletionSlip(SQLModel, table=True):
    """完工单, and its audit (审核单) once audited."""

    __tablename__ = "completion_slip"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", unique=True)
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    engineer_id: int | None = Field(default=None, foreign_key="engineer.id", index=True)
    service_kind: ServiceKind = Field(sa_type=enum_type(ServiceKind))
    outsourced: bool = False
    work_done: str = Field(sa_type=Text)
    labour_fen: int
    """Labour charged to the customer (0 under warranty)."""
    travel_fen: int
    confirmation: Confirmation = Field(sa_type=enum_type(Confirmation))
    signature_png: str = Field(default="", sa_type=Text)
    """The signature as base64 PNG, when the customer signed."""
    engineer_score: int
    """The customer's score of the engineer, 1 to 5."""
    completed_at: datetime = _stamp()
    received_at: datetime = _stamp()
    """When the slip reached the office (收单时间)."""
    filed_by: str = Field(max_length=200)
    status: SlipStatus = Field(default=SlipStatus.SUBMITTED, sa_type=enum_type(SlipStatus))
    auditor: str = Field(default="", max_length=200)
    audited_at: datetime | None = _stamp(nullable=True)
    quality_score: int | None = None
    audit_note: str = Field(default="", sa_type=Text)
    base_commission_fen: int = 0
    rewards_fen: int = 0
    engineer_deductions_fen: int = 0
    station_deductions_fen: int = 0
    commission_fen: int = 0
    """base + rewards (penalties negative) − the engineer's late deductions."""


class SlipAdjustment(SQLModel, table=True):
    """One reason the commission or the station's pay moved: a reward or penalty item, a
    late milestone."""

    __tablename__ = "slip_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    slip_id: int = Field(foreign_key="completion_slip.id", index=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    count: int = 1
    amount_fen: int
    """Signed: what it adds to (or takes from) its party's pay."""
    charged_to: ChargedTo = Field(sa_type=enum_type(ChargedTo))


class ConfirmationCode(SQLModel, table=True):
    """A code given to the customer to confirm the completed work with (the notice that
    carries it to them is the outbound engine's)."""

    __tablename__ = "confirmation_code"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", unique=True)
    code: str = Field(max_length=16)
    issued_at: datetime = _stamp()
