"""How a campaign is doing: eligible, sampled, scheduled, attempted, reached, the mean
score and the share satisfied, overall and by station, engineer and category; and how many
customers gave each score."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from callbacks.enums import Outcome, TaskStatus
from callbacks.models import CampaignDecision, OutboundTask
from callbacks.services.campaigns import get_campaign_row
from orders import Report, ReportSection, Station, WorkOrder

SATISFIED = 4
"""Scores of 4 and 5 count as satisfied; the operating spec's goal is 90 % of them."""
REACHED = frozenset({Outcome.SCORE_GIVEN.value, Outcome.REACHED.value, Outcome.REFUSED.value})
COLUMNS = [
    "eligible",
    "sampled",
    "scheduled",
    "attempted",
    "reached",
    "scored",
    "mean score",
    "satisfied share",
]
SCORED = COLUMNS.index("scored")
"""Where an order's figures say it was scored (they line up with the columns up to it)."""
SCORES = range(1, 6)


def campaign_report(session: Session, campaign_id: int, *, now: datetime) -> Report:
    campaign = get_campaign_row(session, campaign_id)
    session.flush()
    rows = (
        session.connection()
        .execute(
            sa_select(
                col(CampaignDecision.decision),
                col(WorkOrder.station_id),
                col(WorkOrder.engineer_id),
                col(CampaignDecision.stratum),
                col(OutboundTask.status),
                col(OutboundTask.attempts),
                col(OutboundTask.outcome),
                col(WorkOrder.satisfaction_score),
            )
            .join(WorkOrder, col(WorkOrder.id) == CampaignDecision.order_id)
            .outerjoin(
                OutboundTask,
                (col(OutboundTask.campaign_id) == CampaignDecision.campaign_id)
                & (col(OutboundTask.order_id) == CampaignDecision.order_id),
            )
            .where(col(CampaignDecision.campaign_id) == campaign_id)
        )
        .all()
    )
    stations = dict(session.exec(select(Station.id, Station.code)).all())
    groups: dict[str, defaultdict[str, list[int]]] = {
        "station": defaultdict(_empty),
        "engineer": defaultdict(_empty),
        "category": defaultdict(_empty),
    }
    total = _empty()
    scores = dict.fromkeys(SCORES, 0)
    for decision, station_id, engineer_id, stratum, status, attempts, outcome, score in rows:
        category = dict(part.split("=", 1) for part in stratum.split("|") if "=" in part).get(
            "category", "-"
        )
        keys = {
            "station": stations.get(station_id, "-") if station_id else "-",
            "engineer": str(engineer_id) if engineer_id else "-",
            "category": category,
        }
        figures = _figures(decision.selected, status, attempts or 0, outcome, score)
        for name, key in keys.items():
            _add(groups[name][key], figures)
        _add(total, figures)
        if figures[SCORED] and score is not None:
            scores[score] += 1
    sections = [
        ReportSection(
            title="campaign", columns=["campaign", *COLUMNS], rows=[[campaign.name, *_row(total)]]
        )
    ]
    for name, by_key in groups.items():
        sections.append(
            ReportSection(
                title=f"by {name}",
                columns=[name, *COLUMNS],
                rows=[[key, *_row(values)] for key, values in sorted(by_key.items())],
            )
        )
    sections.append(
        ReportSection(
            title="scores",
            columns=["score", "scored"],
            rows=[[value, count] for value, count in scores.items()],
        )
    )
    return Report(
        name=f"campaign {campaign.name}",
        start=campaign.starts_at,
        end=now,
        generated_at=now,
        sections=sections,
    )


def _empty() -> list[int]:
    # eligible, sampled, scheduled, attempted, reached, scored, score sum, satisfied
    return [0] * 8


def _figures(
    selected: bool, status: TaskStatus | None, attempts: int, outcome: str | None, score: int | None
) -> list[int]:
    scored = outcome == Outcome.SCORE_GIVEN.value and score is not None
    return [
        1,
        int(selected),
        int(
            status is not None
            and status is not TaskStatus.PENDING
            and status is not TaskStatus.UNPLACED
        ),
        int(attempts > 0),
        int(outcome in REACHED),
        int(scored),
        score if scored and score is not None else 0,
        int(scored and score is not None and score >= SATISFIED),
    ]


def _add(into: list[int], figures: list[int]) -> None:
    for index, value in enumerate(figures):
        into[index] += value


def _row(values: list[int]) -> list[str | int | float | None]:
    eligible, sampled, scheduled, attempted, reached, scored, score_sum, satisfied = values
    return [
        eligible,
        sampled,
        scheduled,
        attempted,
        reached,
        scored,
        round(score_sum / scored, 2) if scored else None,
        round(satisfied / scored, 4) if scored else None,
    ]
