"""Telling customers where their repair stands (通知提示): a text when the order waits for
parts, when the parts arrive and when the repair is done, sent inside the customer's
calling hours; each notice is kept with its time, so an order's notices can be counted."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from callbacks.enums import AssigneeKind, CampaignMode, TaskPurpose, TaskStatus
from callbacks.models import ContactPreference, OutboundTask
from callbacks.schemas import NoticePublic
from callbacks.services import calendars
from orders import Customer, OrderStatus, WorkOrder, first_phone

NOTICE_WINDOW = timedelta(hours=24)
"""A notice not sent within a day (the customer could not be texted) is news no more."""


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
    at the first moment the customer's calling hours allow. Does not commit."""
    purpose = purpose_of(previous, order.status)
    phone = first_phone(session, order.customer_id) if purpose else None
    if purpose is None or phone is None:
        return
    hours = calendars.calling_hours(session.get(ContactPreference, order.customer_id))
    deadline = now + NOTICE_WINDOW
    due = calendars.first_allowed(hours, now, deadline)
    customer = session.get(Customer, order.customer_id)
    session.add(
        OutboundTask(
            purpose=purpose,
            order_id=order.id,
            customer_id=order.customer_id,
            phone=phone,
            earliest_at=now,
            deadline_at=deadline,
            assignee_kind=AssigneeKind.DIALER,
            mode=CampaignMode.SMS_NOTICE,
            language=customer.preferred_language if customer else None,
            status=TaskStatus.SCHEDULED if due else TaskStatus.UNPLACED,
            due_at=due,
            unplaced_reason="" if due else f"no calling hours before {deadline:%Y-%m-%d %H:%M} UTC",
            max_attempts=1,
            created_by="notices",
            created_at=now,
            updated_at=now,
        )
    )


TEXTS: dict[str, dict[TaskPurpose, str]] = {
    "zh": {
        TaskPurpose.NOTICE_WAITING_PARTS: "【家电售后】您的工单{number}正在等待配件，"
        "到货后我们将尽快与您联系。",
        TaskPurpose.NOTICE_PARTS_ARRIVED: "【家电售后】您的工单{number}所需配件已到，"
        "服务人员将与您预约上门时间。",
        TaskPurpose.NOTICE_REPAIRED: "【家电售后】您的工单{number}已维修完成，感谢您的耐心等待。",
    },
    "en": {
        TaskPurpose.NOTICE_WAITING_PARTS: "Appliance service: order {number} is waiting for "
        "parts; we will contact you when they arrive.",
        TaskPurpose.NOTICE_PARTS_ARRIVED: "Appliance service: the parts for order {number} "
        "have arrived; an engineer will call to book a visit.",
        TaskPurpose.NOTICE_REPAIRED: "Appliance service: the repair of order {number} is "
        "done. Thank you for your patience.",
    },
}


def notice_text(session: Session, task_id: int, language: str) -> str:
    task = session.get(OutboundTask, task_id)
    assert task is not None and task.order_id is not None
    order = session.get(WorkOrder, task.order_id)
    number = order.number if order and order.number else str(task.order_id)
    return TEXTS[language][task.purpose].format(number=number)


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
