"""The work-order state machine, table-driven, through the API and the services."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from orders.enums import OrderStatus as S
from orders.enums import ServiceMode
from orders.models import AuditEntry, OrderTransition, WorkOrder
from orders.states import allowed_targets

# The legal moves, written out from the issue independently of orders/states.py.
OPEN = {
    S.NEW,
    S.ASSIGNED,
    S.ACCEPTED,
    S.CONTACTED,
    S.IN_SERVICE,
    S.WAITING_PARTS,
    S.HARD_TO_REPAIR,
    S.REOPENED,
}
COMMON = {
    (S.NEW, S.ASSIGNED),
    (S.ASSIGNED, S.ACCEPTED),
    (S.ACCEPTED, S.CONTACTED),
    (S.CONTACTED, S.IN_SERVICE),
    (S.CONTACTED, S.WAITING_PARTS),
    (S.WAITING_PARTS, S.CONTACTED),
    (S.IN_SERVICE, S.COMPLETED),
    (S.IN_SERVICE, S.WAITING_PARTS),
    (S.IN_SERVICE, S.HARD_TO_REPAIR),
    (S.HARD_TO_REPAIR, S.IN_SERVICE),
    (S.COMPLETED, S.REOPENED),
    (S.CLOSED, S.REOPENED),
    (S.REOPENED, S.ASSIGNED),
    (S.REOPENED, S.IN_SERVICE),
    (S.READY_FOR_PICKUP, S.PICKED_UP),
    (S.PICKED_UP, S.CLOSED),
} | {(state, S.CANCELLED) for state in OPEN}
LEGAL = {
    ServiceMode.ON_SITE: COMMON | {(S.COMPLETED, S.CLOSED)},
    # Parts for a machine at the station go straight in; on site, the customer is called
    # again for a new visit.
    ServiceMode.CARRY_IN: COMMON
    | {(S.COMPLETED, S.READY_FOR_PICKUP), (S.WAITING_PARTS, S.IN_SERVICE)},
}
# A path from NEW to every state, to put an order where a transition starts.
PATHS: dict[S, list[S]] = {
    S.NEW: [],
    S.ASSIGNED: [S.ASSIGNED],
    S.ACCEPTED: [S.ASSIGNED, S.ACCEPTED],
    S.CONTACTED: [S.ASSIGNED, S.ACCEPTED, S.CONTACTED],
    S.IN_SERVICE: [S.ASSIGNED, S.ACCEPTED, S.CONTACTED, S.IN_SERVICE],
}
PATHS[S.WAITING_PARTS] = [*PATHS[S.IN_SERVICE], S.WAITING_PARTS]
PATHS[S.HARD_TO_REPAIR] = [*PATHS[S.IN_SERVICE], S.HARD_TO_REPAIR]
PATHS[S.COMPLETED] = [*PATHS[S.IN_SERVICE], S.COMPLETED]
PATHS[S.REOPENED] = [*PATHS[S.COMPLETED], S.REOPENED]
PATHS[S.CANCELLED] = [S.CANCELLED]


def _path(target: S, mode: ServiceMode) -> list[S]:
    if target in PATHS:
        return PATHS[target]
    if mode is ServiceMode.CARRY_IN:
        tail = {
            S.READY_FOR_PICKUP: [S.READY_FOR_PICKUP],
            S.PICKED_UP: [S.READY_FOR_PICKUP, S.PICKED_UP],
            S.CLOSED: [S.READY_FOR_PICKUP, S.PICKED_UP, S.CLOSED],
        }
    else:
        tail = {S.CLOSED: [S.CLOSED]}
    return [*PATHS[S.COMPLETED], *tail[target]]


def _reachable(mode: ServiceMode) -> list[S]:
    return [
        s for s in S if mode is ServiceMode.CARRY_IN or s not in {S.READY_FOR_PICKUP, S.PICKED_UP}
    ]


@pytest.mark.parametrize("mode", list(ServiceMode))
def test_state_machine_table_matches_the_issue(mode: ServiceMode) -> None:
    actual = {(state, target) for state in S for target in allowed_targets(state, mode)}
    assert actual == LEGAL[mode]


@pytest.fixture
def new_order(make_customer: Any, make_appliance: Any, make_order: Any) -> Any:
    customer = make_customer()
    appliance = make_appliance(customer.id)

    def make(mode: ServiceMode) -> Any:
        return make_order(customer.id, appliance.id, service_mode=mode)

    return make


def _move(client: TestClient, auth: dict[str, str], order_id: int, to: S, station: int) -> Any:
    body: dict[str, Any] = {"to": to.value, "note": f"to {to.value}"}
    if to is S.ASSIGNED:
        body["station_id"] = station
    return client.post(f"/api/orders/{order_id}/transitions", json=body, headers=auth)


@pytest.mark.parametrize(
    ("mode", "source", "target"),
    sorted(
        ((m, a, b) for m, pairs in LEGAL.items() for a, b in pairs if a in _reachable(m)),
        key=str,
    ),
)
def test_every_legal_transition_works(
    client: TestClient,
    headers: Any,
    station: Any,
    new_order: Any,
    mode: ServiceMode,
    source: S,
    target: S,
) -> None:
    order = new_order(mode)
    for step in _path(source, mode):
        assert _move(client, headers["supervisor"], order.id, step, station.id).status_code == 200
    response = _move(client, headers["supervisor"], order.id, target, station.id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == target.value
    last = body["history"][-1]
    assert (last["from_status"], last["to_status"]) == (source.value, target.value)
    assert last["note"] == f"to {target.value}"
    assert last["actor_name"].startswith("supervisor-")


ILLEGAL = [
    (ServiceMode.ON_SITE, S.NEW, S.COMPLETED),
    (ServiceMode.ON_SITE, S.NEW, S.IN_SERVICE),
    (ServiceMode.ON_SITE, S.ASSIGNED, S.CLOSED),
    (ServiceMode.ON_SITE, S.COMPLETED, S.READY_FOR_PICKUP),
    (ServiceMode.CARRY_IN, S.COMPLETED, S.CLOSED),
    (ServiceMode.ON_SITE, S.CANCELLED, S.NEW),
    (ServiceMode.ON_SITE, S.CANCELLED, S.REOPENED),
    (ServiceMode.ON_SITE, S.CLOSED, S.CANCELLED),
    (ServiceMode.ON_SITE, S.WAITING_PARTS, S.COMPLETED),
    (ServiceMode.ON_SITE, S.IN_SERVICE, S.IN_SERVICE),
    (ServiceMode.CARRY_IN, S.PICKED_UP, S.READY_FOR_PICKUP),
]


@pytest.mark.parametrize(("mode", "source", "target"), ILLEGAL)
def test_illegal_transition_is_refused_and_changes_nothing(
    client: TestClient,
    headers: Any,
    station: Any,
    new_order: Any,
    db: Session,
    mode: ServiceMode,
    source: S,
    target: S,
) -> None:
    order = new_order(mode)
    for step in _path(source, mode):
        _move(client, headers["supervisor"], order.id, step, station.id)
    before = _order_state(db, order.id)
    response = _move(client, headers["supervisor"], order.id, target, station.id)
    assert response.status_code == 409
    problem = response.json()
    assert problem["error_id"] == "invalid_transition"
    assert problem["details"]["allowed"] == [s.value for s in allowed_targets(source, mode)]
    assert _order_state(db, order.id) == before
    assert before[0]["status"] == source.value


def _order_state(db: Session, order_id: int) -> tuple[dict[str, Any], int, int]:
    """The order's row, its number of recorded transitions and of audit rows."""
    db.expire_all()
    order = db.get(WorkOrder, order_id)
    assert order is not None
    transitions = db.exec(select(OrderTransition).where(OrderTransition.order_id == order_id))
    audit = db.exec(
        select(AuditEntry).where(
            AuditEntry.entity == "work_order", AuditEntry.entity_id == order_id
        )
    )
    return order.model_dump(mode="json"), len(transitions.all()), len(audit.all())


def test_assignment_needs_an_existing_station(
    client: TestClient, headers: Any, new_order: Any
) -> None:
    order = new_order(ServiceMode.ON_SITE)
    missing = client.post(
        f"/api/orders/{order.id}/transitions", json={"to": "assigned"}, headers=headers["agent"]
    )
    assert missing.status_code == 422
    assert "station_id" in missing.json()["message"]
    unknown = client.post(
        f"/api/orders/{order.id}/transitions",
        json={"to": "assigned", "station_id": 999999},
        headers=headers["agent"],
    )
    assert unknown.status_code == 404
    assert unknown.json()["error_id"] == "station_not_found"


def test_order_intake_captures_warranty(
    client: TestClient, headers: Any, make_customer: Any, make_appliance: Any
) -> None:
    customer = make_customer()
    old = make_appliance(customer.id, purchase_date="2019-01-01", has_invoice=True)
    response = client.post(
        "/api/orders",
        json={
            "customer_id": customer.id,
            "appliance_id": old.id,
            "order_type": "repair",
            "service_mode": "carry_in",
            "urgency": "urgent",
            "channel": "phone",
            "fault_description": "开机无反应",
        },
        headers=headers["agent"],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["warranty_status"] == "out_of_warranty"
    assert body["status"] == "new"
    assert body["number"].startswith("WO")
    assert body["allowed_transitions"] == ["assigned", "cancelled"]


def test_list_orders_filters(
    client: TestClient, headers: Any, station: Any, new_order: Any
) -> None:
    first = new_order(ServiceMode.ON_SITE)
    new_order(ServiceMode.ON_SITE)
    _move(client, headers["agent"], first.id, S.ASSIGNED, station.id)
    by_station = client.get(
        "/api/orders", params={"station_id": station.id}, headers=headers["agent"]
    ).json()
    assert [o["id"] for o in by_station["items"]] == [first.id]
    by_status = client.get("/api/orders", params={"status": "new"}, headers=headers["agent"]).json()
    assert first.id not in [o["id"] for o in by_status["items"]]
    by_customer = client.get(
        "/api/orders", params={"customer_id": first.customer_id}, headers=headers["agent"]
    ).json()
    assert by_customer["total"] == 2
    future = client.get(
        "/api/orders", params={"created_from": "2100-01-01T00:00:00"}, headers=headers["agent"]
    ).json()
    assert future["total"] == 0
