"""Channel-neutral calls and their events; the SIP and Twilio channels live below.

The names below are the package's public API; other packages import only these. The
channels (``telephony.sip``, ``telephony.twilio``) and the routes are wired by the
composition root and are not imported from here, so importing ``telephony`` starts no
SIP stack and mounts no route.
"""

from telephony.acd import Acd, QueueFigures
from telephony.constants import POP
from telephony.deps import AcdDep
from telephony.enums import CallChannel, CallState, Direction, Disposition, ProviderStatus
from telephony.events import PopPresenter
from telephony.exceptions import (
    AgentMovedMeanwhile,
    AgentNotFound,
    AgentNotOffered,
    AgentNotOnCall,
    AgentUnavailable,
    CallNotBridged,
    CallNotFound,
    CallStillConnected,
    ConsultationUnderWay,
    InvalidAgentState,
    InvalidCallTransition,
    NoSuchOffer,
    TransferInvalid,
)
from telephony.figures import calls_per_hour, live_calls
from telephony.models import LIVE, Call
from telephony.presence import CHOICES as AGENT_CHOICES
from telephony.presence import AgentState, Presence
from telephony.schemas import HourFigures, LiveCall
from telephony.services import attach_order, caller_pop

__all__ = [
    "AGENT_CHOICES",
    "LIVE",
    "POP",
    "Acd",
    "AcdDep",
    "AgentMovedMeanwhile",
    "AgentNotFound",
    "AgentNotOffered",
    "AgentNotOnCall",
    "AgentState",
    "AgentUnavailable",
    "Call",
    "CallChannel",
    "CallNotBridged",
    "CallNotFound",
    "CallState",
    "CallStillConnected",
    "ConsultationUnderWay",
    "Direction",
    "Disposition",
    "HourFigures",
    "InvalidAgentState",
    "InvalidCallTransition",
    "LiveCall",
    "NoSuchOffer",
    "PopPresenter",
    "Presence",
    "ProviderStatus",
    "QueueFigures",
    "TransferInvalid",
    "attach_order",
    "caller_pop",
    "calls_per_hour",
    "live_calls",
]
