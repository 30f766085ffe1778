"""The call-handling pieces one process shares, built once by the composition root and
handed to the app, the worker's jobs and the SIP endpoint alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

import redis

from core.bus import EventBus
from core.types import Clock
from ivr import Flow
from telephony.acd import Acd
from telephony.events import CallNotifier, PopPresenter
from telephony.presence import Presence


@dataclass(frozen=True)
class Switchboard:
    events: EventBus
    notifier: CallNotifier
    acd: Acd
    """With the agents' presence it offers calls to (``acd.presence``)."""
    flow: Flow
    """The IVR flow every inbound call runs, on either channel."""
    region: str
    """Where a caller's number without a country code is read."""
    flows: Mapping[str, Flow] = field(default_factory=dict)
    """Every flow by name, for the calls that run another than ``flow`` (surveys)."""

    @classmethod
    def over(
        cls,
        client: redis.Redis,
        *,
        flow: Flow,
        region: str,
        clock: Clock,
        present_pop: PopPresenter,
        flows: Mapping[str, Flow] | None = None,
        zone: tzinfo = UTC,
    ) -> Switchboard:
        events = EventBus(client)
        presence = Presence(client, events, clock=clock)
        return cls(
            events=events,
            notifier=CallNotifier(events, present_pop),
            acd=Acd(client, events, presence, clock=clock, zone=zone),
            flow=flow,
            region=region,
            flows=dict(flows) if flows is not None else {flow.name: flow},
        )
