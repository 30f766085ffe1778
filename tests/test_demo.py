"""`callcenter demo`: a data set a newcomer can log in to and find a living system in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlmodel import Session, col, func, select

from callcenter.demo.calls import DEMO_ACCOUNT_SID, TwilioStandIn, open_listener
from callcenter.demo.seed import DemoReport, seed_demo
from core.errors import ConfigurationError
from orders.enums import ApplianceCategory, OrderStatus, Role
from orders.models import Appliance, Customer, CustomerPhone, WorkOrder
from orders.services.lookup import lookup_caller
from telephony.twilio.rest import TwilioCalls
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


def test_a_default_port_in_use_gives_way_to_a_free_one_and_says_so() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        listener = open_listener("127.0.0.1", None, redis_shared=False, default=taken)
        with listener.socket:
            port = listener.socket.getsockname()[1]
        with pytest.raises(ConfigurationError) as asked_for:
            open_listener("127.0.0.1", taken, redis_shared=False)
    assert port != taken
    assert listener.base == f"http://127.0.0.1:{port}"
    assert listener.note == f"port {taken} is in use; the demo serves on {listener.base} instead"
    assert asked_for.value.message == f"port {taken} on 127.0.0.1 is in use; choose another --port"


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


def test_second_run_adds_nothing_and_says_how_to_reset_the_passwords(
    client: TestClient, db: Session, seeded: DemoReport
) -> None:
    customers_before = db.exec(select(func.count()).select_from(Customer)).one()
    again = seed_demo(db, customers=30, seed=7, clock=fixed_clock(NOW))
    assert db.exec(select(func.count()).select_from(Customer)).one() == customers_before
    text = " ".join(printed(again).split())
    assert "already present" in text
    assert "`callcenter demo --reset-passwords` gives them new ones and shows them" in text
    assert [u.username for u in seeded.users if u.password and u.password in text] == []

    reset = seed_demo(db, customers=30, seed=7, clock=fixed_clock(NOW), reset_passwords=True)

    assert [u.username for u in reset.users] == [u.username for u in seeded.users]
    text = printed(reset)
    assert [u.username for u in reset.users if u.password is None or u.password not in text] == []
    admin, old_admin = reset.users[0], seeded.users[0]
    for password, status in ((admin.password, 200), (old_admin.password, 401)):
        answer = client.post(
            "/api/auth/token", data={"username": admin.username, "password": password}
        )
        assert answer.status_code == status, answer.text


def test_cli_seeds_an_embedded_install_then_resets_its_passwords(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_DATA_DIR"] = str(tmp_path / "data")

    def demo(*args: str) -> str:
        result = subprocess.run(
            [str(CLI), "demo", "--customers", "5", *args],
            env={**env, "COLUMNS": "200"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    first = demo()
    # The README's words: its command to serve, and the console to sign in at.
    assert "Demo users (sign in at /console, or Authorize at /docs)" in first
    assert (
        "next: serve it with `python3 dev.py run` and sign in at http://127.0.0.1:8000/console"
        in first
    )
    assert "callcenter serve" not in first and "POST /api/auth/token" not in first
    admin = next(line for line in first.splitlines() if " demo-admin " in line)
    reset = demo("--reset-passwords")
    new_admin = next(line for line in reset.splitlines() if " demo-admin " in line)
    assert "new passwords set" in reset
    assert new_admin != admin and "unchanged" not in new_admin


def test_the_demos_twilio_stand_in_answers_what_became_of_a_call() -> None:
    """The demo's worker asks Twilio about calls a minute old (settling those whose
    hang-up never came): the stand-in answers as Twilio's REST API does, read by the same
    client, so the demo's log does not fill with "Twilio did not answer"."""
    statuses = {"CA1": "in-progress", "CA2": "completed"}
    stand_in = TwilioStandIn(lambda _form: None, statuses.get)
    base = stand_in.start()
    try:
        client = TwilioCalls(DEMO_ACCOUNT_SID, "demo-token", base_url=base)
        said = [client.status_of(sid) for sid in ("CA1", "CA2", "CA3")]
    finally:
        stand_in.stop()
    assert [s.status if s is not None else None for s in said] == [
        "in-progress",
        "completed",
        None,
    ]
