"""Booking callback requests."""

from __future__ import annotations

from sqlmodel import Session

from callbacks.models import CallbackRequest
from core.types import Clock


def request_callback(
    session: Session,
    *,
    customer_id: int | None,
    phone: str,
    band: str,
    call_id: str | None = None,
    clock: Clock,
) -> CallbackRequest:
    request = CallbackRequest(
        customer_id=customer_id, phone=phone, band=band, call_id=call_id, requested_at=clock()
    )
    session.add(request)
    session.commit()
    return request
