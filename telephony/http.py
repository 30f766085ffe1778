"""Agent presence and queue routes for consoles and supervisors."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from callbacks import start_agent_call
from core.deps import ClockDep, SessionDep
from core.errors import PermissionDenied
from orders import Actor, Role, get_user
from orders.http import Staff, Supervisor
from telephony import calls, services
from telephony.acd import Acd, QueueConfig, QueueFigures
from telephony.deps import AcdDep, SwitchboardDep
from telephony.enums import CallChannel
from telephony.exceptions import NoSuchOffer
from telephony.presence import Agent, AgentState
from telephony.routing import agent_missed, choose_state, record_offers
from telephony.schemas import TransferTargets
from telephony.services import get_call

router = APIRouter(tags=["agents and queues"])
QueueName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
AgentIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


class LoginIn(BaseModel):
    # An extension here is refused, not ignored: only an admin assigns where calls ring.
    model_config = ConfigDict(extra="forbid")

    queues: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]] = Field(
        min_length=1, max_length=20
    )
    skills: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=50)


class StateIn(BaseModel):
    state: AgentState
    reason: str = Field(default="", max_length=200)


def _dispatch(session: SessionDep, acd: Acd, queues: list[str]) -> None:
    """Offer waiting calls to an agent who became free; the offers ring from the bus."""
    for queue in queues:
        record_offers(session, acd, acd.dispatch(queue))


@router.put("/agents/me/login")
def log_in(data: LoginIn, actor: Staff, acd: AcdDep, session: SessionDep) -> Agent:
    """Log in to queues and become available; waiting calls are offered at once.

    Calls ring at the extension an admin assigned to the user (PATCH /api/users/{id}).
    """
    assert actor.id is not None
    extension = get_user(session, user_id=actor.id).extension
    agent = acd.presence.log_in(
        actor.id, queues=data.queues, skills=data.skills, extension=extension
    )
    _dispatch(session, acd, agent.queues)
    return acd.presence.get(actor.id)


@router.put("/agents/me/state")
def set_my_state(data: StateIn, actor: Staff, acd: AcdDep, session: SessionDep) -> Agent:
    assert actor.id is not None
    agent = choose_state(session, acd, actor.id, data.state, reason=data.reason)
    if agent.state is AgentState.AVAILABLE:
        _dispatch(session, acd, agent.queues)
    return acd.presence.get(actor.id)


@router.post("/agents/me/decline")
def decline_offer(
    actor: Staff, board: SwitchboardDep, session: SessionDep, clock: ClockDep
) -> Agent:
    """Decline the call ringing for me: it goes to the next agent, and counts as a miss (a
    colleague's consultation ends instead, the call staying with them)."""
    assert actor.id is not None
    acd = board.acd
    agent = acd.presence.get(actor.id)
    if agent.state is not AgentState.OFFERED or agent.call_id is None:
        raise NoSuchOffer("no call is ringing for you", details={"state": agent.state.value})
    offer = acd.current_offer(agent.call_id)
    if offer is not None and offer.consult and offer.agent_id == actor.id:
        calls.end_consult(session, board, call_id=agent.call_id, consultant=actor.id, clock=clock)
    else:
        agent_missed(session, acd=acd, call_id=agent.call_id, agent_id=actor.id, declined=True)
    return acd.presence.get(actor.id)


class TakenOffer(BaseModel):
    call_id: str
    ringing_until: datetime
    """The agent's phone rings until then; the call is theirs once they pick it up."""


@router.post("/agents/me/accept")
def accept_offer(actor: Staff, board: SwitchboardDep) -> TakenOffer:
    """Accept the call ringing for me: it stays mine while my phone rings (no other agent
    is offered it); the audio comes when I pick up the phone or softphone."""
    assert actor.id is not None
    agent = board.acd.presence.get(actor.id)
    if agent.state is not AgentState.OFFERED or agent.call_id is None:
        raise NoSuchOffer("no call is ringing for you", details={"state": agent.state.value})
    offer = calls.take_offer(board, call_id=agent.call_id, agent_id=actor.id)
    return TakenOffer(call_id=offer.call_id, ringing_until=offer.expires_at)


@router.get("/agents")
def list_agents(_actor: Supervisor, acd: AcdDep) -> list[Agent]:
    return acd.presence.all()


@router.put("/agents/{agent_id}/state")
def set_agent_state(
    agent_id: AgentIdPath,
    data: StateIn,
    _actor: Supervisor,
    acd: AcdDep,
    session: SessionDep,
) -> Agent:
    """A supervisor changes an agent's state (e.g. frees one stuck on a break)."""
    agent = choose_state(session, acd, agent_id, data.state, reason=data.reason, supervisor=True)
    if agent.state is AgentState.AVAILABLE:
        _dispatch(session, acd, agent.queues)
    return acd.presence.get(agent_id)


@router.get("/queues")
def list_queues(_actor: Staff, board: SwitchboardDep) -> list[QueueFigures]:
    return calls.queue_figures(board)


@router.get("/queues/{queue}")
def queue_figures(queue: QueueName, _actor: Staff, acd: AcdDep) -> QueueFigures:
    return acd.figures(queue)


@router.put("/queues/{queue}")
def configure_queue(
    queue: QueueName, data: QueueConfig, _actor: Supervisor, acd: AcdDep
) -> QueueConfig:
    return acd.configure(data.model_copy(update={"name": queue}))


CallIdPath = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("/transfer-targets")
def transfer_targets(actor: Staff, board: SwitchboardDep, session: SessionDep) -> TransferTargets:
    """Where I may send a call: the queues, and the agents free to take it now."""
    assert actor.id is not None
    return calls.transfer_targets(session, board, agent_id=actor.id)


class TransferIn(BaseModel):
    """Exactly one target: a queue, or an agent who is available."""

    queue: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    agent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


def _own_call(session: SessionDep, actor: Actor, call_id: str) -> None:
    # Agents act on their own calls; supervisors on any.
    if actor.role is Role.AGENT and get_call(session, call_id=call_id).agent_id != actor.id:
        raise PermissionDenied(
            "agents can only act on their own calls", details={"call_id": call_id}
        )


@router.post("/calls/{call_id}/hold", status_code=204)
def hold(
    call_id: CallIdPath, actor: Staff, session: SessionDep, board: SwitchboardDep, clock: ClockDep
) -> None:
    """The caller hears hold music; the agent hears nothing until the call is resumed
    (SIP and Twilio calls alike)."""
    _own_call(session, actor, call_id)
    calls.hold(session, board, call_id=call_id, held=True, clock=clock)


@router.post("/calls/{call_id}/resume", status_code=204)
def resume(
    call_id: CallIdPath, actor: Staff, session: SessionDep, board: SwitchboardDep, clock: ClockDep
) -> None:
    _own_call(session, actor, call_id)
    calls.hold(session, board, call_id=call_id, held=False, clock=clock)


class ConsultIn(BaseModel):
    agent_id: int = Field(ge=1, le=2**31 - 1)


@router.post("/calls/{call_id}/consult", status_code=204)
def consult(
    call_id: CallIdPath,
    data: ConsultIn,
    actor: Staff,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> None:
    """Attended transfer: the caller is held and the colleague's phone rings; once they
    pick up, the two agents talk. Then complete (the call is theirs) or cancel."""
    _own_call(session, actor, call_id)
    calls.consult(session, board, call_id=call_id, agent_id=data.agent_id, clock=clock)


@router.post("/calls/{call_id}/consult/complete", status_code=204)
def complete_consult(
    call_id: CallIdPath, actor: Staff, session: SessionDep, board: SwitchboardDep, clock: ClockDep
) -> None:
    _own_call(session, actor, call_id)
    calls.complete_consult(session, board, call_id=call_id, clock=clock)


@router.post("/calls/{call_id}/consult/cancel", status_code=204)
def cancel_consult(
    call_id: CallIdPath, actor: Staff, session: SessionDep, board: SwitchboardDep, clock: ClockDep
) -> None:
    """The colleague's leg is hung up and the caller is back with the agent."""
    _own_call(session, actor, call_id)
    calls.end_consult(session, board, call_id=call_id, clock=clock)


@router.post("/calls/{call_id}/hangup", status_code=204)
def hang_up(
    call_id: CallIdPath, actor: Staff, session: SessionDep, board: SwitchboardDep, clock: ClockDep
) -> None:
    """End the call from the console (SIP and Twilio calls alike); the agent goes to
    wrap-up as after any call."""
    _own_call(session, actor, call_id)
    calls.hang_up(session, board, call_id=call_id, clock=clock)


@router.post("/calls/{call_id}/transfer", status_code=204)
def transfer(
    call_id: CallIdPath,
    data: TransferIn,
    actor: Staff,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
) -> None:
    """Blind transfer: the agent is released, the call waits for the target, whose phone
    rings when the offer reaches its channel (SIP and Twilio calls alike). Refused (409)
    while a consultation is under way: hand the call over or end the consultation first."""
    _own_call(session, actor, call_id)
    calls.transfer(
        session,
        board,
        call_id=call_id,
        queue=data.queue,
        agent_id=data.agent_id,
        clock=clock,
    )


class PlacedCall(BaseModel):
    call_id: str
    phone: str
    dialled_by: Literal["twilio", "softphone"]
    """``twilio``: the agent's phone rings, then the customer's; ``softphone``: the agent's
    SIP phone dials the number (the console offers it as a ``tel:`` link)."""


@router.post("/tasks/{task_id}/call", status_code=201, tags=["outbound"])
def call_task(
    task_id: AgentIdPath,
    actor: Staff,
    session: SessionDep,
    board: SwitchboardDep,
    clock: ClockDep,
    request: Request,
) -> PlacedCall:
    """Call a task's customer now: the call is logged with the customer's record as its pop
    (read it at ``/api/console/calls/{call_id}/pop``), and the task is in progress until the
    agent records its outcome."""
    dial = start_agent_call(session, task_id, actor=actor, now=clock())
    twilio = request.app.state.twilio
    jobs = request.app.state.jobs
    by_twilio = bool(twilio.account_sid and twilio.caller_id) and jobs is not None
    call = services.start_outbound_call(
        session,
        channel=CallChannel.TWILIO if by_twilio else CallChannel.SIP,
        to_number=dial.phone,
        from_number=twilio.caller_id or "",
        task_id=dial.task_id,
        agent_id=actor.id,
        region=board.region,
        clock=clock,
    )
    if by_twilio:
        enqueue = partial(jobs.enqueue_job, "ring_agent_for_callback", call_id=call.id)
        anyio.from_thread.run(enqueue)
    return PlacedCall(
        call_id=call.id, phone=dial.phone, dialled_by="twilio" if by_twilio else "softphone"
    )
