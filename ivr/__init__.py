"""The IVR: what callers hear and what their keys and words lead to, on any channel.

A pure engine behind its ``Backend`` port: what the IVR does to the world (an order
taken, a callback booked) is done by whoever implements the port, so the IVR reaches no
other package's services. The names below are the package's public API; ``store`` is the
session store (``store.save``, ``store.load``).
"""

from ivr import store
from ivr.engine import Backend, Engine, IvrSession
from ivr.exceptions import (
    FlowError,
    PromptRenderFailed,
    PromptUnavailable,
    RecordedPromptInvalid,
    SpeechRecognitionFailed,
    SpeechUnavailable,
)
from ivr.flow import BUILTIN_FLOWS, Flow, load_flow, load_flows
from ivr.speech import PhraseRecognizer, SpeechModel, load_model
from ivr.tts import PromptCache, cache_key
from ivr.turns import Action, Ask, CallerInput, Enqueue, Hangup, Say, Turn

__all__ = [
    "BUILTIN_FLOWS",
    "Action",
    "Ask",
    "Backend",
    "CallerInput",
    "Engine",
    "Enqueue",
    "Flow",
    "FlowError",
    "Hangup",
    "IvrSession",
    "PhraseRecognizer",
    "PromptCache",
    "PromptRenderFailed",
    "PromptUnavailable",
    "RecordedPromptInvalid",
    "Say",
    "SpeechModel",
    "SpeechRecognitionFailed",
    "SpeechUnavailable",
    "Turn",
    "cache_key",
    "load_flow",
    "load_flows",
    "load_model",
    "store",
]
