"""What the billing routes take and give. Money is in fen (分)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from billing.enums import (
    ApprovalMethod,
    ChargedTo,
    Confirmation,
    FeeKind,
    QuoteStatus,
    ServiceKind,
    SlipStatus,
)
from orders import ApplianceCategory, Milestone, Name, RowId, Strict

Fen = Annotated[int, Field(ge=0, le=100_000_000)]
SignedFen = Annotated[int, Field(ge=-100_000_000, le=100_000_000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
ItemCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$"),
]
Month = Annotated[str, StringConstraints(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$")]


class FeeRateIn(Strict):
    kind: FeeKind
    service_kind: ServiceKind | None = None
    """Labour: the service kind it prices."""
    category: ApplianceCategory | None = None
    """Labour for one appliance category; none: any category."""
    urban: bool | None = None
    """Travel: for urban addresses or not."""
    amount_fen: Fen


class FeeRatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: FeeKind
    service_kind: ServiceKind | None
    category: str | None
    urban: bool | None
    amount_fen: int


class BasicFee(BaseModel):
    item: str
    """A service kind's labour, or ``travel_urban`` / ``travel_non_urban``."""
    amount_fen: int


class CommissionRateIn(Strict):
    """A fixed amount per job (计件), a share of the job's scheduled labour fee (提成比例),
    or both added."""

    service_kind: ServiceKind
    outsourced: bool = False
    amount_fen: Fen
    share_bp: Annotated[int, Field(ge=0, le=10_000)] = 0
    """Share of the labour fee in basis points: 2500 is 25 %."""


class RewardItemIn(Strict):
    code: ItemCode
    name: Name
    amount_fen: SignedFen
    """Positive: a reward; negative: a penalty."""


class LateDeductionIn(Strict):
    milestone: Milestone
    amount_fen: Fen
    charged_to: ChargedTo


class RatesPublic(BaseModel):
    fees: list[FeeRatePublic]
    commission: list[CommissionRateIn]
    rewards: list[RewardItemIn]
    late_deductions: list[LateDeductionIn]


class QuotePartIn(Strict):
    part_id: RowId
    quantity: Annotated[int, Field(ge=1, le=1000)]
    unit_price_fen: Fen | None = None
    """Default, and ceiling: the part's public price."""


class QuoteIn(Strict):
    service_kind: ServiceKind
    parts: Annotated[list[QuotePartIn], Field(max_length=50)] = Field(default_factory=list)
    travel: bool = True
    """Whether the engineer travels to the customer (no travel fee for carry-in work)."""


class QuoteDecision(Strict):
    approve: bool
    method: ApprovalMethod
    customer_name: Name


class QuotePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    service_kind: ServiceKind
    parts: list[dict[str, object]]
    labour_fen: int
    parts_fen: int
    travel_fen: int
    total_fen: int
    status: QuoteStatus
    created_by: str
    created_at: datetime
    decided_at: datetime | None
    method: ApprovalMethod | None
    customer_name: str
    recorded_by: str


class CodePublic(BaseModel):
    order_id: int
    code: str
    issued_at: datetime


class SlipIn(Strict):
    service_kind: ServiceKind
    outsourced: bool = False
    work_done: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=5000)
    ]
    confirmation: Confirmation
    signature_png: Annotated[str, StringConstraints(max_length=400_000)] = ""
    """Base64 PNG of the customer's signature (confirmation ``signature``)."""
    code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] = ""
    """The code the customer was given (confirmation ``code``)."""
    engineer_score: Annotated[int, Field(ge=1, le=5)]


class AuditItemIn(Strict):
    code: ItemCode
    count: Annotated[int, Field(ge=1, le=100)] = 1


class AuditIn(Strict):
    approve: bool
    quality_score: Annotated[int, Field(ge=0, le=100)] | None = None
    note: Note = ""
    items: Annotated[list[AuditItemIn], Field(max_length=20)] = Field(default_factory=list)


class AdjustmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    count: int
    amount_fen: int
    charged_to: ChargedTo


class SlipPublic(BaseModel):
    id: int
    order_id: int
    order_number: str
    customer_name: str
    station_id: int | None
    engineer_id: int | None
    engineer_name: str
    service_kind: ServiceKind
    outsourced: bool
    work_done: str
    labour_fen: int
    travel_fen: int
    confirmation: Confirmation
    engineer_score: int
    completed_at: datetime
    received_at: datetime
    filed_by: str
    status: SlipStatus
    auditor: str
    audited_at: datetime | None
    quality_score: int | None
    audit_note: str
    base_commission_fen: int
    rewards_fen: int
    engineer_deductions_fen: int
    station_deductions_fen: int
    commission_fen: int
    adjustments: list[AdjustmentPublic]


class FeeLine(BaseModel):
    item: str
    """``part``, ``labour`` or ``travel``."""
    code: str
    name: str
    quantity: int
    unit_price_fen: int
    charged_fen: int
    covered_fen: int
    """What the warranty paid for this line (the customer's price of what was free)."""


class FeeStatement(BaseModel):
    order_id: int
    order_number: str
    warranty_status: str
    lines: list[FeeLine]
    parts_fen: int
    labour_fen: int
    travel_fen: int
    total_fen: int
    """What the customer pays."""
    covered_fen: int
    """What the warranty covered."""
