"""Outbound campaigns: which completed orders get a satisfaction callback, decided once,
stratified, explained, and placed in agents' calendars."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import delete
from sqlmodel import Session, select

from callbacks.models import CampaignDecision, CampaignStratum, OutboundTask
from callbacks.schemas import CampaignIn
from callbacks.services import campaigns
from core.keys import EVENTS_STREAM
from orders import SYSTEM, Role
from orders.enums import OrderStatus, OrderType
from orders.models import Complaint, WorkOrder
from orders.schemas import OrderCreate, TransitionIn
from orders.services import work_orders
from tests.conftest import OPEN_HOURS, TestClock, bearer, fixed_clock
from tests.outbound_data import completed_orders

MONDAY = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a working Monday
WEEK = {str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(1, 6)}


def _within_binomial(selected: int, total: int, ratio: float) -> bool:
    """Inside four standard deviations of the binomial mean (one failure in ~16,000 for
    a truly random draw; the systematic sample sits within one of the mean)."""
    spread = 4 * math.sqrt(total * ratio * (1 - ratio))
    return abs(selected - total * ratio) <= max(spread, 1)


def _campaign(db: Session, **fields: Any) -> int:
    data = CampaignIn(
        name=fields.pop("name", "回访"),
        sampling_ratio=fields.pop("sampling_ratio", 0.3),
        starts_at=fields.pop("starts_at", MONDAY - timedelta(days=30)),
        **fields,
    )
    campaign = campaigns.create_campaign(db, data, actor=SYSTEM, now=MONDAY)
    return campaign.id


def _selected(db: Session, campaign_id: int) -> set[int]:
    rows = db.exec(
        select(CampaignDecision.order_id, CampaignDecision.decision).where(
            CampaignDecision.campaign_id == campaign_id
        )
    ).all()
    return {order_id for order_id, decision in rows if decision.selected}


def test_ten_thousand_orders_are_sampled_at_the_ratio_overall_and_in_every_stratum(
    db: Session,
) -> None:
    orders = completed_orders(
        db, count=10_000, start=MONDAY - timedelta(days=1), span=timedelta(hours=20)
    )
    campaign_id = _campaign(db, exclude_called_days=0)

    summary = campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    selected = _selected(db, campaign_id)

    assert summary.considered == 10_000
    assert summary.decisions["selected"] == len(selected) == summary.tasks_created
    assert _within_binomial(len(selected), 10_000, 0.3)
    strata: defaultdict[tuple[int, int, str], list[int]] = defaultdict(list)
    for order in orders:
        strata[(order.station_id, order.engineer_id, order.category)].append(order.order_id)
    sizes = sorted(len(ids) for ids in strata.values())
    assert sizes[0] < 200 < sizes[-1], "the engineers' loads are skewed, as the test needs"
    for ids in strata.values():
        picked = len(selected.intersection(ids))
        assert _within_binomial(picked, len(ids), 0.3), (picked, len(ids))
        # Systematic: no stratum strays more than one call from its share.
        assert abs(picked - 0.3 * len(ids)) < 1


def test_planning_again_or_in_pieces_selects_exactly_the_same_orders(
    db: Session,
) -> None:
    start = MONDAY - timedelta(days=1)
    completed_orders(db, count=2_000, start=start, span=timedelta(hours=20), seed=11)
    campaign_id = _campaign(db, exclude_called_days=0)

    campaigns.plan_campaign(db, campaign_id, now=start + timedelta(hours=7))
    campaigns.plan_campaign(db, campaign_id, now=start + timedelta(hours=13))
    again = campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    in_pieces = _selected(db, campaign_id)
    repeat = campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    for table in (OutboundTask, CampaignDecision, CampaignStratum):
        db.execute(delete(table).where(table.campaign_id == campaign_id))  # type: ignore[arg-type]
    db.commit()
    campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    at_once = _selected(db, campaign_id)

    assert again.considered > 0
    assert repeat.considered == 0, "a decided order is never decided again"
    assert _within_binomial(len(in_pieces), 2_000, 0.3)
    assert in_pieces == at_once


def test_each_decision_says_why_and_exclusions_take_no_place_in_the_sample(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    orders = completed_orders(
        db,
        count=12,
        start=MONDAY - timedelta(hours=3),
        span=timedelta(hours=2),
        stations=1,
        engineers_per_station=1,
    )
    supervisor = headers["supervisor"]
    listed = client.post("/api/dnc", json={"phone": "+86 139 0000 0000"}, headers=supervisor)
    owner = make_user(Role.SUPERVISOR)
    db.add(
        Complaint(
            customer_id=orders[1].customer_id,
            topic="service_attitude",
            owner_id=owner.id,
            created_at=MONDAY - timedelta(days=3),
        )
    )
    db.commit()
    created = client.post(
        "/api/campaigns",
        json={
            "name": "全部回访",
            "sampling_ratio": 1.0,
            "stratify_by": [],
            "starts_at": (MONDAY - timedelta(days=1)).isoformat(),
        },
        headers=supervisor,
    )
    campaign_id = created.json()["id"]

    planned = client.post(f"/api/campaigns/{campaign_id}/plan", headers=supervisor)
    plan = client.get(f"/api/campaigns/{campaign_id}/plan", headers=supervisor).json()
    by_order = {row["order_id"]: row for row in plan}

    assert listed.status_code == 201, listed.text
    assert listed.json()["e164"] == "+8613900000000"
    assert created.status_code == 201, created.text
    assert planned.status_code == 200, planned.text
    assert planned.json()["decisions"] == {
        "do_not_call": 1,
        "selected_for_complaint_owner": 1,
        "selected": 10,
    }
    first = by_order[orders[0].order_id]
    assert first["selected"] is False
    assert first["position"] is None
    assert "do-not-call" in first["why"]
    second = by_order[orders[1].order_id]
    assert second["selected"] is True
    assert second["position"] == 0, "the excluded order took no place in the stratum"
    assert "open complaint" in second["why"]
    task = db.get(OutboundTask, second["task_id"])
    assert task is not None
    assert task.assignee_id == owner.id
    assert "order 2 of its stratum" in by_order[orders[2].order_id]["why"]
    only_not = client.get(
        f"/api/campaigns/{campaign_id}/plan?selected=false", headers=supervisor
    ).json()
    assert [row["order_id"] for row in only_not] == [orders[0].order_id]


def test_a_customer_with_two_orders_done_together_gets_one_callback(
    db: Session, make_customer: Any, make_appliance: Any, station: Any
) -> None:
    customer = make_customer()
    clock = TestClock(MONDAY - timedelta(hours=5), frozen=True)
    ids = []
    for _ in range(2):
        order = work_orders.create_order(
            db,
            data=OrderCreate(
                customer_id=customer.id,
                appliance_id=make_appliance(customer.id).id,
                order_type=OrderType.REPAIR,
            ),
            actor=SYSTEM,
            clock=clock,
        )
        for step in (
            OrderStatus.ASSIGNED,
            OrderStatus.ACCEPTED,
            OrderStatus.CONTACTED,
            OrderStatus.IN_SERVICE,
            OrderStatus.COMPLETED,
        ):
            work_orders.transition_order(
                db,
                order_id=order.id,
                data=TransitionIn(to=step, station_id=station.id),
                actor=SYSTEM,
                clock=fixed_clock(MONDAY - timedelta(hours=4)),
            )
        ids.append(order.id)
    campaign_id = _campaign(db, sampling_ratio=1.0, stratify_by=[])

    summary = campaigns.plan_campaign(db, campaign_id, now=MONDAY)

    assert summary.decisions == {"selected": 1, "recently_called": 1}
    assert _selected(db, campaign_id) == {ids[0]}
    tasks = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign_id)).all()
    assert [t.phone for t in tasks] == ["+8613800138000"]
    assert tasks[0].earliest_at == MONDAY - timedelta(hours=2)
    assert tasks[0].deadline_at == MONDAY + timedelta(hours=44)


def test_a_selected_order_is_placed_in_an_agents_calendar_and_listed_for_their_day(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    agent = make_user(Role.AGENT)
    supervisor = headers["supervisor"]
    calendar = client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 4, "skills": ["survey"]},
        headers=supervisor,
    )
    [order] = completed_orders(
        db, count=1, start=MONDAY - timedelta(hours=1), span=timedelta(minutes=1)
    )
    campaign_id = _campaign(db, sampling_ratio=1.0, skill="survey")

    summary = campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    day = client.get(
        "/api/tasks", params={"assignee": "me", "date": "2026-11-23"}, headers=bearer(agent)
    )

    assert calendar.status_code == 200, calendar.text
    assert summary.scheduled == 1
    assert day.status_code == 200, day.text
    [task] = day.json()
    assert task["order_id"] == order.order_id
    due = datetime.fromisoformat(task["due_at"])
    assert due >= order.at + timedelta(hours=2)
    assert due.astimezone(UTC).hour in range(1, 10), "inside the agent's shift in Shanghai"
    other = client.get(f"/api/tasks?assignee={agent.id}", headers=headers["agent"])
    assert other.status_code == 403


def test_an_agent_off_sick_has_their_tasks_moved_to_a_colleague(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    first, second = make_user(Role.AGENT), make_user(Role.AGENT)
    supervisor = headers["supervisor"]
    client.put(
        f"/api/agents/{first.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 60},
        headers=supervisor,
    )
    completed_orders(db, count=6, start=MONDAY - timedelta(hours=1), span=timedelta(minutes=5))
    campaign_id = _campaign(db, sampling_ratio=1.0)
    campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    client.put(
        f"/api/agents/{second.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 2},
        headers=supervisor,
    )

    sick = client.put(
        f"/api/agents/{first.id}/calendar",
        json={
            "weekly_hours": WEEK,
            "capacity_per_hour": 60,
            "days": [{"day": "2026-11-23", "kind": "sick"}, {"day": "2026-11-24", "kind": "sick"}],
        },
        headers=supervisor,
    )
    db.expire_all()
    tasks = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign_id)).all()

    assert sick.status_code == 200, sick.text
    assert sick.json()["tasks_moved"] == 6
    placed = [t for t in tasks if t.status == "scheduled"]
    unplaced = [t for t in tasks if t.status == "unplaced"]
    assert {t.assignee_id for t in placed} == {second.id}
    assert len(placed) + len(unplaced) == 6
    assert all(t.unplaced_reason for t in unplaced)
    assert sick.json()["tasks_unplaced"] == len(unplaced)
    assert Counter(t.due_at for t in placed).most_common(1)[0][1] == 1


def test_bad_calendars_campaigns_and_numbers_are_refused_and_change_nothing(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    make_user: Any,
    station: Any,
) -> None:
    supervisor = headers["supervisor"]
    agent = make_user(Role.AGENT)
    engineer_login = make_user(Role.STATION, station_id=station.id)
    overlapping = {"1": [["09:00", "12:00"], ["11:00", "13:00"]]}

    answers = {
        "overlap": client.put(
            f"/api/agents/{agent.id}/calendar",
            json={"weekly_hours": overlapping},
            headers=supervisor,
        ),
        "zone": client.put(
            f"/api/agents/{agent.id}/calendar",
            json={"weekly_hours": WEEK, "time_zone": "Mars/Olympus"},
            headers=supervisor,
        ),
        "sick_with_hours": client.put(
            f"/api/agents/{agent.id}/calendar",
            json={
                "weekly_hours": WEEK,
                "days": [{"day": "2026-11-23", "kind": "sick", "hours": [["09:00", "10:00"]]}],
            },
            headers=supervisor,
        ),
        "station_user": client.put(
            f"/api/agents/{engineer_login.id}/calendar",
            json={"weekly_hours": WEEK},
            headers=supervisor,
        ),
        "by_agent": client.put(
            f"/api/agents/{agent.id}/calendar",
            json={"weekly_hours": WEEK},
            headers=headers["agent"],
        ),
        "window": client.post(
            "/api/campaigns",
            json={
                "name": "x",
                "sampling_ratio": 0.5,
                "window_from_hours": 48,
                "window_to_hours": 2,
            },
            headers=supervisor,
        ),
        "ratio": client.post(
            "/api/campaigns", json={"name": "y", "sampling_ratio": 1.5}, headers=supervisor
        ),
        "survey_without_flow": client.post(
            "/api/campaigns",
            json={"name": "z", "sampling_ratio": 0.5, "mode": "survey_call"},
            headers=supervisor,
        ),
        "phone": client.post("/api/dnc", json={"phone": "not a number"}, headers=supervisor),
    }
    first = client.post(
        "/api/campaigns", json={"name": "回访", "sampling_ratio": 0.3}, headers=supervisor
    )
    twice = client.post(
        "/api/campaigns", json={"name": "回访", "sampling_ratio": 0.3}, headers=supervisor
    )
    client.post("/api/dnc", json={"phone": "13800138000"}, headers=headers["agent"])
    dnc_twice = client.post("/api/dnc", json={"phone": "+8613800138000"}, headers=supervisor)
    stored = client.get(f"/api/agents/{agent.id}/calendar", headers=supervisor).json()

    assert {k: r.status_code for k, r in answers.items()} == {
        "overlap": 422,
        "zone": 422,
        "sick_with_hours": 422,
        "station_user": 422,
        "by_agent": 403,
        "window": 422,
        "ratio": 422,
        "survey_without_flow": 422,
        "phone": 422,
    }
    assert answers["station_user"].json()["error_id"] == "invalid_calendar"
    assert first.status_code == 201
    assert twice.status_code == 409
    assert twice.json()["error_id"] == "duplicate_campaign"
    assert dnc_twice.status_code == 409
    assert stored["weekly_hours"] == {}, "nothing of the refused calendars was kept"
    assert len(client.get("/api/campaigns", headers=supervisor).json()) == 1


def test_listing_a_number_cancels_the_tasks_waiting_to_dial_it(
    client: TestClient, db: Session, headers: dict[str, dict[str, str]]
) -> None:
    [order] = completed_orders(
        db, count=1, start=MONDAY - timedelta(hours=1), span=timedelta(minutes=1)
    )
    campaign_id = _campaign(db, sampling_ratio=1.0)
    campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    [task] = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign_id)).all()

    listed = client.post(
        "/api/dnc",
        json={"phone": task.phone, "reason": "客户要求不再回访"},
        headers=headers["agent"],
    )
    db.refresh(task)

    assert listed.status_code == 201, listed.text
    assert listed.json()["tasks_cancelled"] == 1
    assert task.status == "cancelled"
    assert task.outcome == "do_not_call"
    assert task.order_id == order.order_id


def _one_task(
    client: TestClient, db: Session, make_user: Any, supervisor: dict[str, str], **order: Any
) -> tuple[OutboundTask, Any, dict[str, str]]:
    """A completed repair whose callback sits in an agent's calendar."""
    agent = make_user(Role.AGENT)
    client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 6},
        headers=supervisor,
    )
    [completed] = completed_orders(
        db, count=1, start=MONDAY - timedelta(hours=3), span=timedelta(minutes=1), **order
    )
    campaign_id = _campaign(db, sampling_ratio=1.0, max_attempts=2)
    campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    [task] = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign_id)).all()
    assert task.assignee_id == agent.id
    return task, completed, bearer(agent)


def test_a_score_lands_on_the_order_and_the_next_pop_shows_it(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    task, completed, agent = _one_task(client, db, make_user, headers["supervisor"])
    before = client.get(f"/api/orders/{completed.order_id}", headers=headers["supervisor"])

    answer = client.post(
        f"/api/tasks/{task.id}/outcome",
        json={"outcome": "score_given", "score": 4, "comment": "师傅很准时"},
        headers=agent,
    )
    pop = client.get("/api/lookup", params={"phone": task.phone}, headers=agent)
    again = client.post(
        f"/api/tasks/{task.id}/outcome", json={"outcome": "no_answer"}, headers=agent
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["task"]["status"] == "done"
    assert answer.json()["complaint_id"] is None
    order = client.get(f"/api/orders/{completed.order_id}", headers=headers["supervisor"])
    assert order.json()["satisfaction_score"] == 4
    assert (before.json()["callback_state"], order.json()["callback_state"]) == ("due", "done")
    assert order.json()["status"] == "completed"
    assert pop.status_code == 200, pop.text
    assert pop.json()["customers"][0]["last_satisfaction_score"] == 4
    assert again.status_code == 409
    assert again.json()["error_id"] == "invalid_outcome"


def test_a_low_score_opens_a_complaint_and_sends_the_order_back_to_its_station(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    task, completed, agent = _one_task(client, db, make_user, headers["supervisor"])

    answer = client.post(
        f"/api/tasks/{task.id}/outcome",
        json={"outcome": "score_given", "score": 1, "comment": "洗衣机还是漏水"},
        headers=agent,
    )
    complaints = db.exec(select(Complaint).where(Complaint.order_id == completed.order_id)).all()
    follow_ups = db.exec(
        select(OutboundTask).where(
            OutboundTask.order_id == completed.order_id, OutboundTask.id != task.id
        )
    ).all()

    assert answer.status_code == 200, answer.text
    assert answer.json()["order_reopened"] is True
    assert [(c.topic, c.crisis_level, c.description) for c in complaints] == [
        ("unsatisfied_callback", 2, "洗衣机还是漏水")
    ]
    order = client.get(f"/api/orders/{completed.order_id}", headers=headers["supervisor"])
    assert order.json()["status"] == "reopened"
    assert order.json()["station_id"] == completed.station_id
    [check] = follow_ups
    assert abs(check.earliest_at - (OPEN_HOURS + timedelta(hours=48))) < timedelta(minutes=1)
    assert check.status == "scheduled", check.unplaced_reason


def test_a_busy_line_is_tried_again_later_until_the_attempts_run_out(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    task, _, agent = _one_task(client, db, make_user, headers["supervisor"])
    stranger = bearer(make_user(Role.AGENT))

    refused = client.post(
        f"/api/tasks/{task.id}/outcome", json={"outcome": "busy"}, headers=stranger
    )
    first = client.post(f"/api/tasks/{task.id}/outcome", json={"outcome": "busy"}, headers=agent)
    second = client.post(f"/api/tasks/{task.id}/outcome", json={"outcome": "busy"}, headers=agent)
    bad = client.post(
        f"/api/tasks/{task.id}/outcome", json={"outcome": "busy", "score": 3}, headers=agent
    )

    assert refused.status_code == 403
    assert first.status_code == 200, first.text
    retry_at = datetime.fromisoformat(first.json()["retry_at"])
    assert retry_at >= MONDAY + timedelta(minutes=15)
    assert first.json()["task"]["status"] == "scheduled"
    assert first.json()["task"]["attempts"] == 1
    assert second.json()["task"]["status"] == "failed"
    assert second.json()["retry_at"] is None
    assert bad.status_code == 422


def test_calling_hours_are_the_customers_own_and_opting_out_cancels_their_callbacks(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    task, completed, agent = _one_task(client, db, make_user, headers["supervisor"])
    first_due = task.due_at

    evening = client.put(
        f"/api/customers/{completed.customer_id}/contact-preferences",
        json={"time_zone": "Europe/Berlin", "call_from": "09:00", "call_to": "12:00"},
        headers=agent,
    )
    db.refresh(task)
    berlin = task.due_at.astimezone(ZoneInfo("Europe/Berlin")) if task.due_at else None
    bad = client.put(
        f"/api/customers/{completed.customer_id}/contact-preferences",
        json={"call_from": "20:00", "call_to": "09:00"},
        headers=agent,
    )
    out = client.put(
        f"/api/customers/{completed.customer_id}/contact-preferences",
        json={"opted_out": True},
        headers=agent,
    )
    db.refresh(task)

    assert evening.status_code == 200, evening.text
    # Berlin's 09:00 is 16:00 in Shanghai, where the agent works until 18:00.
    assert first_due is not None and first_due.astimezone(ZoneInfo("Asia/Shanghai")).hour < 16
    assert task.status == "cancelled"
    assert berlin is not None and 9 <= berlin.hour < 11, task.unplaced_reason
    assert bad.status_code == 422
    assert out.status_code == 200
    assert task.outcome == "opted_out"
    assert (
        client.get(
            f"/api/customers/{completed.customer_id}/contact-preferences", headers=agent
        ).json()["opted_out"]
        is True
    )


def test_the_campaign_report_counts_each_stage_and_the_share_satisfied(
    client: TestClient,
    db: Session,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    agent = make_user(Role.AGENT)
    boss = headers["supervisor"]
    client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 60},
        headers=boss,
    )
    completed_orders(
        db,
        count=10,
        start=MONDAY - timedelta(hours=3),
        span=timedelta(minutes=30),
        stations=1,
        engineers_per_station=1,
    )
    campaign_id = _campaign(db, sampling_ratio=0.5, stratify_by=[])
    campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    tasks = db.exec(
        select(OutboundTask)
        .where(OutboundTask.campaign_id == campaign_id)
        .order_by(OutboundTask.id)  # type: ignore[arg-type]
    ).all()
    mine = bearer(agent)
    for task, answer in zip(
        tasks,
        [
            {"outcome": "score_given", "score": 5},
            {"outcome": "score_given", "score": 2},
            {"outcome": "busy"},
        ],
        strict=False,
    ):
        client.post(f"/api/tasks/{task.id}/outcome", json=answer, headers=mine)

    report = client.get(f"/api/campaigns/{campaign_id}/report", headers=boss)
    book = client.get(f"/api/campaigns/{campaign_id}/report?format=xlsx", headers=boss)

    assert report.status_code == 200, report.text
    [overall] = report.json()["sections"][0]["rows"]
    # eligible, sampled, scheduled, attempted, reached, scored, mean, satisfied share
    assert overall[1:] == [10, 5, 5, 3, 2, 2, 3.5, 0.5]
    by_station = report.json()["sections"][1]
    assert by_station["title"] == "by station"
    assert [row[1:3] for row in by_station["rows"]] == [[10, 5]]
    assert book.status_code == 200
    assert "filename*=UTF-8''campaign-%E5%9B%9E%E8%AE%BF" in book.headers["content-disposition"]
    assert load_workbook(BytesIO(book.content)).sheetnames[:2] == ["campaign", "by station"]


def test_the_campaign_report_counts_the_customers_who_gave_each_score_and_desks_are_told(
    client: TestClient,
    db: Session,
    bus: Any,
    headers: dict[str, dict[str, str]],
    make_user: Any,
) -> None:
    agent = make_user(Role.AGENT)
    boss = headers["supervisor"]
    client.put(
        f"/api/agents/{agent.id}/calendar",
        json={"weekly_hours": WEEK, "capacity_per_hour": 60},
        headers=boss,
    )
    completed_orders(
        db, count=6, start=MONDAY - timedelta(hours=3), span=timedelta(minutes=30), stations=1
    )
    campaign_id = _campaign(db, sampling_ratio=1.0, stratify_by=[])
    campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    tasks = db.exec(
        select(OutboundTask)
        .where(OutboundTask.campaign_id == campaign_id)
        .order_by(OutboundTask.id)  # type: ignore[arg-type]
    ).all()
    answers = [
        {"outcome": "score_given", "score": 5},
        {"outcome": "score_given", "score": 5},
        {"outcome": "score_given", "score": 4},
        {"outcome": "score_given", "score": 1},
        {"outcome": "no_answer"},
    ]
    mine = bearer(agent)
    for task, answer in zip(tasks, answers, strict=False):
        recorded = client.post(f"/api/tasks/{task.id}/outcome", json=answer, headers=mine)
        assert recorded.status_code == 200, recorded.text

    report = client.get(f"/api/campaigns/{campaign_id}/report", headers=boss)
    book = client.get(f"/api/campaigns/{campaign_id}/report?format=xlsx", headers=boss)

    assert report.status_code == 200, report.text
    scores = report.json()["sections"][-1]
    assert scores["title"] == "scores"
    assert scores["columns"] == ["score", "scored"]
    assert scores["rows"] == [[1, 1], [2, 0], [3, 0], [4, 1], [5, 2]]
    [overall] = report.json()["sections"][0]["rows"]
    assert overall[6] == sum(count for _score, count in scores["rows"])
    assert "scores" in load_workbook(BytesIO(book.content)).sheetnames
    told = [
        json.loads(fields["data"])
        for _id, fields in bus.xrange(EVENTS_STREAM)
        if fields["name"] == "campaign.progressed"
    ]
    # The planning run, then one for each outcome recorded.
    assert [event["task_id"] for event in told] == [None] + [task.id for task in tasks[:5]]
    assert {event["campaign_id"] for event in told} == {campaign_id}


def test_a_callback_whose_window_closed_unmade_fails_and_its_order_can_be_settled(
    db: Session,
) -> None:
    [order] = completed_orders(
        db, count=1, start=MONDAY - timedelta(hours=3), span=timedelta(minutes=1)
    )
    campaign_id = _campaign(db, sampling_ratio=1.0)
    campaigns.plan_campaign(db, campaign_id, now=MONDAY)
    [task] = db.exec(select(OutboundTask).where(OutboundTask.campaign_id == campaign_id)).all()
    assert task.status == "unplaced", "no agent has a calendar here"

    campaigns.plan_active(db, now=MONDAY + timedelta(hours=44))
    db.refresh(task)
    kept = (task.status, task.outcome)
    campaigns.plan_active(db, now=MONDAY + timedelta(hours=46))
    db.refresh(task)
    row = db.get(WorkOrder, order.order_id)

    assert kept == ("unplaced", None), "open while its window lasts"
    assert (task.status, task.outcome) == ("failed", "window_closed")
    assert row is not None and row.callback_state == "done"
