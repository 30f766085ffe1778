"""Parts: the catalogue's price rule, stores, the stock ledger, material lines on orders
(领料减库存、改数量加减、删除回加), issue types and their prices, and the exports."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from callbacks import notice_text
from callbacks.models import OutboundTask
from callbacks.services.notices import notify_arrived_part_orders
from orders.enums import OrderStatus, Role, WarrantyStatus
from orders.models import Engineer, Station, WorkOrder
from orders.schemas import Actor
from parts.ledger import discrepancies
from parts.services import part_orders
from tests.conftest import OPEN_HOURS, bearer


@pytest.fixture
def shop(
    client: TestClient,
    db: Session,
    station: Station,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
) -> dict[str, Any]:
    """A station with its parts store, an engineer with their own, the central store, a
    part with 10 units at the station, and an open in-warranty order of that station."""
    boss = bearer(make_user(Role.SUPERVISOR))
    desk = bearer(make_user(Role.STATION, station_id=station.id))
    engineer = Engineer(station_id=station.id or 0, name="李师傅", created_at=OPEN_HOURS)
    db.add(engineer)
    db.commit()
    part = client.post(
        "/api/parts",
        json={
            "code": "PCB-KFR35",
            "name": "空调内机主板",
            "models": ["KFR-35GW"],
            "station_price_fen": 12000,
            "public_price_fen": 18000,
        },
        headers=boss,
    )
    assert part.status_code == 201, part.text
    stores = {}
    for code, kind, owner in (
        ("CENTRAL", "central", {}),
        (f"{station.code}-P", "station", {"station_id": station.id}),
        (f"{station.code}-E1", "engineer", {"engineer_id": engineer.id}),
    ):
        made = client.post(
            "/api/warehouses",
            json={"code": code, "name": code, "kind": kind, **owner},
            headers=boss,
        )
        assert made.status_code == 201, made.text
        stores[kind] = made.json()["id"]
    received = client.post(
        f"/api/warehouses/{stores['station']}/receipts",
        json={"part_id": part.json()["id"], "quantity": 10},
        headers=desk,
    )
    assert received.status_code == 201, received.text
    customer = make_customer()
    appliance = make_appliance(customer.id, model="KFR-35GW")
    order = db.get(WorkOrder, make_order(customer.id, appliance.id).id)
    assert order is not None
    order.station_id, order.engineer_id = station.id, engineer.id
    order.status, order.warranty_status = OrderStatus.IN_SERVICE, WarrantyStatus.IN_WARRANTY
    db.add(order)
    db.commit()
    return {
        "boss": boss,
        "desk": desk,
        "part": part.json()["id"],
        "stores": stores,
        "order": order,
        "engineer": engineer,
    }


def _stock(client: TestClient, shop: dict[str, Any], kind: str = "station") -> int:
    answer = client.get(f"/api/warehouses/{shop['stores'][kind]}/stock", headers=shop["boss"])
    assert answer.status_code == 200, answer.text
    lines = [line for line in answer.json()["lines"] if line["part_id"] == shop["part"]]
    return lines[0]["quantity"] if lines else 0


@pytest.mark.parametrize("field", ["q", "model"])
def test_a_catalogue_search_with_a_nul_is_refused(
    client: TestClient, make_user: Any, field: str
) -> None:
    """Found: a NUL reached PostgreSQL, which refused it: a 500."""
    searched = client.get(
        "/api/parts", params={field: "泵\x00"}, headers=bearer(make_user(Role.STATION))
    )
    assert searched.status_code == 422, searched.text


def test_a_line_takes_stock_a_new_quantity_moves_the_difference_and_removal_returns_it(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    order, desk = shop["order"], shop["desk"]
    line = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 2, "issue_type": "in_warranty"},
        headers=desk,
    )
    assert line.status_code == 201, line.text
    assert line.json()["unit_price_fen"] == 0  # free under warranty
    assert _stock(client, shop) == 8
    path = f"/api/orders/{order.id}/materials/{line.json()['id']}"
    assert client.patch(path, json={"quantity": 5}, headers=desk).status_code == 200
    assert _stock(client, shop) == 5
    assert client.patch(path, json={"quantity": 3}, headers=desk).status_code == 200
    assert _stock(client, shop) == 7
    assert client.delete(path, headers=desk).status_code == 200
    assert _stock(client, shop) == 10
    assert client.get(f"/api/orders/{order.id}/materials", headers=desk).json() == []
    assert client.delete(path, headers=desk).json()["error_id"] == "material_line_not_found"

    ledger = client.get(f"/api/ledger?order={order.id}", headers=desk).json()
    assert [
        (r["reason"], r["quantity"], r["from_warehouse_id"] is None) for r in reversed(ledger)
    ] == [
        ("issue", 2, False),
        ("issue_change", 3, False),  # 2 → 5: three more out
        ("issue_change", 2, True),  # 5 → 3: two back
        ("issue_return", 3, True),
    ]
    assert discrepancies(db) == []


def test_a_short_store_refuses_with_what_it_holds_and_nothing_moves(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    order = shop["order"]
    short = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 11, "issue_type": "in_warranty"},
        headers=shop["desk"],
    )
    assert short.status_code == 409
    assert short.json()["error_id"] == "out_of_stock"
    assert short.json()["details"]["available"] == 10
    line = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 10, "issue_type": "in_warranty"},
        headers=shop["desk"],
    ).json()
    more = client.patch(
        f"/api/orders/{order.id}/materials/{line['id']}",
        json={"quantity": 12},
        headers=shop["desk"],
    )
    assert more.json()["error_id"] == "out_of_stock" and more.json()["details"]["available"] == 0
    assert (
        client.get(f"/api/orders/{order.id}/materials", headers=shop["desk"]).json()[0]["quantity"]
        == 10
    )
    assert _stock(client, shop) == 0
    assert (
        client.get(f"/api/ledger?order={order.id}", headers=shop["desk"]).json()[0]["quantity"]
        == 10
    )
    assert discrepancies(db) == []


def test_prices_follow_the_issue_type_and_never_exceed_the_public_price(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    order, desk, part = shop["order"], shop["desk"], shop["part"]
    above = client.post(
        "/api/parts",
        json={"code": "X1", "name": "x", "station_price_fen": 200, "public_price_fen": 100},
        headers=shop["boss"],
    )
    assert above.status_code == 422 and above.json()["error_id"] == "invalid_part"

    def issue(**body: Any) -> Any:
        return client.post(
            f"/api/orders/{order.id}/materials",
            json={"part_id": part, "quantity": 1, **body},
            headers=desk,
        )

    assert (
        issue(issue_type="in_warranty", unit_price_fen=500).json()["error_id"]
        == "invalid_stock_move"
    )
    sold = issue(issue_type="customer_sale")
    assert sold.status_code == 201 and sold.json()["unit_price_fen"] == 18000  # the public price
    cheaper = issue(issue_type="customer_sale", unit_price_fen=15000)
    assert cheaper.status_code == 201 and cheaper.json()["total_fen"] == 15000
    dearer = issue(issue_type="customer_sale", unit_price_fen=18001)
    assert dearer.status_code == 422 and "public price" in dearer.json()["message"]

    order.warranty_status = WarrantyStatus.OUT_OF_WARRANTY
    db.add(order)
    db.commit()
    refused = issue(issue_type="in_warranty")
    assert refused.status_code == 422 and "out of warranty" in refused.json()["message"]
    charged = issue(issue_type="out_of_warranty")
    assert charged.status_code == 201 and charged.json()["unit_price_fen"] == 18000
    assert _stock(client, shop) == 7  # only the three accepted issues took stock


def test_an_engineer_s_issue_comes_from_the_stock_they_took(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    order, desk, stores = shop["order"], shop["desk"], shop["stores"]
    empty = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 1, "issue_type": "engineer"},
        headers=desk,
    )
    assert empty.json()["details"]["available"] == 0
    taken = client.post(
        "/api/stock/transfers",
        json={
            "part_id": shop["part"],
            "quantity": 3,
            "from_warehouse_id": stores["station"],
            "to_warehouse_id": stores["engineer"],
            "note": "领料",
        },
        headers=desk,
    )
    assert taken.status_code == 201, taken.text
    used = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 1, "issue_type": "engineer"},
        headers=desk,
    )
    assert used.status_code == 201 and used.json()["warehouse_id"] == stores["engineer"]
    assert used.json()["unit_price_fen"] == 0  # under warranty
    order.warranty_status = WarrantyStatus.OUT_OF_WARRANTY
    db.add(order)
    db.commit()
    paid = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 1, "issue_type": "engineer"},
        headers=desk,
    )
    assert paid.status_code == 201 and paid.json()["unit_price_fen"] == 18000  # outside it
    assert (_stock(client, shop), _stock(client, shop, "engineer")) == (7, 1)
    assert discrepancies(db) == []


def test_a_station_neither_sees_nor_moves_another_station_s_stock(
    client: TestClient, db: Session, shop: dict[str, Any], make_user: Any
) -> None:
    other = Station(code="OTHER1", name="海淀服务站", created_at=OPEN_HOURS)
    db.add(other)
    db.commit()
    stranger = bearer(make_user(Role.STATION, station_id=other.id))
    store = shop["stores"]["station"]
    assert client.get(f"/api/warehouses/{store}/stock", headers=stranger).status_code == 404
    taken = client.post(
        f"/api/warehouses/{store}/receipts",
        json={"part_id": shop["part"], "quantity": 1},
        headers=stranger,
    )
    assert taken.status_code == 404
    issue = client.post(
        f"/api/orders/{shop['order'].id}/materials",
        json={"part_id": shop["part"], "quantity": 1, "issue_type": "in_warranty"},
        headers=stranger,
    )
    assert issue.status_code == 404  # the order is not theirs either
    agent = bearer(make_user(Role.AGENT))
    refused = client.post(
        f"/api/orders/{shop['order'].id}/materials",
        json={"part_id": shop["part"], "quantity": 1, "issue_type": "in_warranty"},
        headers=agent,
    )
    assert refused.status_code == 403
    assert client.get(f"/api/ledger?warehouse={store}", headers=stranger).status_code == 404
    assert _stock(client, shop) == 10


def test_a_completed_order_takes_no_more_parts(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    order = shop["order"]
    order.status = OrderStatus.COMPLETED
    db.add(order)
    db.commit()
    late = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 1, "issue_type": "in_warranty"},
        headers=shop["desk"],
    )
    assert late.status_code == 422 and "open orders" in late.json()["message"]


def test_the_ledger_and_stock_export_hold_the_json_s_rows_and_formula_text_stays_text(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    desk, store = shop["desk"], shop["stores"]["station"]
    note = '=HYPERLINK("http://evil.example","点我")'
    client.post(
        f"/api/warehouses/{store}/receipts",
        json={"part_id": shop["part"], "quantity": 2, "note": note},
        headers=desk,
    )
    rows = client.get(f"/api/ledger?warehouse={store}", headers=desk).json()
    book = client.get(f"/api/ledger?warehouse={store}&format=xlsx", headers=desk)
    assert book.status_code == 200
    assert book.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(book.content))["ledger"]
    table = list(sheet.iter_rows(min_row=2))
    assert [row[0].value for row in table] == [r["id"] for r in rows]
    assert [row[3].value for row in table] == [2, 10]
    cell = table[0][11]
    assert (cell.value, cell.data_type) == (note, "s")

    stock = load_workbook(
        BytesIO(client.get(f"/api/warehouses/{store}/stock?format=xlsx", headers=desk).content)
    )
    assert [[c.value for c in row] for row in stock.active.iter_rows(min_row=2)] == [
        ["PCB-KFR35", "空调内机主板", 12, 12000, 144000]
    ]


def test_a_customer_s_part_order_arrives_and_is_picked_up_charged(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    order, desk, store = shop["order"], shop["desk"], shop["stores"]["station"]
    # Ten at the station: the customer wants twelve.
    ordered = client.post(
        f"/api/orders/{order.id}/part-orders",
        json={"part_id": shop["part"], "quantity": 12, "unit_price_fen": 17000},
        headers=desk,
    )
    assert ordered.status_code == 201, ordered.text
    assert (ordered.json()["arrived"], ordered.json()["total_fen"]) == (False, 12 * 17000)
    early = client.post(f"/api/part-orders/{ordered.json()['id']}/pickup", headers=desk)
    assert early.status_code == 409 and early.json()["details"]["available"] == 10
    client.post(
        f"/api/warehouses/{store}/receipts",
        json={"part_id": shop["part"], "quantity": 2},
        headers=desk,
    )
    [waiting] = client.get(f"/api/orders/{order.id}/part-orders", headers=desk).json()
    assert waiting["arrived"] is True
    picked = client.post(f"/api/part-orders/{ordered.json()['id']}/pickup", headers=desk)
    assert picked.status_code == 200 and picked.json()["status"] == "picked_up"
    assert _stock(client, shop) == 0
    [line] = client.get(f"/api/orders/{order.id}/materials", headers=desk).json()
    assert (line["issue_type"], line["quantity"], line["total_fen"]) == (
        "customer_order",
        12,
        204000,
    )
    again = client.post(f"/api/part-orders/{ordered.json()['id']}/pickup", headers=desk)
    assert again.status_code == 422
    assert discrepancies(db) == []


def test_a_pick_up_is_one_step_with_its_stock_and_charge(
    client: TestClient, db: Session, shop: dict[str, Any], station: Station
) -> None:
    """Found: the pick-up committed its material line (the stock taken, the customer
    charged) before it marked the part order picked up, letting go of the part order's lock
    in between. A second pick-up at that moment, or a retry after a failure there, took the
    stock and charged the customer again. Here the pick-up fails after its line: nothing of
    it stays, and the pick-up done again takes the stock once."""
    order, desk = shop["order"], shop["desk"]
    ordered = client.post(
        f"/api/orders/{order.id}/part-orders",
        json={"part_id": shop["part"], "quantity": 4, "unit_price_fen": 17000},
        headers=desk,
    )
    assert ordered.status_code == 201, ordered.text
    staff = Actor(id=None, name="站长", role=Role.STATION, station_id=station.id)
    ticks = iter([OPEN_HOURS])

    def failing_after_the_line() -> datetime:
        moment = next(ticks, None)
        if moment is None:
            raise RuntimeError("the process died here")
        return moment

    with pytest.raises(RuntimeError):
        part_orders.pick_up(
            db, part_order_id=ordered.json()["id"], actor=staff, clock=failing_after_the_line
        )
    db.rollback()  # as the request's session does on an error
    assert _stock(client, shop) == 10
    assert client.get(f"/api/orders/{order.id}/materials", headers=desk).json() == []
    picked = client.post(f"/api/part-orders/{ordered.json()['id']}/pickup", headers=desk)
    assert picked.status_code == 200, picked.text
    assert _stock(client, shop) == 6
    assert len(client.get(f"/api/orders/{order.id}/materials", headers=desk).json()) == 1
    assert discrepancies(db) == []


def test_the_customer_is_told_once_when_the_part_they_ordered_reaches_the_station(
    client: TestClient, db: Session, shop: dict[str, Any]
) -> None:
    order, desk, store = shop["order"], shop["desk"], shop["stores"]["station"]
    ordered = client.post(
        f"/api/orders/{order.id}/part-orders",
        json={"part_id": shop["part"], "quantity": 12},
        headers=desk,
    )
    assert ordered.status_code == 201, ordered.text
    waiting = notify_arrived_part_orders(db, now=OPEN_HOURS)  # ten of twelve: not yet
    client.post(
        f"/api/warehouses/{store}/receipts",
        json={"part_id": shop["part"], "quantity": 2},
        headers=desk,
    )
    arrived = notify_arrived_part_orders(db, now=OPEN_HOURS)
    again = notify_arrived_part_orders(db, now=OPEN_HOURS + timedelta(minutes=1))
    [notice] = db.exec(
        select(OutboundTask).where(OutboundTask.purpose == "notice_ordered_part_arrived")
    ).all()

    assert (waiting, arrived, again) == (0, 1, 0)
    assert (notice.order_id, notice.status, notice.mode) == (order.id, "scheduled", "sms_notice")
    assert notice.subject == f"part_order:{ordered.json()['id']}"
    assert "订购的配件已到货" in notice_text(db, notice.id or 0, "zh")


def test_the_catalogue_exports_the_rows_it_lists(client: TestClient, shop: dict[str, Any]) -> None:
    listed = client.get("/api/parts?q=PCB", headers=shop["desk"]).json()
    book = load_workbook(
        BytesIO(client.get("/api/parts?q=PCB&format=xlsx", headers=shop["desk"]).content)
    )
    rows = [[c.value for c in row] for row in book["parts"].iter_rows(min_row=2)]
    assert [r[0] for r in rows] == [p["code"] for p in listed] == ["PCB-KFR35"]
    assert rows[0][3:] == [12000, 18000, True]


def test_consumption_scrap_rate_and_stock_value_match_the_moves_made(
    client: TestClient, db: Session, station: Station, shop: dict[str, Any]
) -> None:
    order, desk, boss, stores = shop["order"], shop["desk"], shop["boss"], shop["stores"]
    damaged = client.post(
        "/api/warehouses",
        json={"code": "DMG", "name": "报损", "kind": "damaged", "station_id": station.id},
        headers=boss,
    )
    assert damaged.status_code == 201, damaged.text
    line = client.post(
        f"/api/orders/{order.id}/materials",
        json={"part_id": shop["part"], "quantity": 3, "issue_type": "in_warranty"},
        headers=desk,
    ).json()
    # Three taken, one given back: two consumed.
    client.patch(
        f"/api/orders/{order.id}/materials/{line['id']}", json={"quantity": 2}, headers=desk
    )
    scrapped = client.post(
        "/api/stock/transfers",
        json={
            "part_id": shop["part"],
            "quantity": 1,
            "from_warehouse_id": stores["station"],
            "to_warehouse_id": damaged.json()["id"],
            "note": "报损",
        },
        headers=desk,
    )
    assert scrapped.status_code == 201, scrapped.text

    november = "from=2026-11-01T00:00:00%2B08:00&to=2026-12-01T00:00:00%2B08:00"
    report = client.get(f"/api/reports/parts?{november}", headers=boss)
    assert report.status_code == 200, report.text
    sections = {s["title"]: s["rows"] for s in report.json()["sections"]}
    rate = round(1 / 3, 4)  # one scrapped of three gone (two consumed + one scrapped)
    assert sections["by part"] == [["PCB-KFR35", "空调内机主板", 2, 1, rate]]
    assert sections["by station"] == [[station.code, 2, 1, rate]]
    assert sections["by month"] == [["2026-11", 2, 1, rate]]
    october = "from=2026-10-01T00:00:00%2B08:00&to=2026-11-01T00:00:00%2B08:00"
    quiet = client.get(f"/api/reports/parts?{october}", headers=boss).json()
    assert {s["title"]: s["rows"] for s in quiet["sections"]}["by month"] == [
        ["2026-10", 0, 0, None]
    ]
    assert client.get(f"/api/reports/parts?{november}", headers=desk).status_code == 403

    value = client.get("/api/reports/stock-value", headers=boss).json()
    by_store = {row[0]: row[3:] for row in value["sections"][0]["rows"]}
    # Ten received, two consumed, one scrapped: seven at the station price of 120 yuan.
    assert by_store[f"{station.code}-P"] == [7, 7 * 12000]
    assert by_store["DMG"] == [1, 12000]
    assert by_store["CENTRAL"] == [0, 0]
    book = load_workbook(
        BytesIO(client.get(f"/api/reports/parts?{november}&format=xlsx", headers=boss).content)
    )
    assert [[c.value for c in row] for row in book.worksheets[0].iter_rows(min_row=2)] == [
        ["PCB-KFR35", "空调内机主板", 2, 1, rate]
    ]


def test_a_parts_report_over_more_than_a_year_is_refused_with_a_reason(
    client: TestClient, shop: dict[str, Any]
) -> None:
    """Reproduced first: a range of centuries kept the server counting month by month past
    any client's patience; it is refused at once, as the orders' reports are."""
    answer = client.get(
        "/api/reports/parts",
        params={"from": "1007-05-29T01:50:46Z", "to": "2659-02-03T14:12:20Z"},
        headers=shop["boss"],
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"] == "a report covers at most 366 days"
