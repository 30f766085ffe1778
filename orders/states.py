"""The work-order state machine: one table, one function that applies it."""

from __future__ import annotations

from orders.enums import OrderStatus as S
from orders.enums import ServiceMode
from orders.exceptions import InvalidTransition

OPEN_STATES: frozenset[S] = frozenset(
    {
        S.NEW,
        S.ASSIGNED,
        S.ACCEPTED,
        S.CONTACTED,
        S.IN_SERVICE,
        S.WAITING_PARTS,
        S.HARD_TO_REPAIR,
        S.REOPENED,
    }
)
"""States in which work is still owed to the customer; each can be cancelled."""

AWAITED_STATES: frozenset[S] = OPEN_STATES | {S.READY_FOR_PICKUP}
"""What the customer still waits on: open work, and a machine waiting at the station to be
collected. The pop shows these, and the IVR reads the newest of them out."""

_FORWARD: dict[S, frozenset[S]] = {
    S.NEW: frozenset({S.ASSIGNED}),
    S.ASSIGNED: frozenset({S.ACCEPTED}),
    S.ACCEPTED: frozenset({S.CONTACTED}),
    # A fault diagnosed on the phone may need parts before the visit: the on-site clock
    # then pauses until they arrive.
    S.CONTACTED: frozenset({S.IN_SERVICE, S.WAITING_PARTS}),
    S.IN_SERVICE: frozenset({S.COMPLETED, S.WAITING_PARTS, S.HARD_TO_REPAIR}),
    # Parts arrived: back to the customer for a new visit; a machine at the station goes
    # straight back to the bench (see allowed_targets).
    S.WAITING_PARTS: frozenset({S.IN_SERVICE, S.CONTACTED}),
    S.HARD_TO_REPAIR: frozenset({S.IN_SERVICE}),
    S.COMPLETED: frozenset({S.REOPENED}),
    S.READY_FOR_PICKUP: frozenset({S.PICKED_UP}),
    S.PICKED_UP: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.CANCELLED: frozenset(),
    # A reopened order goes back to a station, or straight back into service when the
    # engineer who did the work takes it up again.
    S.REOPENED: frozenset({S.ASSIGNED, S.IN_SERVICE}),
}

# Carry-in appliances wait at the station for the customer; on-site work closes directly.
_AFTER_COMPLETED: dict[ServiceMode, S] = {
    ServiceMode.ON_SITE: S.CLOSED,
    ServiceMode.CARRY_IN: S.READY_FOR_PICKUP,
}


def allowed_targets(current: S, mode: ServiceMode) -> list[S]:
    targets = set(_FORWARD[current])
    if current is S.WAITING_PARTS and mode is ServiceMode.ON_SITE:
        # The customer is called again and a new visit agreed (spec: 配件到后重新联系预约).
        targets.discard(S.IN_SERVICE)
    if current is S.COMPLETED:
        targets.add(_AFTER_COMPLETED[mode])
    if current in OPEN_STATES:
        targets.add(S.CANCELLED)
    return sorted(targets, key=list(S).index)


def check_transition(current: S, target: S, mode: ServiceMode) -> None:
    """Raise InvalidTransition, listing the legal targets, unless current → target is legal."""
    allowed = allowed_targets(current, mode)
    if target not in allowed:
        raise InvalidTransition(
            f"a {mode.value} order cannot go from {current.value} to {target.value}",
            details={
                "from": current.value,
                "to": target.value,
                "allowed": [state.value for state in allowed],
            },
        )
