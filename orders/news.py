"""News about an order that packages above orders act on, in the same transaction: the
outbound engine tells the customer a visit is booked, or that the repair takes longer.
Listeners are installed by the composition root, as status listeners are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from orders.models import WorkOrder


class NewsKind(StrEnum):
    VISIT_BOOKED = "visit_booked"
    """A visit window was agreed (or moved): ``about`` is when it starts."""
    VISIT_OFF = "visit_off"
    """The standing visit will not happen (missed, or the order left the visit behind)."""
    REPAIR_EXTENDED = "repair_extended"
    """The station filed why a late repair takes longer (延长维修周期)."""


@dataclass(frozen=True)
class OrderNews:
    kind: NewsKind
    order: WorkOrder
    now: datetime
    about: datetime | None = None


NewsListener = Callable[[Session, OrderNews], None]
_LISTENERS: list[NewsListener] = []


def add_news_listener(listener: NewsListener) -> None:
    """Installed by the composition root."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def tell(session: Session, news: OrderNews) -> None:
    """Hand the news to every listener; they write in the caller's transaction."""
    for listener in _LISTENERS:
        listener(session, news)
