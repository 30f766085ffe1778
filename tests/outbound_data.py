"""Completed orders in bulk for the outbound tests: rows written straight to the tables
(the order service would take minutes for ten thousand), each with the transition to
``completed`` that campaigns read."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session, select

from callbacks.models import OutboundTask
from callbacks.schemas import CampaignIn
from callbacks.services import campaigns
from core.types import Clock
from orders import SYSTEM
from orders.enums import (
    ApplianceCategory,
    Channel,
    OrderStatus,
    OrderType,
    ServiceMode,
    WarrantyStatus,
)
from orders.models import (
    Appliance,
    Customer,
    CustomerPhone,
    Engineer,
    OrderTransition,
    Station,
    WorkOrder,
)


@dataclass(frozen=True)
class Completed:
    order_id: int
    customer_id: int
    station_id: int
    engineer_id: int
    category: str
    at: datetime


def completed_orders(
    session: Session,
    *,
    count: int,
    start: datetime,
    span: timedelta,
    stations: int = 3,
    engineers_per_station: int = 3,
    categories: Sequence[ApplianceCategory] = (
        ApplianceCategory.WASHING_MACHINE,
        ApplianceCategory.REFRIGERATOR,
        ApplianceCategory.AIR_CONDITIONER,
    ),
    seed: int = 7,
) -> list[Completed]:
    """``count`` repairs completed between ``start`` and ``start + span``, one customer
    each; the engineers' loads are skewed (the first of each station does most of it), as
    a real station's are."""
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:6]
    station_ids = list(
        session.scalars(
            insert(Station).returning(Station.id),
            [
                {"code": f"S{tag}{i}", "name": f"服务站{i}", "created_at": start}
                for i in range(stations)
            ],
        )
    )
    engineer_rows = [
        {"station_id": s, "name": f"师傅{s}-{j}", "created_at": start}
        for s in station_ids
        for j in range(engineers_per_station)
    ]
    engineer_ids = list(session.scalars(insert(Engineer).returning(Engineer.id), engineer_rows))
    engineers = list(zip(engineer_ids, [r["station_id"] for r in engineer_rows], strict=True))
    weights = [2.0**-j for _ in station_ids for j in range(engineers_per_station)]
    customer_ids = list(
        session.scalars(
            insert(Customer).returning(Customer.id),
            [{"name": f"客户{i}", "created_at": start, "updated_at": start} for i in range(count)],
        )
    )
    session.execute(
        insert(CustomerPhone),
        [
            {"customer_id": c, "e164": f"+86139{n:08d}", "label": "mobile"}
            for n, c in enumerate(customer_ids)
        ],
    )
    picked = [(rng.choices(engineers, weights)[0], rng.choice(categories)) for _ in customer_ids]
    appliance_ids = list(
        session.scalars(
            insert(Appliance).returning(Appliance.id),
            [
                {
                    "customer_id": c,
                    "category": category,
                    "brand": "海尔",
                    "created_at": start,
                    "updated_at": start,
                }
                for c, (_, category) in zip(customer_ids, picked, strict=True)
            ],
        )
    )
    moments = sorted(start + span * rng.random() for _ in customer_ids)
    order_ids = list(
        session.scalars(
            insert(WorkOrder).returning(WorkOrder.id),
            [
                {
                    "number": f"WO{tag}{n:06d}",
                    "customer_id": c,
                    "appliance_id": a,
                    "station_id": station,
                    "engineer_id": engineer,
                    "order_type": OrderType.REPAIR,
                    "service_mode": ServiceMode.ON_SITE,
                    "channel": Channel.PHONE,
                    "warranty_status": WarrantyStatus.IN_WARRANTY,
                    "status": OrderStatus.COMPLETED,
                    "created_at": start - timedelta(days=2),
                    "updated_at": at,
                }
                for n, (c, a, ((engineer, station), _), at) in enumerate(
                    zip(customer_ids, appliance_ids, picked, moments, strict=True)
                )
            ],
        )
    )
    session.execute(
        insert(OrderTransition),
        [
            {
                "order_id": o,
                "from_status": OrderStatus.IN_SERVICE,
                "to_status": OrderStatus.COMPLETED,
                "actor_name": "system",
                "at": at,
            }
            for o, at in zip(order_ids, moments, strict=True)
        ],
    )
    session.commit()
    return [
        Completed(o, c, station, engineer, category.value, at)
        for o, c, ((engineer, station), category), at in zip(
            order_ids, customer_ids, picked, moments, strict=True
        )
    ]


WEEK = {str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(1, 6)}


def task_of(
    client: TestClient, db: Session, clock: Callable[[], datetime], agent: Any, boss: dict[str, str]
) -> OutboundTask:
    """A repair completed three hours ago whose satisfaction callback sits in ``agent``'s
    calendar (``boss``: a supervisor's headers, to set the calendar)."""
    client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 6},
        headers=boss,
    )
    completed_orders(db, count=1, start=clock() - timedelta(hours=3), span=timedelta(minutes=1))
    campaign = campaigns.create_campaign(
        db,
        CampaignIn(name="回访", sampling_ratio=1.0, starts_at=clock() - timedelta(days=1)),
        actor=SYSTEM,
        now=clock(),
    )
    campaigns.plan_campaign(db, campaign.id, now=clock())
    [task] = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign.id)).all()
    assert task.assignee_id == agent.id, task.unplaced_reason
    return task


def survey_due(
    db: Session, clock: Clock, *, mode: str = "survey_call", seed: int = 7
) -> tuple[Completed, OutboundTask]:
    """A repair completed three hours ago, sampled by a campaign of its own that surveys
    by ``mode``: due now."""
    now = clock()
    [order] = completed_orders(
        db, count=1, start=now - timedelta(hours=3), span=timedelta(minutes=1), seed=seed
    )
    campaign = campaigns.create_campaign(
        db,
        CampaignIn(
            name=f"自动回访 {mode} {seed}",
            sampling_ratio=1.0,
            mode=mode,
            survey_flow="survey",
            starts_at=now - timedelta(days=1),
        ),
        actor=SYSTEM,
        now=now,
    )
    campaigns.plan_campaign(db, campaign.id, now=now)
    [task] = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign.id)).all()
    assert task.status == "scheduled", task.unplaced_reason
    assert task.due_at is not None and task.due_at <= clock()
    assert task.order_id == order.order_id
    return order, task
