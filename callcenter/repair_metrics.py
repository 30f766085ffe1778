"""``callcenter_call_repairs_total``: the worker's repairs (``telephony.repairs``) on every
service process's ``/metrics``, read from Redis when scraped."""

from __future__ import annotations

from collections.abc import Iterator

import redis
import structlog
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from telephony.repairs import Repair, repair_counts

log = structlog.get_logger(__name__)

NAME = "callcenter_call_repairs"
HELP = (
    "Faults the worker's sweeps made up for, by kind: hang-ups lost between Twilio and us, "
    "calls left behind by a Redis failure, SIP calls of a dead endpoint"
)


class RepairsCollector(Collector):
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def describe(self) -> Iterator[CounterMetricFamily]:
        # Registering asks for the names: given here, not read from Redis at start.
        yield CounterMetricFamily(NAME, HELP, labels=["repair"])

    def collect(self) -> Iterator[CounterMetricFamily]:
        try:
            counts = repair_counts(self.client)
        except redis.RedisError as exc:
            # The rest of the scrape stands; a missing series says "unknown", not "none".
            log.warning("repairs not read for /metrics", error=str(exc))
            return
        family = CounterMetricFamily(NAME, HELP, labels=["repair"])
        for repair in Repair:
            family.add_metric([repair.value], counts[repair])
        yield family
