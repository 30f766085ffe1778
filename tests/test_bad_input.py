"""Bad input gets a 4xx in problem JSON that says what is wrong, and writes nothing.

Every case is sent as an agent through the API, on SQLite and on PostgreSQL; the rows of
every table the request could have touched are counted before and after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, SQLModel, func, select

from callcenter.problems import MEDIA_TYPE
from orders.models import (
    Address,
    Appliance,
    AuditEntry,
    Customer,
    CustomerPhone,
    OrderTransition,
    WorkOrder,
)

TABLES: tuple[type[SQLModel], ...] = (
    Customer,
    CustomerPhone,
    Address,
    Appliance,
    WorkOrder,
    OrderTransition,
    AuditEntry,
)
DEFAULT_MAX_BODY = 1_000_000

CUSTOMER = {"name": "李秀英", "phones": [{"number": "13912345678"}]}
APPLIANCE = {"category": "washing_machine", "brand": "海尔"}


def row_counts(db: Session) -> dict[str, int]:
    return {
        table.__name__: db.exec(select(func.count()).select_from(table)).one() for table in TABLES
    }


@dataclass(frozen=True)
class World:
    """Two customers, each with one appliance."""

    customer_id: int
    appliance_id: int
    other_customer_id: int
    other_appliance_id: int


@pytest.fixture
def world(make_customer: Any, make_appliance: Any) -> World:
    customer = make_customer(name="王建国", phones=("13800138000",))
    other = make_customer(name="张伟", phones=("13700137000",))
    return World(
        customer_id=customer.id,
        appliance_id=make_appliance(customer.id).id,
        other_customer_id=other.id,
        other_appliance_id=make_appliance(other.id).id,
    )


@dataclass(frozen=True)
class BadRequest:
    """One bad request; ``{customer_id}``-style fields in path and JSON are filled from World."""

    method: str
    path: str
    status: int
    error_id: str
    mentions: tuple[str, ...]
    json: Any = None
    content: bytes | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def _fill(value: Any, world: World) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return getattr(world, value[1:-1])
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    return value


CASES: dict[str, BadRequest] = {
    # Domain rules the schema cannot express.
    "invalid phone": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "phones": [{"number": "13800138000"}, {"number": "12345"}]},
        status=422,
        error_id="invalid_phone_number",
        mentions=("12345",),
    ),
    "phone that is no number at all": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "phones": [{"number": "call me maybe"}]},
        status=422,
        error_id="invalid_phone_number",
        mentions=("call me maybe",),
    ),
    "unknown category": BadRequest(
        "POST",
        "/api/appliances",
        json={**APPLIANCE, "customer_id": "{customer_id}", "category": "time_machine"},
        status=422,
        error_id="validation_error",
        mentions=("body.category", "washing_machine"),
    ),
    "appliance of a customer that does not exist": BadRequest(
        "POST",
        "/api/appliances",
        json={**APPLIANCE, "customer_id": 987654},
        status=404,
        error_id="customer_not_found",
        mentions=("987654",),
    ),
    "order for another customer's appliance": BadRequest(
        "POST",
        "/api/orders",
        json={"customer_id": "{customer_id}", "appliance_id": "{other_appliance_id}"},
        status=422,
        error_id="invalid_order_data",
        mentions=("does not belong to customer",),
    ),
    "purchase date in the future": BadRequest(
        "POST",
        "/api/appliances",
        json={**APPLIANCE, "customer_id": "{customer_id}", "purchase_date": "2999-01-01"},
        status=422,
        error_id="invalid_order_data",
        mentions=("purchase_date", "2999-01-01"),
    ),
    # Longer than the column: PostgreSQL would refuse it, SQLite silently keep it.
    "language tag longer than its column": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "preferred_language": "zh-Hans-CN-pinyin"},
        status=422,
        error_id="validation_error",
        mentions=("body.preferred_language", "at most 16 characters"),
    ),
    "phone label longer than its column": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "phones": [{"number": "13912345678", "label": "家" * 33}]},
        status=422,
        error_id="validation_error",
        mentions=("body.phones.0.label", "at most 32 characters"),
    ),
    # Missing fields.
    "customer without a name": BadRequest(
        "POST",
        "/api/customers",
        json={"phones": [{"number": "13912345678"}]},
        status=422,
        error_id="validation_error",
        mentions=("body.name", "Field required"),
    ),
    "appliance without brand and customer": BadRequest(
        "POST",
        "/api/appliances",
        json={"category": "refrigerator"},
        status=422,
        error_id="validation_error",
        mentions=("body.brand", "body.customer_id", "Field required"),
    ),
    "address without a street": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "addresses": [{"province": "北京市", "city": "北京市"}]},
        status=422,
        error_id="validation_error",
        mentions=("body.addresses.0.street", "Field required"),
    ),
    "no body at all": BadRequest(
        "POST",
        "/api/orders",
        status=422,
        error_id="validation_error",
        mentions=("body", "Field required"),
    ),
    # Wrong types.
    "string for an integer": BadRequest(
        "POST",
        "/api/appliances",
        json={**APPLIANCE, "customer_id": "one"},
        status=422,
        error_id="validation_error",
        mentions=("body.customer_id", "valid integer"),
    ),
    "string for a boolean": BadRequest(
        "POST",
        "/api/appliances",
        json={**APPLIANCE, "customer_id": "{customer_id}", "has_invoice": "perhaps"},
        status=422,
        error_id="validation_error",
        mentions=("body.has_invoice", "valid boolean"),
    ),
    "list for an object": BadRequest(
        "POST",
        "/api/customers",
        json=[CUSTOMER],
        status=422,
        error_id="validation_error",
        mentions=("body", "valid dictionary"),
    ),
    "string for a nested object": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "phones": ["13912345678"]},
        status=422,
        error_id="validation_error",
        mentions=("body.phones.0", "valid dictionary"),
    ),
    "object for a list": BadRequest(
        "PATCH",
        "/api/customers/{customer_id}",
        json={"addresses": {"province": "北京市", "city": "北京市", "street": "建国路88号"}},
        status=422,
        error_id="validation_error",
        mentions=("body.addresses", "valid list"),
    ),
    "id beyond the integer range": BadRequest(
        "POST",
        "/api/orders",
        json={"customer_id": 2**63, "appliance_id": "{appliance_id}"},
        status=422,
        error_id="validation_error",
        mentions=("body.customer_id", "2147483647"),
    ),
    "path id beyond the integer range": BadRequest(
        "PATCH",
        "/api/customers/99999999999999999999",
        json={"notes": "VIP"},
        status=422,
        error_id="validation_error",
        mentions=("path.customer_id", "2147483647"),
    ),
    # Malformed bodies.
    "malformed JSON": BadRequest(
        "POST",
        "/api/customers",
        content='{"name": "李秀英", "phones": ['.encode(),
        extra_headers={"Content-Type": "application/json"},
        status=422,
        error_id="validation_error",
        mentions=("not valid JSON", "character"),
    ),
    "body that is not UTF-8": BadRequest(
        "POST",
        "/api/customers",
        content='{"name": "李秀英"}'.encode("gb18030"),
        extra_headers={"Content-Type": "application/json"},
        status=400,
        error_id="malformed_body",
        mentions=("parsing the body",),
    ),
    "NUL character in a name": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "name": "李\x00秀英"},
        status=422,
        error_id="validation_error",
        mentions=("body.name", "NUL"),
    ),
    "NUL character in a note": BadRequest(
        "PATCH",
        "/api/customers/{customer_id}",
        json={"notes": "VIP\x00"},
        status=422,
        error_id="validation_error",
        mentions=("body.notes", "NUL"),
    ),
    # Unknown fields: the models forbid extras rather than dropping them silently.
    "unknown top-level field": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "nickname": "小李"},
        status=422,
        error_id="validation_error",
        mentions=("body.nickname", "Extra inputs are not permitted"),
    ),
    "unknown nested field": BadRequest(
        "POST",
        "/api/customers",
        json={**CUSTOMER, "phones": [{"number": "13912345678", "kind": "mobile"}]},
        status=422,
        error_id="validation_error",
        mentions=("body.phones.0.kind", "Extra inputs are not permitted"),
    ),
    "unknown field in an update": BadRequest(
        "PATCH",
        "/api/appliances/{appliance_id}",
        json={"colour": "white"},
        status=422,
        error_id="validation_error",
        mentions=("body.colour", "Extra inputs are not permitted"),
    ),
}


def assert_problem(response: Response, status: int, error_id: str, *mentions: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert set(body) == {"error_id", "message", "details"}
    assert body["error_id"] == error_id
    for text in mentions:
        assert text in body["message"], f"{text!r} not in {body['message']!r}"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_refused_and_writes_nothing(
    case: BadRequest,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    db: Session,
    world: World,
) -> None:
    before = row_counts(db)
    response = client.request(
        case.method,
        case.path.format(**vars(world)),
        json=_fill(case.json, world),
        content=case.content,
        headers={**headers["agent"], **case.extra_headers},
    )
    assert_problem(response, case.status, case.error_id, *case.mentions)
    assert row_counts(db) == before


def _ten_megabytes() -> bytes:
    return json.dumps({"name": "李秀英", "notes": "x" * 10_000_000}).encode()


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_ten_megabyte_body_is_refused_and_writes_nothing(
    declared: bool, client: TestClient, headers: dict[str, dict[str, str]], db: Session
) -> None:
    """Refused whether the size is declared up front or only found while reading."""
    before = row_counts(db)
    body = _ten_megabytes()
    response = client.post(
        "/api/customers",
        content=body if declared else _chunks(body),
        headers={**headers["agent"], "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "payload_too_large", f"exceeds {DEFAULT_MAX_BODY} bytes")
    assert response.json()["details"] == {"max_bytes": DEFAULT_MAX_BODY}
    assert row_counts(db) == before
