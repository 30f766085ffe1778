"""Callbacks booked by callers (in the IVR, or when the queue overflowed): outbound tasks
for any agent, placed in the calendars like every other."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session, select

from callbacks import scheduling
from callbacks.enums import AssigneeKind, CampaignMode, TaskPurpose
from callbacks.models import ContactPreference, OutboundTask
from callbacks.services import calendars
from core.types import Clock
from orders import HOTLINE_ZONE, Customer, try_normalize_phone

BOOKED_PRIORITY = 10
"""A customer who asked to be called back goes before a campaign's survey calls."""
SLOT_WINDOW = timedelta(hours=1)
"""A time the caller picked is kept within this: the first free slot from it."""
OFFER_AHEAD = (timedelta(minutes=10), timedelta(days=7))
"""Times offered to a caller start this soon and reach this far."""


def request_callback(
    session: Session,
    *,
    customer_id: int | None,
    phone: str,
    band: str | None = None,
    at: datetime | None = None,
    call_id: str | None = None,
    region: str = "CN",
    clock: Clock,
) -> OutboundTask:
    """Book a callback at a time the caller picked (``at``) or in a band of the day
    (``09:00-12:00``, the next time that band comes round, in the hotline's zone), and
    place it in an agent's calendar; without a free slot it waits, reported unplaced.

    One a call: a call's booking asked again (the channel's retry of a request that
    failed after the booking was kept) is the booking already made."""
    if call_id is not None:
        booked = session.exec(
            select(OutboundTask).where(
                OutboundTask.call_id == call_id,
                OutboundTask.purpose == TaskPurpose.BOOKED_CALLBACK,
            )
        ).first()
        if booked is not None:
            return booked
    now = clock()
    if at is not None:
        earliest, deadline = at, at + SLOT_WINDOW
    else:
        assert band is not None, "a callback is booked at a time or in a band"
        earliest, deadline = band_window(band, now)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    return calendars.add_and_place(
        session,
        OutboundTask(
            purpose=TaskPurpose.BOOKED_CALLBACK,
            customer_id=customer_id,
            phone=try_normalize_phone(phone, default_region=region) or phone[:20],
            call_id=call_id,
            earliest_at=earliest,
            deadline_at=deadline,
            assignee_kind=AssigneeKind.TEAM,
            mode=CampaignMode.AGENT_CALL,
            language=customer.preferred_language if customer else None,
            priority=BOOKED_PRIORITY,
            note=f"booked for {band}" if band else "",
            created_by="ivr",
            created_at=now,
            updated_at=now,
        ),
        now=now,
    )


def band_window(band: str, now: datetime) -> tuple[datetime, datetime]:
    """The next [start, end) of a band like ``12:00-18:00`` in the hotline's zone: today's
    while it has not ended, else tomorrow's."""
    start_text, end_text = band.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    day = now.astimezone(HOTLINE_ZONE).date()
    for offset in (0, 1):
        low = datetime.combine(day + timedelta(days=offset), start, HOTLINE_ZONE)
        high = datetime.combine(day + timedelta(days=offset), end, HOTLINE_ZONE)
        if high > now:
            return max(low, now), high
    raise AssertionError("tomorrow's band always lies ahead")


def free_callback_slots(
    session: Session, *, customer_id: int | None, count: int, now: datetime
) -> list[datetime]:
    """Times an agent is free to call this customer back, one per hour at most (a caller
    is offered a choice, not three slots of the same hour), earliest first."""
    agents = calendars.load_agents(session)
    if not agents:
        return []
    preference = session.get(ContactPreference, customer_id) if customer_id else None
    found = scheduling.free_slots(
        agents,
        taken=calendars.taken_slots(session, now=now),
        hours=calendars.calling_hours(preference),
        start=now + OFFER_AHEAD[0],
        end=now + OFFER_AHEAD[1],
        limit=count * 60,
    )
    offered: list[datetime] = []
    hours_offered: set[datetime] = set()
    for moment in found:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        if hour not in hours_offered:
            hours_offered.add(hour)
            offered.append(moment)
        if len(offered) == count:
            break
    return offered
