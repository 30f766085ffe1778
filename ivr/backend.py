"""What the IVR does to the world, backed by the database (the engine's Backend)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from callbacks.services import request_callback
from core.types import Clock
from orders.enums import Channel, OrderType, Role, ServiceMode
from orders.models import WorkOrder
from orders.schemas import Actor, OrderCreate
from orders.services.work_orders import create_order
from orders.states import OPEN_STATES

IVR_ACTOR = Actor(id=None, name="ivr", role=Role.AGENT)


class DatabaseBackend:
    def __init__(
        self, session: Session, *, phone: str, callers: Sequence[int], clock: Clock
    ) -> None:
        """``callers``: the customers the caller's number named when the call arrived."""
        self.session = session
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
                fault_description=description,
            ),
            actor=IVR_ACTOR,
            clock=self.clock,
        )
        self.created_order_id = order.id
        return order.number

    def order_status(
        self, *, customer_id: int | None, number: str | None
    ) -> tuple[str, str] | None:
        query = select(WorkOrder.number, WorkOrder.status)
        if number is not None:
            # Callers key in the digits of "WO2026112200000123", and hear only their own
            # orders: those of the customer recognised, or of a customer with this phone.
            query = query.where(WorkOrder.number == f"WO{number}")
            if customer_id is not None:
                query = query.where(WorkOrder.customer_id == customer_id)
            else:
                query = query.where(col(WorkOrder.customer_id).in_(self.callers))
        elif customer_id is not None:
            query = query.where(
                WorkOrder.customer_id == customer_id, col(WorkOrder.status).in_(OPEN_STATES)
            ).order_by(col(WorkOrder.created_at).desc())
        else:
            return None
        row = self.session.exec(query.limit(1)).first()
        return None if row is None or row[0] is None else (row[0], str(row[1]))

    def book_callback(self, *, call_id: str, customer_id: int | None, band: str) -> None:
        request_callback(
            self.session,
            customer_id=customer_id,
            phone=self.phone,
            band=band,
            call_id=call_id,
            clock=self.clock,
        )
