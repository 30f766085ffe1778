"""What the IVR does to the world, backed by the database: the IVR engine's ``Backend``
port, implemented here on the public services of ``orders`` and ``callbacks`` so that the
IVR itself stays a pure engine that reaches neither."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlmodel import Session

from callbacks import free_callback_slots, request_callback, survey_answered
from core.text import without_controls
from core.types import Clock
from orders import (
    FAULT_DESCRIPTION_MAX_LENGTH,
    Actor,
    Channel,
    OrderCreate,
    OrderType,
    Role,
    ServiceMode,
    create_order,
    order_status_for_caller,
)

log = structlog.get_logger(__name__)
IVR_ACTOR = Actor(id=None, name="ivr", role=Role.AGENT)


def fault_text(speech: str) -> str:
    """What a caller said, as an order's fault description: control characters a
    recogniser (or a forged webhook) may carry dropped, and cut to the order's limit, so
    that the caller's report is logged rather than refused while they listen."""
    return without_controls(speech).strip()[:FAULT_DESCRIPTION_MAX_LENGTH]


class DatabaseBackend:
    def __init__(
        self,
        session: Session,
        *,
        phone: str,
        callers: Sequence[int],
        task_id: int | None = None,
        region: str = "CN",
        turn_key: str | None = None,
        clock: Clock,
    ) -> None:
        """``callers``: the customers the caller's number named when the call arrived;
        ``task_id``: the outbound task a call we placed is for; ``turn_key``: names the
        caller's input this backend acts on, the same for the same input sent again (a
        provider's retry), so that the order it logs is logged once."""
        self.session = session
        self.turn_key = turn_key
        self.task_id = task_id
        self.region = region
        self.phone = phone
        self.callers = list(callers)
        self.clock = clock
        self.created_order_id: int | None = None

    def now(self) -> datetime:
        return self.clock()

    def create_repair(self, *, customer_id: int, appliance_id: int, description: str) -> str:
        order = create_order(
            self.session,
            data=OrderCreate(
                customer_id=customer_id,
                appliance_id=appliance_id,
                order_type=OrderType.REPAIR,
                service_mode=ServiceMode.ON_SITE,
                channel=Channel.IVR,
                fault_description=fault_text(description),
            ),
            actor=IVR_ACTOR,
            request_key=self.turn_key,
            clock=self.clock,
        )
        self.created_order_id = order.id
        return order.number

    def order_status(
        self, *, customer_id: int | None, number: str | None
    ) -> tuple[str, str] | None:
        found = order_status_for_caller(
            self.session, customer_id=customer_id, number=number, callers=self.callers
        )
        return None if found is None else (found[0], found[1].value)

    def book_callback(self, *, call_id: str, customer_id: int | None, band: str) -> None:
        request_callback(
            self.session,
            customer_id=customer_id,
            phone=self.phone,
            band=band,
            call_id=call_id,
            region=self.region,
            clock=self.clock,
        )

    def callback_slots(self, *, customer_id: int | None, count: int) -> list[datetime]:
        return free_callback_slots(
            self.session, customer_id=customer_id, count=count, now=self.clock()
        )

    def book_callback_at(self, *, call_id: str, customer_id: int | None, at: datetime) -> None:
        request_callback(
            self.session,
            customer_id=customer_id,
            phone=self.phone,
            at=at,
            call_id=call_id,
            region=self.region,
            clock=self.clock,
        )

    def record_survey(self, *, call_id: str, answers: dict[str, str]) -> None:
        if self.task_id is None:
            log.warning("survey answers on a call placed for no task", call=call_id)
            return
        survey_answered(self.session, self.task_id, answers, now=self.clock())
