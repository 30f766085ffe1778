"""Console routes: thin shells over agent_console.services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse

from agent_console import customer_file, services
from agent_console.config import ConsoleConfig
from agent_console.customer_file import CustomerFile, CustomerMatches, SearchText
from agent_console.gateway import console_config
from agent_console.schemas import (
    CallNoteIn,
    CallNotePublic,
    CallOrderIn,
    MyConsole,
    NewCallerIn,
    PopCard,
    ScreenPop,
    StationView,
    Wall,
)
from agent_console.station import station_view
from agent_console.wall import current_wall
from core.deps import BusDep, ClockDep, RegionDep, SessionDep
from orders import OrderPublic
from orders.http import IdempotencyKey, PathId, Staff, StationStaff, Supervisor
from recordings import LegalHoldIn, LegalHoldPublic, set_legal_hold
from telephony import AcdDep

router = APIRouter(prefix="/console", tags=["console"])
recordings_router = APIRouter(prefix="/recordings", tags=["recordings"])
CallId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]


# Only reads app.state, so async (see core.deps).
async def _config(request: Request) -> ConsoleConfig:
    return console_config(request.app)


ConfigDep = Annotated[ConsoleConfig, Depends(_config)]


@router.get("/me")
def my_console(actor: Staff, acd: AcdDep, clock: ClockDep) -> MyConsole:
    """The agent's own state, time in state, current call, and the states it may choose."""
    return services.my_console(acd.presence, actor=actor, now=clock())


@router.get("/calls/{call_id}/pop")
def call_pop(
    call_id: CallId,
    session: SessionDep,
    bus: BusDep,
    actor: Staff,
    config: ConfigDep,
    region: RegionDep,
    clock: ClockDep,
) -> ScreenPop:
    """The screen pop of a call offered to this agent (again, e.g. after a reload)."""
    return services.pop_for_call(
        session,
        bus=bus,
        call_id=call_id,
        actor=actor,
        config=config,
        region=region,
        clock=clock,
    )


@router.post("/calls/{call_id}/orders", status_code=201)
def create_order(
    call_id: CallId,
    data: CallOrderIn,
    session: SessionDep,
    actor: Staff,
    clock: ClockDep,
    request_key: IdempotencyKey = None,
) -> OrderPublic:
    """One click from the pop: a phone order for the card's customer and appliance (the
    console sends an ``Idempotency-Key``, so a double click makes one order)."""
    return services.create_order_for_call(
        session, call_id=call_id, data=data, actor=actor, clock=clock, request_key=request_key
    )


@router.post("/calls/{call_id}/customers", status_code=201)
def add_caller(
    call_id: CallId,
    data: NewCallerIn,
    session: SessionDep,
    actor: Staff,
    config: ConfigDep,
    region: RegionDep,
    clock: ClockDep,
) -> PopCard:
    """A new customer for an unknown caller, with the number the call came from."""
    return services.add_caller(
        session,
        call_id=call_id,
        data=data,
        actor=actor,
        config=config,
        region=region,
        clock=clock,
    )


@router.put("/calls/{call_id}/note")
def save_note(
    call_id: CallId, data: CallNoteIn, session: SessionDep, actor: Staff, clock: ClockDep
) -> CallNotePublic:
    """The agent's notes and disposition on the call (replaced on each save)."""
    return services.save_note(session, call_id=call_id, data=data, actor=actor, clock=clock)


@router.get("/calls/{call_id}/notes")
def call_notes(call_id: CallId, session: SessionDep, actor: Staff) -> list[CallNotePublic]:
    return services.notes_of_call(session, call_id=call_id, actor=actor)


@router.get("/wall")
def wall(
    session: SessionDep, _actor: Supervisor, acd: AcdDep, config: ConfigDep, clock: ClockDep
) -> Wall:
    """The wall as it is now (consoles receive it pushed over ``WS /ws/console``)."""
    return current_wall(session, acd=acd, now=clock(), config=config)


@router.get("/station")
def station(session: SessionDep, actor: StationStaff, clock: ClockDep) -> StationView:
    """The station's open jobs with their SLA clocks (an engineer: their own jobs)."""
    return station_view(session, viewer=actor, now=clock())


@recordings_router.get("/{recording_id}/audio", response_class=FileResponse)
def recording_audio(
    recording_id: PathId, session: SessionDep, actor: Staff, clock: ClockDep, request: Request
) -> FileResponse:
    """A recording's audio for the console's player, with HTTP Range (seeking fetches a
    part); supervisors, admins and the agent who handled the call may listen, and the
    agent on a call with the same customer hears the customer's earlier calls. Each
    playback (a fetch from the start) is audited."""
    path = services.recording_file(
        session,
        recording_id=recording_id,
        recordings_dir=request.app.state.recordings_dir,
        actor=actor,
        playback=_from_the_start(request.headers.get("range")),
        clock=clock,
    )
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})


def _from_the_start(range_header: str | None) -> bool:
    """A player starts with the whole file or bytes=0-; a seek asks for a later part."""
    return range_header is None or range_header.replace(" ", "").startswith("bytes=0-")


@recordings_router.put("/{recording_id}/legal-hold")
def legal_hold(
    recording_id: PathId,
    data: LegalHoldIn,
    session: SessionDep,
    actor: Supervisor,
    clock: ClockDep,
) -> LegalHoldPublic:
    """Keep a recording whatever its age (a dispute, a regulator's request), or release it;
    audited with the reason."""
    recording = set_legal_hold(
        session,
        recording_id=recording_id,
        hold=data.hold,
        reason=data.reason,
        actor=actor,
        clock=clock,
    )
    return LegalHoldPublic(recording_id=recording_id, legal_hold=recording.legal_hold)


# The customer's file. Its own router, mounted ahead of orders' routes: /customers/search
# would otherwise be taken for a customer id by GET /customers/{customer_id}.
customers_router = APIRouter(prefix="/customers", tags=["customers"])


@customers_router.get("/search")
def search_customers(
    q: Annotated[
        SearchText,
        Query(description="A phone number or its last 4+ digits, a name, an address, an order"),
    ],
    session: SessionDep,
    _actor: Staff,
    region: RegionDep,
) -> CustomerMatches:
    """Customers found by one search box, on the line or not: at most 20, with the total."""
    return customer_file.search_customers(session, q=q, region=region)


@customers_router.get("/{customer_id}/file")
def customer_file_of(
    customer_id: PathId, session: SessionDep, actor: Staff, clock: ClockDep
) -> CustomerFile:
    """The customer's whole file (客户服务档案): contact history with recordings, orders
    with their history, installation and maintenance records, complaints, outbound tasks
    and satisfaction scores."""
    return customer_file.customer_file(session, customer_id=customer_id, actor=actor, clock=clock)
