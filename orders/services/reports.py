"""Reports over work orders and complaints: how fast stations answer and repair, what is
left open and for how long, what customers complain about.

Each report is a plain list of rows (the API's JSON); ``orders.report_book`` renders the
same rows as a workbook. Times are read from the orders' own history (the first move into
each state), so a report can be run for any past period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from orders.calendar import HOTLINE_ZONE
from orders.enums import (
    ComplaintStatus,
    Milestone,
    MilestoneState,
    OrderStatus,
    ReportGrouping,
    ReportPeriod,
)
from orders.exceptions import InvalidReportRequest
from orders.models import (
    Appliance,
    Complaint,
    Engineer,
    OrderTransition,
    SlaClockRow,
    Station,
    WorkOrder,
)
from orders.schemas import (
    AgeBucketRow,
    AttainmentRow,
    ComplaintRow,
    Report,
    ReportSection,
    TimesRow,
)
from orders.states import OPEN_STATES

MAX_REPORT_DAYS = 366
WHOLE_RANGE = "all"
"""The period label of rows that are not split by day, week or month."""
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("0-1d", timedelta(days=1)),
    ("1-2d", timedelta(days=2)),
    ("2-5d", timedelta(days=5)),
    ("5-10d", timedelta(days=10)),
    (">10d", None),
)
"""Open orders by age: the 5-day line is the spec's repair deadline (报修5天内)."""


def check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidReportRequest(
            "from and to need a time zone (e.g. 2026-11-01T00:00:00+08:00)",
            details={"from": start.isoformat(), "to": end.isoformat()},
        )
    if end <= start:
        raise InvalidReportRequest(
            "to must be after from", details={"from": start.isoformat(), "to": end.isoformat()}
        )
    if end - start > timedelta(days=MAX_REPORT_DAYS):
        raise InvalidReportRequest(
            f"a report covers at most {MAX_REPORT_DAYS} days",
            details={"from": start.isoformat(), "to": end.isoformat()},
        )


def response_and_resolution(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    group_by: ReportGrouping,
    period: ReportPeriod | None = None,
) -> list[TimesRow]:
    """Mean hours from the report to the station's acknowledgement (response) and to the
    repair's completion (resolution), for orders reported in [start, end), per group."""
    check_period(start, end)
    first = _first_entries(session, start, end, (OrderStatus.ACCEPTED, OrderStatus.COMPLETED))
    # Five columns: past what sqlmodel's typed select spells, so SQLAlchemy's own.
    rows = session.execute(
        sa_select(
            col(WorkOrder.id),
            col(WorkOrder.created_at),
            col(WorkOrder.station_id),
            col(WorkOrder.engineer_id),
            col(Appliance.category),
        )
        .join(Appliance, col(Appliance.id) == col(WorkOrder.appliance_id), isouter=True)
        .where(col(WorkOrder.created_at) >= start, col(WorkOrder.created_at) < end)
    ).all()
    label = _labeller(session, group_by)
    groups: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(
        lambda: {"orders": [], "response": [], "resolution": []}
    )
    for order_id, created_at, station_id, engineer_id, category in rows:
        key_value = {
            ReportGrouping.STATION: station_id,
            ReportGrouping.ENGINEER: engineer_id,
            ReportGrouping.CATEGORY: category.value if category else None,
        }[group_by]
        bucket = _period_label(created_at, period) if period else WHOLE_RANGE
        figures = groups[(label(key_value), bucket)]
        figures["orders"].append(1)
        for state, name in (
            (OrderStatus.ACCEPTED, "response"),
            (OrderStatus.COMPLETED, "resolution"),
        ):
            reached = first.get((order_id, state))
            if reached is not None:
                figures[name].append((reached - created_at).total_seconds() / 3600)
    return [
        TimesRow(
            group=group,
            period=bucket,
            orders=len(figures["orders"]),
            responded=len(figures["response"]),
            mean_response_hours=_mean(figures["response"]),
            resolved=len(figures["resolution"]),
            mean_resolution_hours=_mean(figures["resolution"]),
        )
        for (group, bucket), figures in sorted(groups.items())
    ]


def open_orders_by_age(session: Session, *, now: datetime) -> list[AgeBucketRow]:
    """Open orders now, per station, counted into age buckets since the report."""
    rows = session.exec(
        select(WorkOrder.station_id, WorkOrder.created_at).where(
            col(WorkOrder.status).in_(sorted(OPEN_STATES))
        )
    ).all()
    label = _labeller(session, ReportGrouping.STATION)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_bucket_names(), 0))
    for station_id, created_at in rows:
        counts[label(station_id)][_bucket(now - created_at)] += 1
    return [
        AgeBucketRow(group=group, buckets=buckets, total=sum(buckets.values()))
        for group, buckets in sorted(counts.items())
    ]


def complaints_by_topic(session: Session, *, start: datetime, end: datetime) -> list[ComplaintRow]:
    check_period(start, end)
    rows = session.exec(
        select(Complaint.topic, Complaint.crisis_level, Complaint.status, func.count())
        .where(col(Complaint.created_at) >= start, col(Complaint.created_at) < end)
        .group_by(col(Complaint.topic), col(Complaint.crisis_level), col(Complaint.status))
    ).all()
    merged: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"total": 0, "open": 0})
    for topic, level, status, count in rows:
        figures = merged[(topic, str(level))]
        figures["total"] += count
        if status == ComplaintStatus.OPEN:
            figures["open"] += count
    return [
        ComplaintRow(topic=topic, crisis_level=level, total=f["total"], open=f["open"])
        for (topic, level), f in sorted(merged.items())
    ]


def sla_attainment(session: Session, *, start: datetime, end: datetime) -> list[AttainmentRow]:
    """Per milestone, of those that fell due in [start, end): how many were met on time,
    met late, or are still open past due; stopped ones (cancelled orders) do not count."""
    check_period(start, end)
    rows = session.exec(
        select(SlaClockRow).where(
            col(SlaClockRow.due_at) >= start,
            col(SlaClockRow.due_at) < end,
            SlaClockRow.state != MilestoneState.STOPPED,
        )
    ).all()
    figures: dict[Milestone, Counter[str]] = {kind: Counter() for kind in Milestone}
    for row in rows:
        met = row.met_at is not None
        # Met before its due moment (and never marked breached) is met on time.
        on_time = row.state is MilestoneState.MET
        figures[row.kind]["due"] += 1
        figures[row.kind]["on_time" if on_time else "late" if met else "open"] += 1
    return [
        AttainmentRow(
            milestone=kind,
            due=counts["due"],
            met_on_time=counts["on_time"],
            met_late=counts["late"],
            missed_open=counts["open"],
            attainment=round(counts["on_time"] / counts["due"], 4) if counts["due"] else None,
        )
        for kind, counts in figures.items()
    ]


def sla_report(session: Session, *, start: datetime, end: datetime, now: datetime) -> Report:
    """SLA attainment per milestone, then response and resolution times."""
    attainment = sla_attainment(session, start=start, end=end)
    first = ReportSection(
        title="sla attainment",
        columns=["milestone", "due", "met on time", "met late", "missed, open", "attainment"],
        rows=[
            [r.milestone.value, r.due, r.met_on_time, r.met_late, r.missed_open, r.attainment]
            for r in attainment
        ],
    )
    times = times_report(session, start=start, end=end, period=None, now=now)
    return Report(
        name="sla", start=start, end=end, generated_at=now, sections=[first, *times.sections]
    )


def times_report(
    session: Session, *, start: datetime, end: datetime, period: ReportPeriod | None, now: datetime
) -> Report:
    """Response and resolution times by station, engineer and appliance category."""
    columns = [
        "group",
        "period",
        "orders",
        "responded",
        "mean response (h)",
        "resolved",
        "mean resolution (h)",
    ]
    sections = []
    for grouping in ReportGrouping:
        rows = response_and_resolution(
            session, start=start, end=end, group_by=grouping, period=period
        )
        sections.append(
            ReportSection(
                title=f"times by {grouping.value}",
                columns=columns,
                rows=[
                    [
                        r.group,
                        r.period,
                        r.orders,
                        r.responded,
                        r.mean_response_hours,
                        r.resolved,
                        r.mean_resolution_hours,
                    ]
                    for r in rows
                ],
            )
        )
    return Report(name="times", start=start, end=end, generated_at=now, sections=sections)


def open_orders_report(session: Session, *, now: datetime) -> Report:
    rows = open_orders_by_age(session, now=now)
    return Report(
        name="open orders by age",
        start=now,
        end=now,
        generated_at=now,
        sections=[
            ReportSection(
                title="open orders by age",
                columns=["station", *_bucket_names(), "total"],
                rows=[[r.group, *r.buckets.values(), r.total] for r in rows],
            )
        ],
    )


def complaints_report(session: Session, *, start: datetime, end: datetime, now: datetime) -> Report:
    rows = complaints_by_topic(session, start=start, end=end)
    return Report(
        name="complaints",
        start=start,
        end=end,
        generated_at=now,
        sections=[
            ReportSection(
                title="complaints by topic and level",
                columns=["topic", "crisis level", "total", "open"],
                rows=[[r.topic, r.crisis_level, r.total, r.open] for r in rows],
            )
        ],
    )


def _first_entries(
    session: Session, start: datetime, end: datetime, states: Iterable[OrderStatus]
) -> dict[tuple[int, OrderStatus], datetime]:
    """When each order reported in [start, end) first entered each of ``states``."""
    rows = session.exec(
        select(OrderTransition.order_id, OrderTransition.to_status, func.min(OrderTransition.at))
        .join(WorkOrder, col(WorkOrder.id) == col(OrderTransition.order_id))
        .where(
            col(WorkOrder.created_at) >= start,
            col(WorkOrder.created_at) < end,
            col(OrderTransition.to_status).in_(sorted(states)),
        )
        .group_by(col(OrderTransition.order_id), col(OrderTransition.to_status))
    ).all()
    return {(order_id, OrderStatus(state)): _utc(at) for order_id, state, at in rows}


def _utc(moment: datetime) -> datetime:
    # SQLite hands back aggregates as naive text-parsed values; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _labeller(session: Session, group_by: ReportGrouping) -> Callable[[Any], str]:
    if group_by is ReportGrouping.STATION:
        names = {s.id: f"{s.code} {s.name}" for s in session.exec(select(Station)).all()}
        return lambda key: names.get(key, "(unassigned)")
    if group_by is ReportGrouping.ENGINEER:
        names = {e.id: e.name for e in session.exec(select(Engineer)).all()}
        return lambda key: names.get(key, "(no engineer)")
    return lambda key: key or "(no appliance)"


def _period_label(moment: datetime, period: ReportPeriod) -> str:
    local = moment.astimezone(HOTLINE_ZONE)
    if period is ReportPeriod.DAY:
        return local.strftime("%Y-%m-%d")
    if period is ReportPeriod.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def _bucket_names() -> list[str]:
    return [name for name, _ in AGE_BUCKETS]


def _bucket(age: timedelta) -> str:
    for name, limit in AGE_BUCKETS:
        if limit is None or age < limit:
            return name
    raise AssertionError("the last bucket has no limit")


def _mean(values: list[float]) -> float | None:
    return round(fmean(values), 2) if values else None
