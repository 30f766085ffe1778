"""`callcenter demo`: a data set a newcomer can log in to and find a living system in."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlmodel import Session, col, func, select

from callcenter.demo.seed import DemoReport, seed_demo
from orders.enums import ApplianceCategory, OrderStatus, Role
from orders.models import Appliance, Customer, CustomerPhone, WorkOrder
from orders.services.lookup import lookup_caller
from tests.conftest import TestClock, at, fixed_clock

pytestmark = pytest.mark.clock

NOW = at(2026, 5, 20, 9, 30)
CLI = Path(sys.executable).parent / "callcenter"


@pytest.fixture
def seeded(db: Session) -> DemoReport:
    return seed_demo(db, customers=30, seed=7, clock=fixed_clock(NOW))


def printed(report: DemoReport) -> str:
    console = Console(width=120)
    with console.capture() as capture:
        console.print(report.render())
    return capture.get()


def test_orders_in_every_state_over_the_last_sixty_days(db: Session, seeded: DemoReport) -> None:
    statuses = set(db.exec(select(WorkOrder.status).distinct()).all())
    assert statuses == set(OrderStatus)
    categories = set(db.exec(select(Appliance.category).distinct()).all())
    assert categories == set(ApplianceCategory)
    first_customer = db.exec(select(func.min(Customer.created_at))).one()
    first, last = db.exec(
        select(func.min(WorkOrder.created_at), func.max(WorkOrder.updated_at))
    ).one()
    assert NOW - timedelta(days=61) <= first_customer < NOW - timedelta(days=30)
    assert first_customer <= first < NOW - timedelta(days=7)
    assert last <= NOW


def test_printed_password_of_every_role_logs_in(client: TestClient, seeded: DemoReport) -> None:
    text = printed(seeded)
    for role in Role:
        user = next(u for u in seeded.users if u.role is role)
        assert user.password is not None
        assert user.username in text
        assert user.password in text
        response = client.post(
            "/api/auth/token", data={"username": user.username, "password": user.password}
        )
        assert response.status_code == 200, response.text
        me = client.get(
            "/api/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
        )
        assert me.json()["role"] == role.value


def test_seeded_numbers_pop_their_customers(
    db: Session, seeded: DemoReport, clock: TestClock
) -> None:
    phone = db.exec(
        select(CustomerPhone).where(CustomerPhone.label == "mobile").order_by(col(CustomerPhone.id))
    ).first()
    assert phone is not None
    # Dialled the way a caller's number arrives from a Chinese trunk: national, no +86.
    found = lookup_caller(db, phone=phone.e164.removeprefix("+86"), clock=fixed_clock(NOW))
    assert phone.customer_id in [card.id for card in found.customers]
    family_landline = db.exec(
        select(CustomerPhone.e164)
        .group_by(CustomerPhone.e164)
        .having(func.count(col(CustomerPhone.customer_id).distinct()) == 2)
    ).first()
    assert family_landline is not None
    assert len(lookup_caller(db, phone=family_landline, clock=clock).customers) == 2


def test_second_run_adds_nothing(db: Session, seeded: DemoReport) -> None:
    customers_before = db.exec(select(func.count()).select_from(Customer)).one()
    again = seed_demo(db, customers=30, seed=7, clock=fixed_clock(NOW))
    assert db.exec(select(func.count()).select_from(Customer)).one() == customers_before
    assert "already present" in printed(again)


def test_cli_seeds_an_embedded_install(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [str(CLI), "demo", "--customers", "20"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "demo-admin" in result.stdout
