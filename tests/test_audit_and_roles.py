"""Every change is audited; every route checks the caller's role; logins are rate limited."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from orders.enums import Role
from orders.models import AuditEntry, User
from tests.conftest import PASSWORD, TestClock, at

CHANGED_AT = at(2026, 11, 23, 1, 2, 3, 456789)


def _audit(db: Session, entity: str, entity_id: int) -> list[AuditEntry]:
    db.expire_all()
    return list(
        db.exec(
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id)
        ).all()
    )


def test_each_change_writes_an_audit_row(
    client: TestClient, headers: Any, station: Any, db: Session, clock: TestClock
) -> None:
    clock.freeze(CHANGED_AT)
    agent = headers["agent"]
    customer = client.post(
        "/api/customers",
        json={"name": "周杰", "phones": [{"number": "13800138000"}]},
        headers=agent,
    ).json()
    client.patch(f"/api/customers/{customer['id']}", json={"notes": "老客户"}, headers=agent)
    appliance = client.post(
        "/api/appliances",
        json={"customer_id": customer["id"], "category": "refrigerator", "brand": "美的"},
        headers=agent,
    ).json()
    client.patch(f"/api/appliances/{appliance['id']}", json={"serial": "SN-1"}, headers=agent)
    order = client.post(
        "/api/orders",
        json={"customer_id": customer["id"], "appliance_id": appliance["id"]},
        headers=agent,
    ).json()
    client.post(
        f"/api/orders/{order['id']}/transitions",
        json={"to": "assigned", "station_id": station.id},
        headers=agent,
    )
    user = client.post(
        "/api/users",
        json={"username": "new-agent", "role": "agent", "password": "s3cret-password"},
        headers=headers["admin"],
    ).json()
    client.patch(f"/api/users/{user['id']}", json={"full_name": "新坐席"}, headers=headers["admin"])

    customer_rows = _audit(db, "customer", customer["id"])
    assert [r.action for r in customer_rows] == ["create", "update"]
    assert customer_rows[1].before["notes"] == "" and customer_rows[1].after["notes"] == "老客户"
    assert customer_rows[0].actor_name.startswith("agent-")
    assert customer_rows[0].actor_id is not None
    appliance_rows = _audit(db, "appliance", appliance["id"])
    assert [r.action for r in appliance_rows] == ["create", "update"]
    assert appliance_rows[1].after["serial"] == "SN-1"
    order_rows = _audit(db, "work_order", order["id"])
    assert [r.action for r in order_rows] == ["create", "transition"]
    assert (order_rows[1].before["status"], order_rows[1].after["status"]) == ("new", "assigned")
    user_rows = _audit(db, "user", user["id"])
    assert [r.action for r in user_rows] == ["create", "update"]
    assert "password_hash" not in user_rows[0].after
    assert user_rows[0].actor_name.startswith("admin-")
    # When: every row is stamped by the app's clock, not the database's or the wall clock.
    rows = customer_rows + appliance_rows + order_rows + user_rows
    assert {row.at for row in rows} == {CHANGED_AT}


def test_audit_is_readable_by_supervisors_only_and_cannot_be_edited(
    client: TestClient, headers: Any, make_customer: Any, db: Session
) -> None:
    customer = make_customer()
    listed = client.get(
        "/api/audit",
        params={"entity": "customer", "entity_id": customer.id},
        headers=headers["supervisor"],
    )
    assert listed.status_code == 200
    assert [e["action"] for e in listed.json()["items"]] == ["create"]
    assert client.get("/api/audit", headers=headers["agent"]).status_code == 403
    entry_id = listed.json()["items"][0]["id"]
    for method in ("put", "patch", "delete"):
        response = client.request(method, f"/api/audit/{entry_id}", headers=headers["admin"])
        assert response.status_code in {404, 405}
    with pytest.raises(sqlalchemy.exc.DatabaseError), db.begin_nested():
        db.execute(sqlalchemy.text("UPDATE audit_entry SET actor_name = 'x'"))


def test_no_token_gets_401(client: TestClient) -> None:
    for path in ("/api/customers", "/api/orders", "/api/users", "/api/audit", "/api/lookup"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error_id"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
    forged = client.get("/api/orders", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401


def test_every_api_operation_requires_a_token(client: TestClient, app: Any) -> None:
    """Each operation the OpenAPI document lists under /api, but the login itself.

    Sent without a token and without a body: the token is checked before anything else, so
    what comes back is 401, never a 404 or 422 that would tell a stranger what exists.
    """
    operations = [
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/api/") and path != "/api/auth/token"
        for method in item
    ]
    assert len(operations) > 20
    refused = {}
    for method, path in operations:
        response = client.request(method, re.sub(r"\{[^}]+\}", "1", path))
        if response.status_code != 401 or response.json()["error_id"] != "not_authenticated":
            refused[f"{method} {path}"] = response.status_code
    assert refused == {}


def test_agent_cannot_add_users(client: TestClient, headers: Any, db: Session) -> None:
    response = client.post(
        "/api/users",
        json={"username": "sneaky", "role": "admin", "password": "password123"},
        headers=headers["agent"],
    )
    assert response.status_code == 403
    assert response.json()["error_id"] == "permission_denied"
    assert db.exec(select(User).where(User.username == "sneaky")).first() is None


def test_station_sees_only_its_own_orders(
    client: TestClient,
    headers: Any,
    station: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> None:
    customer = make_customer()
    appliance = make_appliance(customer.id)
    mine = make_order(customer.id, appliance.id)
    other_station = client.post(
        "/api/stations", json={"code": "SH01", "name": "上海浦东服务站"}, headers=headers["admin"]
    ).json()
    theirs = make_order(customer.id, appliance.id)
    unassigned = make_order(customer.id, appliance.id)
    for order, target in ((mine, station.id), (theirs, other_station["id"])):
        client.post(
            f"/api/orders/{order.id}/transitions",
            json={"to": "assigned", "station_id": target},
            headers=headers["agent"],
        )
    st = headers["station"]
    detail = client.get(f"/api/orders/{mine.id}", headers=st)
    assert detail.status_code == 200
    # The station cannot browse customers, but sees whom to call and where to go.
    assert detail.json()["customer"]["phones"][0]["e164"] == "+8613800138000"
    assert detail.json()["customer"]["service_address"]["street"] == "建国路88号"
    assert client.get(f"/api/orders/{theirs.id}", headers=st).status_code == 404
    assert client.get(f"/api/orders/{unassigned.id}", headers=st).status_code == 404
    assert [o["id"] for o in client.get("/api/orders", headers=st).json()["items"]] == [mine.id]
    accept = client.post(f"/api/orders/{mine.id}/transitions", json={"to": "accepted"}, headers=st)
    assert accept.status_code == 200
    cancel = client.post(f"/api/orders/{mine.id}/transitions", json={"to": "cancelled"}, headers=st)
    assert cancel.status_code == 403
    assert client.get("/api/customers", headers=st).status_code == 403


def test_login_issues_token_and_is_rate_limited(
    client: TestClient, make_user: Any, settings: Any
) -> None:
    user = make_user(Role.AGENT, username="ratelimited")
    token = client.post("/api/auth/token", data={"username": user.username, "password": PASSWORD})
    assert token.status_code == 200
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["username"] == "ratelimited"
    limit = settings.auth.login_max_failures
    for _ in range(limit):
        wrong = client.post("/api/auth/token", data={"username": user.username, "password": "no"})
        assert wrong.status_code == 401
    locked = client.post("/api/auth/token", data={"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    other = make_user(Role.AGENT, username="unaffected")
    fine = client.post("/api/auth/token", data={"username": other.username, "password": PASSWORD})
    assert fine.status_code == 200


def test_disabled_user_cannot_log_in_or_use_old_token(
    client: TestClient, headers: Any, make_user: Any
) -> None:
    user = make_user(Role.AGENT, username="leaver")
    token = client.post(
        "/api/auth/token", data={"username": "leaver", "password": PASSWORD}
    ).json()["access_token"]
    client.patch(f"/api/users/{user.id}", json={"is_active": False}, headers=headers["admin"])
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    login = client.post("/api/auth/token", data={"username": "leaver", "password": PASSWORD})
    assert login.status_code == 401
