"""The customer's file (客户服务档案) through the API: found by one search box whether the
customer is on the line or not, and read whole (calls with recordings and transcripts,
orders with their history, installation and maintenance records, complaints, callbacks
and scores), for hotline staff only, giving away no more of a call than the player does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from agent_console.enums import CallOutcome
from agent_console.models import CallNote
from callbacks.enums import AssigneeKind, Outcome, TaskPurpose, TaskStatus
from callbacks.models import OutboundTask
from callbacks.schemas import OutcomeIn
from callbacks.services.outcomes import record_outcome
from orders.enums import ContactTopic, OrderStatus, OrderType, Role
from orders.models import Station, User
from orders.schemas import (
    SYSTEM,
    Actor,
    AddressIn,
    ContactIn,
    InstallationRecordIn,
    MaintenancePlanIn,
    MaintenanceRecordIn,
    OrderCreate,
    TransitionIn,
)
from orders.services import complaints, maintenance_plans, service_records, work_orders
from recordings.models import Recording, Transcript, TranscriptSegment, TranscriptState
from telephony.enums import CallState, Disposition
from telephony.models import Call
from tests.conftest import OPEN_HOURS, bearer, fixed_clock

PROBLEM = "application/problem+json"
MOBILE = "+8613912345678"
LANDLINE = "+862158881234"
SAID = [
    ("customer", 0.0, 1.1, "洗衣机还是不脱水"),
    ("agent", 1.2, 2.0, "我帮您安排师傅上门"),
]
TO_SERVICE = (
    OrderStatus.ASSIGNED,
    OrderStatus.ACCEPTED,
    OrderStatus.CONTACTED,
    OrderStatus.IN_SERVICE,
)


@dataclass
class Seeded:
    customer: Any
    other: Any
    repair: Any
    installation: Any
    maintenance: Any
    call: Call
    quiet_call: Call
    stranger_call: Call
    recording: Recording
    task_id: int
    handler: User


def _moved(db: Session, order: Any, station: Station, *steps: OrderStatus, hours: int) -> None:
    for index, step in enumerate(steps):
        work_orders.transition_order(
            db,
            order_id=order.id,
            data=TransitionIn(to=step, station_id=station.id),
            actor=SYSTEM,
            clock=fixed_clock(OPEN_HOURS - timedelta(hours=hours - index)),
        )


def _order(db: Session, customer: Any, appliance: Any, kind: OrderType, *, hours: int) -> Any:
    return work_orders.create_order(
        db,
        data=OrderCreate(
            customer_id=customer.id,
            appliance_id=appliance.id,
            order_type=kind,
            fault_description="洗衣机不脱水" if kind is OrderType.REPAIR else "",
        ),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(hours=hours)),
    )


def _customers(make_customer: Any) -> tuple[Any, Any]:
    customer = make_customer(
        name="刘晓梅",
        title="女士",
        phones=("139 1234 5678", "021-5888 1234"),
        addresses=[
            AddressIn(province="上海市", city="上海市", district="浦东新区", street="世纪大道100号")
        ],
    )
    other = make_customer(name="王建国", phones=("13800138000",))  # 北京 建国路88号
    return customer, other


def _orders(
    db: Session, station: Station, customer: Any, make_appliance: Any
) -> tuple[Any, Any, Any]:
    washer = make_appliance(customer.id, brand="海尔")
    aircon = make_appliance(customer.id, category="air_conditioner", brand="格力")
    repair = _order(db, customer, washer, OrderType.REPAIR, hours=300)
    _moved(db, repair, station, *TO_SERVICE, OrderStatus.COMPLETED, hours=290)
    installation = _order(db, customer, aircon, OrderType.INSTALLATION, hours=250)
    _moved(db, installation, station, *TO_SERVICE, hours=240)
    service_records.file_installation(
        db,
        order_id=installation.id,
        data=InstallationRecordIn(
            unboxing_ok=True, commissioned=True, training_given=True, customer_confirmed_by="刘晓梅"
        ),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(hours=236)),
    )
    _moved(db, installation, station, OrderStatus.COMPLETED, hours=235)
    maintenance_plans.create_plan(
        db,
        appliance_id=aircon.id,
        data=MaintenancePlanIn(
            task="空调清洗", interval_months=12, next_due=(OPEN_HOURS + timedelta(days=200)).date()
        ),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(hours=230)),
    )
    maintenance = _order(db, customer, aircon, OrderType.MAINTENANCE, hours=100)
    _moved(db, maintenance, station, *TO_SERVICE, hours=90)
    service_records.file_maintenance(
        db,
        order_id=maintenance.id,
        data=MaintenanceRecordIn(work_done="清洗滤网和蒸发器", customer_confirmed_by="刘晓梅"),
        actor=SYSTEM,
        clock=fixed_clock(OPEN_HOURS - timedelta(hours=86)),
    )
    return repair, installation, maintenance


def _recorded_call(
    db: Session, call: Call, make_recording: Any, recordings_dir: Path, handler: User
) -> Recording:
    recording: Recording = make_recording(call, recordings_dir, seconds=2.0)
    assert recording.id is not None
    recording.agent_id = handler.id
    recording.transcript_state = TranscriptState.DONE
    transcript = Transcript(
        recording_id=recording.id,
        call_id=call.id,
        customer_id=recording.customer_id,
        language="zh-CN",
        model="test-model",
        text="\n".join(text for *_, text in SAID),
        created_at=call.ringing_at,
    )
    db.add_all([recording, transcript])
    db.flush()
    assert transcript.id is not None
    db.add_all(
        TranscriptSegment(
            transcript_id=transcript.id,
            speaker=who,
            start_seconds=start,
            end_seconds=end,
            text=text,
        )
        for who, start, end, text in SAID
    )
    db.add(
        CallNote(
            call_id=call.id,
            agent_id=handler.id or 0,
            disposition=CallOutcome.COMPLAINT,
            notes="客户投诉上门超时",
            created_at=call.ringing_at,
            updated_at=call.ringing_at,
        )
    )
    db.commit()
    return recording


def _ended(call: Call, number: str, *, agent: User | None, order_id: int | None) -> Call:
    call.from_number = call.from_e164 = number
    call.agent_id = agent.id if agent else None
    call.order_id = order_id
    call.answered_at = call.ringing_at + timedelta(seconds=20)
    call.ended_at = call.ringing_at + timedelta(seconds=200)
    call.disposition = Disposition.COMPLETED
    return call


def _scored_callback(db: Session, customer: Any, repair: Any, handler: User) -> int:
    moment = OPEN_HOURS - timedelta(hours=200)
    task = OutboundTask(
        purpose=TaskPurpose.SATISFACTION,
        order_id=repair.id,
        customer_id=customer.id,
        phone=MOBILE,
        earliest_at=moment,
        deadline_at=moment + timedelta(hours=48),
        assignee_kind=AssigneeKind.AGENT,
        assignee_id=handler.id,
        status=TaskStatus.SCHEDULED,
        due_at=moment,
        created_by="test",
        created_at=moment,
        updated_at=moment,
    )
    db.add(task)
    db.commit()
    assert task.id is not None and handler.id is not None
    record_outcome(
        db,
        task.id,
        OutcomeIn(outcome=Outcome.SCORE_GIVEN, score=4, comment="师傅很专业"),
        actor=Actor(id=handler.id, name=handler.full_name, role=Role.AGENT),
        now=moment + timedelta(minutes=5),
    )
    return task.id


def seed_file(
    db: Session,
    *,
    station: Station,
    handler: User,
    recordings_dir: Path,
    make_customer: Any,
    make_appliance: Any,
    make_call: Any,
    make_recording: Any,
) -> Seeded:
    """A customer with a bit of everything, and another whose things must stay out of it."""
    customer, other = _customers(make_customer)
    repair, installation, maintenance = _orders(db, station, customer, make_appliance)
    earlier = OPEN_HOURS - timedelta(days=3)
    call = _ended(
        make_call(
            customer_ids=[customer.id], state=CallState.ENDED, queue=None, ringing_at=earlier
        ),
        MOBILE,
        agent=handler,
        order_id=repair.id,
    )
    # Found by the number it came from alone: no recording, no order.
    quiet = _ended(
        make_call(state=CallState.ENDED, queue=None, ringing_at=earlier - timedelta(days=1)),
        LANDLINE,
        agent=None,
        order_id=None,
    )
    stranger = _ended(
        make_call(customer_ids=[other.id], state=CallState.ENDED, queue=None, ringing_at=earlier),
        "+8613800138000",
        agent=handler,
        order_id=None,
    )
    db.add_all([call, quiet, stranger])
    db.commit()
    recording = _recorded_call(db, call, make_recording, recordings_dir, handler)
    complaints.record_contact(
        db,
        customer_id=customer.id,
        data=ContactIn(
            topic=ContactTopic.COMPLAINT,
            content="上门超时",
            note="师傅迟到两小时",
            call_id=call.id,
            order_id=repair.id,
            crisis_level=2,
        ),
        actor=SYSTEM,
        clock=fixed_clock(earlier + timedelta(minutes=3)),
    )
    task_id = _scored_callback(db, customer, repair, handler)
    return Seeded(
        customer=customer,
        other=other,
        repair=repair,
        installation=installation,
        maintenance=maintenance,
        call=call,
        quiet_call=quiet,
        stranger_call=stranger,
        recording=recording,
        task_id=task_id,
        handler=handler,
    )


@pytest.fixture
def seeded(
    db: Session,
    app: Any,
    station: Station,
    make_user: Any,
    make_customer: Any,
    make_appliance: Any,
    make_call: Any,
    make_recording: Any,
) -> Seeded:
    return seed_file(
        db,
        station=station,
        handler=make_user(Role.AGENT),
        recordings_dir=app.state.recordings_dir,
        make_customer=make_customer,
        make_appliance=make_appliance,
        make_call=make_call,
        make_recording=make_recording,
    )


def _file(client: TestClient, customer_id: int, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/api/customers/{customer_id}/file", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Search


@pytest.fixture
def two_customers(db: Session, station: Station, make_customer: Any, make_appliance: Any) -> Any:
    customer, other = _customers(make_customer)
    washer = make_appliance(customer.id)
    order = _order(db, customer, washer, OrderType.REPAIR, hours=10)
    make_appliance(other.id)
    return customer, order


@pytest.mark.parametrize(
    "query",
    [
        "139 1234 5678",
        "+86 139-1234-5678",
        "(021) 5888-1234",
        "5678",
        "晓梅",
        "浦东新区世纪大道",
        "世纪大道 100号",
        "ORDER",
        "order-in-lower-case",
    ],
)
def test_search_finds_a_customer_by_each_key(
    client: TestClient, headers: dict[str, Any], two_customers: Any, query: str
) -> None:
    _customer, order = two_customers
    query = {"ORDER": order.number, "order-in-lower-case": order.number.lower()}.get(query, query)

    response = client.get("/api/customers/search", params={"q": query}, headers=headers["agent"])

    assert response.status_code == 200, response.text
    found = response.json()
    assert [c["name"] for c in found["items"]] == ["刘晓梅"]
    assert found["total"] == 1
    assert found["items"][0]["phones"][0]["e164"] == MOBILE


def test_a_search_shows_20_exact_finds_first_and_counts_all(
    client: TestClient, headers: dict[str, Any], make_customer: Any
) -> None:
    for index in range(23):
        make_customer(name=f"张伟{index:02d}", phones=())
    make_customer(name="张伟", phones=())
    make_customer(name="李伟", phones=())

    found = client.get(
        "/api/customers/search", params={"q": " 张伟 "}, headers=headers["supervisor"]
    ).json()

    assert found["total"] == 24
    assert found["limit"] == 20
    names = [c["name"] for c in found["items"]]
    assert names == ["张伟"] + [f"张伟{index:02d}" for index in range(19)]


def test_a_search_finds_nobody_for_a_short_tail_a_stranger_or_wildcards(
    client: TestClient, headers: dict[str, Any], two_customers: Any
) -> None:
    # A tail too short to tell anyone, a number nobody has, wildcards taken as text.
    for query in ("678", "13999999999", "广州", "%_\\", "0" * 100):
        found = client.get(
            "/api/customers/search", params={"q": query}, headers=headers["agent"]
        ).json()
        assert (query, found["total"], found["items"]) == (query, 0, [])


@pytest.mark.parametrize(
    "params", [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "王\x00建国"}]
)
def test_a_search_without_a_usable_query_is_a_422_problem(
    client: TestClient, headers: dict[str, Any], params: dict[str, str]
) -> None:
    response = client.get("/api/customers/search", params=params, headers=headers["agent"])

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["error_id"] == "validation_error"
    assert body["details"]["errors"][0]["location"] == ["query", "q"]


# The file


def test_the_file_holds_the_customer_s_whole_history(
    client: TestClient, headers: dict[str, Any], seeded: Seeded, station: Station
) -> None:
    body = _file(client, seeded.customer.id, headers["supervisor"])

    assert body["customer"]["name"] == "刘晓梅"
    assert [p["e164"] for p in body["customer"]["phones"]] == [MOBILE, LANDLINE]
    assert (body["grade"], body["last_satisfaction_score"]) == ("individual", 4)
    assert body["time_zone"] == "Asia/Shanghai"
    assert [a["brand"] for a in body["appliances"]] == ["海尔", "格力"]

    calls = body["calls"]
    assert calls["total"] == 2
    assert [c["id"] for c in calls["items"]] == [seeded.call.id, seeded.quiet_call.id]
    call = calls["items"][0]
    assert (call["number"], call["order_number"]) == (MOBILE, seeded.repair.number)
    assert call["agent_name"] == seeded.handler.full_name
    assert [(n["disposition"], n["notes"]) for n in call["notes"]] == [
        ("complaint", "客户投诉上门超时")
    ]
    [recording] = call["recordings"]
    assert (recording["id"], recording["playable"]) == (seeded.recording.id, True)
    assert [(s["speaker"], s["start_seconds"], s["text"]) for s in recording["transcript"]] == [
        (who, start, text) for who, start, _, text in SAID
    ]
    assert calls["items"][1]["recordings"] == []
    assert [(c["topic"], c["content"], c["call_id"]) for c in body["contacts"]["items"]] == [
        ("complaint", "上门超时", seeded.call.id)
    ]

    orders = {o["number"]: o for o in body["orders"]["items"]}
    assert body["orders"]["total"] == 3
    assert list(orders) == [
        seeded.maintenance.number,
        seeded.installation.number,
        seeded.repair.number,
    ]
    repair = orders[seeded.repair.number]
    assert [step["to_status"] for step in repair["history"]] == [
        "new",
        "assigned",
        "accepted",
        "contacted",
        "in_service",
        "completed",
    ]
    assert (repair["status"], repair["station_name"]) == ("completed", station.name)
    assert orders[seeded.maintenance.number]["status"] == "in_service"

    [installed] = body["installations"]
    assert installed["order_number"] == seeded.installation.number
    assert (installed["commissioned"], installed["customer_confirmed_by"]) == (True, "刘晓梅")
    [maintained] = body["maintenance_records"]
    assert (maintained["order_number"], maintained["work_done"]) == (
        seeded.maintenance.number,
        "清洗滤网和蒸发器",
    )
    assert [(p["task"], p["interval_months"]) for p in body["maintenance_plans"]] == [
        ("空调清洗", 12)
    ]

    [complaint] = body["complaints"]["items"]
    assert (complaint["topic"], complaint["crisis_level"], complaint["status"]) == (
        "上门超时",
        2,
        "open",
    )
    assert (complaint["description"], complaint["order_number"]) == (
        "师傅迟到两小时",
        seeded.repair.number,
    )

    callbacks = {task["id"]: task for task in body["callbacks"]["items"]}
    scored = callbacks[seeded.task_id]
    assert (scored["purpose"], scored["status"], scored["outcome"], scored["score"]) == (
        "satisfaction",
        "done",
        "score_given",
        4,
    )
    assert (scored["order_number"], scored["assignee_name"]) == (
        seeded.repair.number,
        seeded.handler.full_name,
    )
    # The repair's completion told the customer and queued the station's own follow-up.
    assert {t["purpose"] for t in callbacks.values()} == {
        "satisfaction",
        "notice_repaired",
        "station_follow_up",
    }
    assert [(s["order_number"], s["score"], s["comment"]) for s in body["satisfaction"]] == [
        (seeded.repair.number, 4, "师傅很专业")
    ]


def test_another_customer_s_file_holds_none_of_it(
    client: TestClient, headers: dict[str, Any], seeded: Seeded
) -> None:
    body = _file(client, seeded.other.id, headers["supervisor"])

    assert [c["id"] for c in body["calls"]["items"]] == [seeded.stranger_call.id]
    for section in ("orders", "complaints", "callbacks", "contacts"):
        assert body[section] == {"items": [], "total": 0}, section
    assert body["installations"] == body["maintenance_records"] == body["satisfaction"] == []


def test_an_agent_reads_what_was_said_only_where_it_may_hear_the_call(
    client: TestClient, headers: dict[str, Any], seeded: Seeded, make_user: Any, make_call: Any
) -> None:
    def recording_as(user_headers: dict[str, str]) -> dict[str, Any]:
        body = _file(client, seeded.customer.id, user_headers)
        recording: dict[str, Any] = body["calls"]["items"][0]["recordings"][0]
        return recording

    stranger = make_user(Role.AGENT)
    listed = recording_as(bearer(stranger))
    assert (listed["id"], listed["playable"], listed["transcript"]) == (
        seeded.recording.id,
        False,
        None,
    )
    audio = client.get(f"/api/recordings/{seeded.recording.id}/audio", headers=bearer(stranger))
    assert audio.status_code == 403  # the player says the same

    assert recording_as(bearer(seeded.handler))["transcript"][0]["text"] == SAID[0][3]

    # On the line with the customer now: the pop's player lets the agent hear earlier calls.
    make_call(state=CallState.BRIDGED, agent_id=stranger.id, customer_ids=[seeded.customer.id])
    heard = recording_as(bearer(stranger))
    assert (heard["playable"], len(heard["transcript"])) == (True, len(SAID))


def test_an_unknown_customer_s_file_is_a_404_problem(
    client: TestClient, headers: dict[str, Any]
) -> None:
    response = client.get("/api/customers/999999/file", headers=headers["agent"])

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["error_id"] == "customer_not_found"


def test_stations_and_engineers_neither_search_nor_read_files(
    client: TestClient,
    headers: dict[str, Any],
    make_user: Any,
    make_customer: Any,
    station: Station,
) -> None:
    customer = make_customer()
    engineer = bearer(make_user(Role.ENGINEER, station_id=station.id))
    for who in (headers["station"], engineer):
        search = client.get("/api/customers/search", params={"q": "王建国"}, headers=who)
        file = client.get(f"/api/customers/{customer.id}/file", headers=who)
        assert (search.status_code, file.status_code) == (403, 403)
        assert file.json()["error_id"] == "permission_denied"
    for who in (headers["agent"], headers["supervisor"], headers["admin"]):
        assert client.get(f"/api/customers/{customer.id}/file", headers=who).status_code == 200
    assert client.get("/api/customers/search", params={"q": "王"}).status_code == 401
