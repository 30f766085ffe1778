"""Domain errors of calls."""

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
