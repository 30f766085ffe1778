"""The figures the worker's sweeps keep in Redis, on every service process's ``/metrics``,
read when scraped: ``callcenter_call_repairs_total`` (the repairs, ``telephony.repairs``)
and ``callcenter_twilio_calls_untold`` (calls the settling cannot ask Twilio about,
``telephony.twilio.settle``)."""

from __future__ import annotations

from collections.abc import Iterator

import redis
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from telephony.repairs import Repair, repair_counts
from telephony.twilio.settle import untold_calls

log = structlog.get_logger(__name__)

REPAIRS = "callcenter_call_repairs"
REPAIRS_HELP = (
    "Faults the worker's sweeps made up for, by kind: hang-ups lost between Twilio and us, "
    "calls left behind by a Redis failure, SIP calls of a dead endpoint"
)
UNTOLD = "callcenter_twilio_calls_untold"
UNTOLD_HELP = (
    "Live Twilio calls Twilio told nothing of when last asked (a SID it does not know, a "
    "refusal): a hang-up such a call lost is not found; check the account's SID"
)


class SweepFigures(Collector):
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def describe(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        # Registering asks for the names: given here, not read from Redis at start.
        yield CounterMetricFamily(REPAIRS, REPAIRS_HELP, labels=["repair"])
        yield GaugeMetricFamily(UNTOLD, UNTOLD_HELP)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        try:
            counts = repair_counts(self.client)
            untold = untold_calls(self.client)
        except redis.RedisError as exc:
            # The rest of the scrape stands; a missing series says "unknown", not "none".
            log.warning("the sweeps' figures not read for /metrics", error=str(exc))
            return
        repairs = CounterMetricFamily(REPAIRS, REPAIRS_HELP, labels=["repair"])
        for repair in Repair:
            repairs.add_metric([repair.value], counts[repair])
        yield repairs
        yield GaugeMetricFamily(UNTOLD, UNTOLD_HELP, value=untold)
