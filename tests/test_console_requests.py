"""What the console sends: an order made once however often it is sent, the pop of the
call in progress, the language the user chose."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from orders.enums import Role
from orders.models import WorkOrder
from recordings.models import RecordingKind
from telephony.enums import CallState
from tests.conftest import bearer
from tests.live_server import serve


def _order_request(customer: Any, appliance: Any) -> dict[str, Any]:
    return {"customer_id": customer.id, "appliance_id": appliance.id, "fault_description": "漏水"}


def _orders_of(db: Session, customer: Any) -> int:
    db.expire_all()
    return db.exec(
        select(func.count()).select_from(WorkOrder).where(WorkOrder.customer_id == customer.id)
    ).one()


def test_an_order_sent_again_with_its_key_is_made_once(
    client: TestClient,
    db: Session,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_call: Any,
) -> None:
    agent = make_user(Role.AGENT)
    customer = make_customer()
    washer = make_appliance(customer.id)
    call = make_call(state=CallState.BRIDGED, agent_id=agent.id, customer_ids=[customer.id])
    path = f"/api/console/calls/{call.id}/orders"
    key = {**bearer(agent), "Idempotency-Key": uuid.uuid4().hex}

    first = client.post(path, json=_order_request(customer, washer), headers=key)
    again = client.post(path, json=_order_request(customer, washer), headers=key)
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert again.json()["number"] == first.json()["number"]
    assert _orders_of(db, customer) == 1

    # Another order is another key; another user's key is theirs alone.
    other = {**bearer(agent), "Idempotency-Key": uuid.uuid4().hex}
    assert (
        client.post(path, json=_order_request(customer, washer), headers=other).json()["number"]
        != first.json()["number"]
    )
    assert _orders_of(db, customer) == 2
    short = client.post(
        path,
        json=_order_request(customer, washer),
        headers={**bearer(agent), "Idempotency-Key": "x"},
    )
    assert short.status_code == 422
    assert _orders_of(db, customer) == 2


def test_a_key_sent_by_several_requests_at_once_makes_one_order(
    app: Any, db: Session, make_user: Any, make_customer: Any, make_appliance: Any
) -> None:
    clerk = make_user(Role.AGENT)
    customer = make_customer()
    washer = make_appliance(customer.id)
    headers = {**bearer(clerk), "Idempotency-Key": uuid.uuid4().hex}
    with serve(app) as address, httpx.Client(base_url=f"http://{address}") as http:

        def send(_: int) -> httpx.Response:
            return http.post("/api/orders", json=_order_request(customer, washer), headers=headers)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(send, range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert len({a.json()["number"] for a in answers}) == 1
    assert _orders_of(db, customer) == 1


def test_the_pop_lists_earlier_calls_and_not_the_call_in_progress(
    client: TestClient,
    make_user: Any,
    make_customer: Any,
    make_call: Any,
    make_recording: Any,
    db: Session,
    tmp_path: Any,
) -> None:
    agent = make_user(Role.AGENT)
    customer = make_customer()
    earlier = make_call(state=CallState.ENDED, customer_ids=[customer.id])
    kept = make_recording(earlier, tmp_path / "earlier")
    now = make_call(state=CallState.BRIDGED, agent_id=agent.id, customer_ids=[customer.id])
    make_recording(now, tmp_path / "now")
    fault = make_recording(now, tmp_path / "fault")
    fault.kind = RecordingKind.FAULT
    db.add(fault)
    db.commit()

    pop = client.get(f"/api/console/calls/{now.id}/pop", headers=bearer(agent))
    assert pop.status_code == 200, pop.text
    [card] = pop.json()["customers"]
    assert [(c["recording_id"], c["kind"]) for c in card["earlier_calls"]] == [(kept.id, "call")]


def test_the_console_language_stays_with_the_user(client: TestClient, make_user: Any) -> None:
    agent = bearer(make_user(Role.AGENT))
    assert client.get("/api/me", headers=agent).json()["language"] is None
    chosen = client.put("/api/me/language", json={"language": "en"}, headers=agent)
    assert (chosen.status_code, chosen.json()["language"]) == (200, "en")
    assert client.get("/api/me", headers=agent).json()["language"] == "en"
    refused = client.put("/api/me/language", json={"language": "fr"}, headers=agent)
    assert refused.status_code == 422
    assert client.get("/api/me", headers=agent).json()["language"] == "en"
