"""Telling customers where their repair stands (通知提示): a text when the order waits for
parts, when the parts arrive, when the repair is done, when a late repair takes longer
(延长维修周期), when a part they ordered has arrived (订购件到货), and the day before an
agreed visit; each sent inside the customer's calling hours and kept with its time, so an
order's notices can be counted."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from callbacks.enums import AssigneeKind, CampaignMode, TaskPurpose, TaskStatus
from callbacks.models import ContactPreference, OutboundTask
from callbacks.schemas import NoticePublic
from callbacks.services import calendars, tasks
from orders import (
    Customer,
    NewsKind,
    OrderNews,
    OrderStatus,
    WorkOrder,
    first_phone,
    standing_visit,
)
from parts import arrived_part_orders

NOTICE_WINDOW = timedelta(hours=24)
"""A notice not sent within a day (the customer could not be texted) is news no more."""
REMIND_BEFORE = timedelta(hours=24)
"""A visit is recalled to the customer from a day before it."""
REMIND_UNTIL = timedelta(hours=1)
"""...and not in its last hour, when the engineer is already on the way."""
VISIT_OVER = (OrderStatus.COMPLETED, OrderStatus.CLOSED, OrderStatus.CANCELLED)


def purpose_of(previous: OrderStatus, current: OrderStatus) -> TaskPurpose | None:
    if current is OrderStatus.WAITING_PARTS:
        return TaskPurpose.NOTICE_WAITING_PARTS
    if previous is OrderStatus.WAITING_PARTS:
        return TaskPurpose.NOTICE_PARTS_ARRIVED
    if current is OrderStatus.COMPLETED:
        return TaskPurpose.NOTICE_REPAIRED
    return None


def notice_on_status_change(
    session: Session, order: WorkOrder, previous: OrderStatus, now: datetime
) -> None:
    """Installed as an orders status listener: queue the text the change calls for, due
    at the first moment the customer's calling hours allow; an order whose visits are over
    needs no reminder of one. Does not commit."""
    if order.status in VISIT_OVER:
        _cancel_reminders(session, order, now)
    purpose = purpose_of(previous, order.status)
    if purpose is not None:
        queue_notice(session, order, purpose, now=now)


def notice_on_news(session: Session, news: OrderNews) -> None:
    """Installed as an orders news listener: a booked visit is recalled the day before (a
    moved one replaces its reminder), a visit that will not happen is not, and a late
    repair's longer period is told. Does not commit."""
    order = news.order
    if news.kind is NewsKind.REPAIR_EXTENDED:
        queue_notice(session, order, TaskPurpose.NOTICE_REPAIR_EXTENDED, now=news.now)
        return
    _cancel_reminders(session, order, news.now)
    if news.kind is NewsKind.VISIT_BOOKED and news.about is not None:
        queue_notice(
            session,
            order,
            TaskPurpose.APPOINTMENT_REMINDER,
            now=news.now,
            earliest=max(news.now, news.about - REMIND_BEFORE),
            deadline=news.about - REMIND_UNTIL,
        )


def notify_arrived_part_orders(session: Session, *, now: datetime) -> int:
    """Tell each customer whose ordered part now waits at the station (once per part
    order, however often this runs); the number queued. Commits."""
    told = set(
        session.exec(
            select(OutboundTask.subject).where(
                OutboundTask.purpose == TaskPurpose.NOTICE_ORDERED_PART_ARRIVED
            )
        ).all()
    )
    queued = 0
    for part_order_id, order_id in arrived_part_orders(session):
        subject = f"part_order:{part_order_id}"
        order = session.get(WorkOrder, order_id)
        if subject in told or order is None:
            continue
        queued += queue_notice(
            session, order, TaskPurpose.NOTICE_ORDERED_PART_ARRIVED, now=now, subject=subject
        )
    session.commit()
    return queued


def _cancel_reminders(session: Session, order: WorkOrder, now: datetime) -> None:
    tasks.cancel_waiting(
        session,
        (col(OutboundTask.order_id) == order.id)
        & (col(OutboundTask.purpose) == TaskPurpose.APPOINTMENT_REMINDER),
        outcome="visit_changed",
        now=now,
    )


def queue_notice(
    session: Session,
    order: WorkOrder,
    purpose: TaskPurpose,
    *,
    now: datetime,
    earliest: datetime | None = None,
    deadline: datetime | None = None,
    subject: str | None = None,
    assignee_kind: AssigneeKind = AssigneeKind.DIALER,
    mode: CampaignMode = CampaignMode.SMS_NOTICE,
    station_id: int | None = None,
    max_attempts: int = 1,
) -> int:
    """Queue one contact with the order's customer (a text, by default), due at the first
    moment in [earliest, deadline) their calling hours allow (from now, for a day, by
    default); kept unplaced, with the reason, when none does. 0 when the customer has no
    phone or the window has already closed. Does not commit."""
    phone = first_phone(session, order.customer_id)
    earliest = earliest or now
    deadline = deadline or earliest + NOTICE_WINDOW
    if phone is None or deadline <= earliest:
        return 0
    hours = calendars.calling_hours(session.get(ContactPreference, order.customer_id))
    due = calendars.first_allowed(hours, earliest, deadline)
    customer = session.get(Customer, order.customer_id)
    session.add(
        OutboundTask(
            purpose=purpose,
            order_id=order.id,
            customer_id=order.customer_id,
            phone=phone,
            earliest_at=earliest,
            deadline_at=deadline,
            assignee_kind=assignee_kind,
            station_id=station_id,
            mode=mode,
            language=customer.preferred_language if customer else None,
            status=TaskStatus.SCHEDULED if due else TaskStatus.UNPLACED,
            due_at=due,
            unplaced_reason="" if due else f"no calling hours before {deadline:%Y-%m-%d %H:%M} UTC",
            max_attempts=max_attempts,
            subject=subject,
            created_by=purpose.value,
            created_at=now,
            updated_at=now,
        )
    )
    return 1


TEXTS: dict[str, dict[TaskPurpose, str]] = {
    "zh": {
        TaskPurpose.NOTICE_WAITING_PARTS: "【家电售后】您的工单{number}正在等待配件，"
        "到货后我们将尽快与您联系。",
        TaskPurpose.NOTICE_PARTS_ARRIVED: "【家电售后】您的工单{number}所需配件已到，"
        "服务人员将与您预约上门时间。",
        TaskPurpose.NOTICE_REPAIRED: "【家电售后】您的工单{number}已维修完成，感谢您的耐心等待。",
        TaskPurpose.NOTICE_REPAIR_EXTENDED: "【家电售后】很抱歉，您的工单{number}维修周期需要延长，"
        "我们会尽快完成维修，并随时告知您进展。",
        TaskPurpose.NOTICE_ORDERED_PART_ARRIVED: "【家电售后】您在工单{number}中订购的配件已到货，"
        "请到服务网点取件。",
        TaskPurpose.APPOINTMENT_REMINDER: "【家电售后】提醒：服务人员将于{visit}上门服务"
        "（工单{number}），如需改约请致电热线。",
    },
    "en": {
        TaskPurpose.NOTICE_WAITING_PARTS: "Appliance service: order {number} is waiting for "
        "parts; we will contact you when they arrive.",
        TaskPurpose.NOTICE_PARTS_ARRIVED: "Appliance service: the parts for order {number} "
        "have arrived; an engineer will call to book a visit.",
        TaskPurpose.NOTICE_REPAIRED: "Appliance service: the repair of order {number} is "
        "done. Thank you for your patience.",
        TaskPurpose.NOTICE_REPAIR_EXTENDED: "Appliance service: we are sorry, the repair of "
        "order {number} will take longer. We will finish it as soon as we can and keep you "
        "informed.",
        TaskPurpose.NOTICE_ORDERED_PART_ARRIVED: "Appliance service: the part you ordered "
        "with order {number} has arrived; you can collect it at the service station.",
        TaskPurpose.APPOINTMENT_REMINDER: "Appliance service: reminder, our engineer visits "
        "{visit} (order {number}). Call the hotline to change it.",
    },
}


def notice_text(session: Session, task_id: int, language: str) -> str:
    task = session.get(OutboundTask, task_id)
    assert task is not None and task.order_id is not None
    order = session.get(WorkOrder, task.order_id)
    number = order.number if order and order.number else str(task.order_id)
    visit = ""
    if task.purpose is TaskPurpose.APPOINTMENT_REMINDER:
        hours = calendars.calling_hours(session.get(ContactPreference, task.customer_id or 0))
        visit = _visit_window(session, task.order_id, hours.zone, language)
    return TEXTS[language][task.purpose].format(number=number, visit=visit)


def _visit_window(session: Session, order_id: int, zone: ZoneInfo, language: str) -> str:
    """The standing visit in the customer's own time: 12月5日 09:00-11:00."""
    visit = standing_visit(session, order_id)
    if visit is None:
        return ""
    start, end = visit.window_start.astimezone(zone), visit.window_end.astimezone(zone)
    if language == "zh":
        return f"{start.month}月{start.day}日 {start:%H:%M}-{end:%H:%M}"
    return f"on {start:%d %b} between {start:%H:%M} and {end:%H:%M}"


def order_notices(session: Session, order_id: int) -> list[NoticePublic]:
    """The notices of an order, oldest first, with when each was sent."""
    rows = session.exec(
        select(OutboundTask)
        .where(
            OutboundTask.order_id == order_id,
            col(OutboundTask.mode) == CampaignMode.SMS_NOTICE,
        )
        .order_by(col(OutboundTask.created_at), col(OutboundTask.id))
    ).all()
    return [
        NoticePublic(
            purpose=row.purpose,
            status=row.status,
            queued_at=row.created_at,
            sent_at=row.last_attempt_at if row.outcome == "reached" else None,
            outcome=row.outcome,
        )
        for row in rows
    ]
