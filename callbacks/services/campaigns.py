"""Campaigns: which completed orders are called back, decided once and explained."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from callbacks import sampling
from callbacks.enums import AssigneeKind, CampaignMode, Decision, TaskStatus
from callbacks.events import CampaignProgressed
from callbacks.exceptions import CampaignNotFound, DuplicateCampaign
from callbacks.models import (
    Campaign,
    CampaignDecision,
    CampaignStratum,
    ContactPreference,
    DncEntry,
    OutboundTask,
)
from callbacks.schemas import CampaignIn, CampaignPublic, DecisionPublic, PlanSummary
from callbacks.services import calendars, tasks
from core.bus import publish_on_commit
from core.db import bulk_insert, table_of
from orders import (
    Actor,
    Completion,
    OrderStatus,
    completions,
    mark_callbacks_done,
    mark_callbacks_due,
)

OVERLAP = timedelta(minutes=10)
"""Each run looks this far behind the last one: a completion committed late, with an
earlier moment than the newest one seen, is still found (its decision is never taken
twice: decided orders are skipped)."""
CHUNK = 5_000


def create_campaign(
    session: Session, data: CampaignIn, *, actor: Actor, now: datetime
) -> CampaignPublic:
    campaign = Campaign(
        **data.model_dump(exclude={"starts_at"}),
        starts_at=data.starts_at or now,
        created_by=actor.name,
        created_at=now,
    )
    session.add(campaign)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise DuplicateCampaign(
            f"a campaign named {data.name!r} exists", details={"name": data.name}
        ) from exc
    return CampaignPublic.model_validate(campaign, from_attributes=True)


def get_campaign_row(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(
            f"campaign {campaign_id} not found", details={"campaign_id": campaign_id}
        )
    return campaign


def get_campaign(session: Session, campaign_id: int) -> CampaignPublic:
    return CampaignPublic.model_validate(
        get_campaign_row(session, campaign_id), from_attributes=True
    )


def list_campaigns(session: Session) -> list[CampaignPublic]:
    rows = session.exec(select(Campaign).order_by(col(Campaign.id))).all()
    return [CampaignPublic.model_validate(row, from_attributes=True) for row in rows]


def plan_active(session: Session, *, now: datetime) -> list[PlanSummary]:
    """Plan every active campaign: the worker's periodic run; tasks whose window closed
    unmade are closed first."""
    tasks.close_expired(session, now=now)
    ids = session.exec(
        select(Campaign.id).where(col(Campaign.is_active)).order_by(col(Campaign.id))
    ).all()
    return [plan_campaign(session, campaign_id, now=now) for campaign_id in ids if campaign_id]


def plan_campaign(session: Session, campaign_id: int, *, now: datetime) -> PlanSummary:
    """Decide every order the campaign has not decided yet, make the selected orders'
    tasks, and place them. Decisions are kept: planning again decides nothing twice."""
    campaign = get_campaign_row(session, campaign_id)
    assert campaign.id is not None
    # One planner at a time per campaign: the stratum counters are read and written here.
    session.exec(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update()).first()
    since = _since(session, campaign)
    decided = set(
        session.exec(
            select(CampaignDecision.order_id).where(
                CampaignDecision.campaign_id == campaign.id,
                col(CampaignDecision.triggered_at) >= since,
            )
        ).all()
    )
    planner = _Planner(session, campaign, now=now)
    found = completions(
        session,
        statuses=[OrderStatus(s) for s in campaign.trigger_statuses],
        since=since,
        until=now,
        order_types=campaign.order_types,
        categories=campaign.categories,
        station_ids=campaign.station_ids,
        grades=campaign.grades,
    )
    for completion in found:
        if completion.order_id not in decided:
            planner.decide(completion)
    planner.flush()
    planner.save_strata()
    if planner.considered:
        publish_on_commit(session, CampaignProgressed(campaign_id=campaign.id, at=now))
    session.commit()
    placed = calendars.schedule_pending(session, now=now, campaign_id=campaign.id)
    return PlanSummary(
        campaign_id=campaign.id,
        considered=planner.considered,
        decisions=dict(planner.counts),
        tasks_created=planner.tasks_created,
        expired=planner.expired,
        scheduled=placed.scheduled,
        unplaced=placed.unplaced,
    )


def _since(session: Session, campaign: Campaign) -> datetime:
    newest: datetime | None = session.exec(
        select(func.max(CampaignDecision.triggered_at)).where(
            CampaignDecision.campaign_id == campaign.id
        )
    ).one()
    if newest is None:
        return campaign.starts_at
    return max(campaign.starts_at, newest - OVERLAP)


class _Planner:
    """One run's decisions, written in chunks so a million orders fit in memory."""

    def __init__(self, session: Session, campaign: Campaign, *, now: datetime) -> None:
        assert campaign.id is not None
        self.session = session
        self.campaign = campaign
        self.campaign_id: int = campaign.id
        self.now = now
        self.ratio = sampling.scaled_ratio(campaign.sampling_ratio)
        self.strata: dict[str, list[int]] = {
            row.stratum: [row.seen, row.selected]
            for row in session.exec(
                select(CampaignStratum).where(CampaignStratum.campaign_id == campaign.id)
            ).all()
        }
        self.known_strata = set(self.strata)
        self.offsets: dict[str, int] = {}
        self.do_not_call = set(session.exec(select(DncEntry.e164)).all())
        self.opted_out = set(
            session.exec(
                select(ContactPreference.customer_id).where(col(ContactPreference.opted_out))
            ).all()
        )
        self.recently_called = _recently_called(session, campaign, now=now)
        self.decisions: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.due: list[int] = []
        self.closed: list[int] = []
        self.counts: Counter[str] = Counter()
        self.considered = 0
        self.tasks_created = 0
        self.expired = 0

    def decide(self, completion: Completion) -> None:
        self.considered += 1
        stratum = sampling.stratum_key(
            self.campaign.stratify_by,
            station_id=completion.station_id,
            engineer_id=completion.engineer_id,
            category=completion.category,
        )
        position: int | None = None
        decision = self._excluded(completion)
        if decision is None:
            counter = self.strata.setdefault(stratum, [0, 0])
            position = counter[0]
            counter[0] += 1
            offset = self.offsets.get(stratum)
            if offset is None:
                offset = self.offsets[stratum] = sampling.stratum_offset(self.campaign_id, stratum)
            if sampling.picks(position, self.ratio, offset):
                counter[1] += 1
                decision = (
                    Decision.SELECTED_FOR_COMPLAINT_OWNER
                    if completion.complaint_owner_id is not None
                    else Decision.SELECTED
                )
                self._task(completion, decision)
            else:
                decision = Decision.NOT_SAMPLED
        self.counts[decision.value] += 1
        self.decisions.append(
            {
                "campaign_id": self.campaign_id,
                "order_id": completion.order_id,
                "triggered_at": completion.at,
                "stratum": stratum,
                "position": position,
                "decision": decision,
                "decided_at": self.now,
            }
        )
        if len(self.decisions) >= CHUNK:
            self.flush()

    def _excluded(self, completion: Completion) -> Decision | None:
        if completion.phone is None:
            return Decision.NO_PHONE
        if completion.phone in self.do_not_call:
            return Decision.DO_NOT_CALL
        if completion.customer_id in self.opted_out:
            return Decision.OPTED_OUT
        if completion.customer_id in self.recently_called:
            return Decision.RECENTLY_CALLED
        return None

    def _task(self, completion: Completion, decision: Decision) -> None:
        campaign = self.campaign
        earliest = completion.at + timedelta(hours=campaign.window_from_hours)
        deadline = completion.at + timedelta(hours=campaign.window_to_hours)
        owner = completion.complaint_owner_id
        if decision is Decision.SELECTED_FOR_COMPLAINT_OWNER:
            kind = AssigneeKind.AGENT
        elif campaign.mode is CampaignMode.AGENT_CALL:
            kind = AssigneeKind.TEAM
        else:
            kind = AssigneeKind.DIALER
        expired = deadline <= self.now
        self.expired += expired
        (self.closed if expired else self.due).append(completion.order_id)
        if campaign.exclude_called_days:
            # Two orders of one customer completed together make one callback, not two.
            self.recently_called.add(completion.customer_id)
        self.tasks_created += 1
        self.tasks.append(
            {
                "purpose": campaign.purpose,
                "campaign_id": self.campaign_id,
                "order_id": completion.order_id,
                "customer_id": completion.customer_id,
                "phone": completion.phone,
                "earliest_at": earliest,
                "deadline_at": deadline,
                "assignee_kind": kind,
                "mode": campaign.mode if kind is AssigneeKind.DIALER else CampaignMode.AGENT_CALL,
                "assignee_id": owner if kind is AssigneeKind.AGENT else None,
                "skill": campaign.skill,
                "language": completion.language,
                "priority": campaign.priority,
                "status": TaskStatus.FAILED if expired else TaskStatus.PENDING,
                "outcome": "window_closed" if expired else None,
                "unplaced_reason": "",
                "attempts": 0,
                "max_attempts": campaign.max_attempts,
                "note": "",
                "created_by": "campaign",
                "created_at": self.now,
                "updated_at": self.now,
            }
        )

    def flush(self) -> None:
        connection = self.session.connection()
        bulk_insert(connection, table_of(CampaignDecision), self.decisions)
        bulk_insert(connection, table_of(OutboundTask), self.tasks)
        self.decisions, self.tasks = [], []
        mark_callbacks_due(self.session, self.due)
        mark_callbacks_done(self.session, self.closed)
        self.due, self.closed = [], []

    def save_strata(self) -> None:
        new = [
            {"campaign_id": self.campaign_id, "stratum": key, "seen": seen, "selected": picked}
            for key, (seen, picked) in self.strata.items()
            if key not in self.known_strata
        ]
        if new:
            self.session.execute(insert(CampaignStratum), new)
        for key in self.known_strata:
            seen, picked = self.strata[key]
            self.session.execute(
                update(CampaignStratum)
                .where(
                    col(CampaignStratum.campaign_id) == self.campaign_id,
                    col(CampaignStratum.stratum) == key,
                )
                .values(seen=seen, selected=picked)
            )


def _recently_called(session: Session, campaign: Campaign, *, now: datetime) -> set[int]:
    """Customers with an outbound contact of the campaign's purpose made or planned within
    the campaign's exclusion period."""
    if not campaign.exclude_called_days:
        return set()
    cutoff = now - timedelta(days=campaign.exclude_called_days)
    rows = session.exec(
        select(OutboundTask.customer_id).where(
            OutboundTask.purpose == campaign.purpose,
            col(OutboundTask.customer_id).is_not(None),
            (col(OutboundTask.last_attempt_at) >= cutoff)
            | (col(OutboundTask.created_at) >= cutoff),
        )
    ).all()
    return {row for row in rows if row is not None}


def decisions(
    session: Session,
    campaign_id: int,
    *,
    selected: bool | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[DecisionPublic]:
    """The campaign's plan: each decided order, selected or not, and why."""
    campaign = get_campaign_row(session, campaign_id)
    query = (
        select(CampaignDecision, OutboundTask.id)
        .outerjoin(
            OutboundTask,
            (col(OutboundTask.campaign_id) == CampaignDecision.campaign_id)
            & (col(OutboundTask.order_id) == CampaignDecision.order_id),
        )
        .where(CampaignDecision.campaign_id == campaign_id)
    )
    if selected is not None:
        chosen = [d for d in Decision if d.selected]
        condition = col(CampaignDecision.decision).in_(chosen)
        query = query.where(condition if selected else ~condition)
    rows = session.exec(
        query.order_by(col(CampaignDecision.triggered_at), col(CampaignDecision.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        DecisionPublic(
            order_id=row.order_id,
            triggered_at=row.triggered_at,
            stratum=row.stratum,
            position=row.position,
            decision=row.decision,
            selected=row.decision.selected,
            why=explain(campaign, row),
            task_id=task_id,
        )
        for row, task_id in rows
    ]


def explain(campaign: Campaign, row: CampaignDecision) -> str:
    ratio = campaign.sampling_ratio
    match row.decision:
        case Decision.NO_PHONE:
            return "not called: the customer has no phone number on file"
        case Decision.DO_NOT_CALL:
            return "not called: the customer's number is on the do-not-call list"
        case Decision.OPTED_OUT:
            return "not called: the customer opted out of callbacks"
        case Decision.RECENTLY_CALLED:
            return (
                f"not called: the customer was called or is to be called within "
                f"{campaign.exclude_called_days} days"
            )
    assert row.position is not None
    place = (
        f"order {row.position + 1} of its stratum ({row.stratum}); "
        f"{_share(ratio)} of each stratum's orders are called"
    )
    if row.decision is Decision.NOT_SAMPLED:
        return f"not sampled: {place}, this one is not among them"
    if row.decision is Decision.SELECTED_FOR_COMPLAINT_OWNER:
        return f"sampled: {place}; the customer has an open complaint, so its owner calls"
    return f"sampled: {place}"


def _share(ratio: float) -> str:
    if ratio <= 0:
        return "none"
    if ratio >= 1:
        return "all"
    return f"{ratio:.0%} (1 in {1 / ratio:.3g})"
