"""The call state machine."""

from __future__ import annotations

from telephony.enums import CallState as S
from telephony.exceptions import InvalidCallTransition

TRANSITIONS: dict[S, frozenset[S]] = {
    S.RINGING: frozenset({S.IN_IVR, S.QUEUED, S.BRIDGED, S.ENDED}),
    S.IN_IVR: frozenset({S.QUEUED, S.ENDED}),
    # A caller who waited too long leaves the queue for the IVR (callback, voicemail).
    S.QUEUED: frozenset({S.OFFERED, S.IN_IVR, S.ENDED}),
    # An offer that times out puts the call back in the queue.
    S.OFFERED: frozenset({S.QUEUED, S.BRIDGED, S.ENDED}),
    S.BRIDGED: frozenset({S.QUEUED, S.ENDED}),
    S.ENDED: frozenset(),
}


def check_call_transition(call_id: str, current: S, target: S) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidCallTransition(
            f"call {call_id} cannot go from {current.value} to {target.value}",
            details={
                "from": current.value,
                "to": target.value,
                "allowed": sorted(s.value for s in TRANSITIONS[current]),
            },
        )
