"""Errors of calls, queues and agent presence (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import Conflict, NotFound


class CallNotFound(NotFound):
    error_id = "call_not_found"


class InvalidCallTransition(Conflict):
    error_id = "invalid_call_transition"


class CallNotBridged(Conflict):
    error_id = "call_not_bridged"


class TransferInvalid(Conflict):
    error_id = "transfer_invalid"


class ConsultationNotReady(Conflict):
    """No consultation is under way, or the colleague has not picked up yet."""

    error_id = "consultation_not_ready"


class ConsultationUnderWay(Conflict):
    """A step that would leave the consulted colleague on the call (taking the caller off
    hold): the consultation is ended, or the call handed over, first."""

    error_id = "consultation_under_way"


class InvalidAgentState(Conflict):
    error_id = "invalid_agent_state"


class AgentNotOffered(InvalidAgentState):
    """The agent is no longer offered the call an ACD move was about (it moved on)."""

    error_id = "agent_not_offered"


class AgentNotOnCall(InvalidAgentState):
    """The agent is no longer talking on the call an ACD move was about (its end was
    already applied, or they have moved on to another call)."""

    error_id = "agent_not_on_call"


class AgentMovedMeanwhile(InvalidAgentState):
    """The agent changed state after the caller read them: a move decided on that reading
    (a sweep's) would undo the agent's own choice or a newer call's state."""

    error_id = "agent_moved_meanwhile"


class CallStillConnected(InvalidAgentState):
    """Wrap-up chosen while the agent's call is still connected to them: they would be
    offered the next caller while still talking. The call's end puts them in wrap-up."""

    error_id = "call_still_connected"


class AgentNotFound(NotFound):
    error_id = "agent_not_found"


class NoSuchOffer(Conflict):
    error_id = "no_such_offer"


class AgentUnavailable(Conflict):
    error_id = "agent_unavailable"
