"""``callcenter_twilio_calls_untold``: live Twilio calls the worker's settling cannot ask
Twilio about (``telephony.twilio.settle``), on every service process's ``/metrics``, read
from Redis when scraped."""

from __future__ import annotations

from collections.abc import Iterator

import redis
import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from telephony.twilio.settle import untold_calls

log = structlog.get_logger(__name__)

NAME = "callcenter_twilio_calls_untold"
HELP = (
    "Live Twilio calls Twilio told nothing of when last asked (a SID it does not know, a "
    "refusal): a hang-up such a call lost is not found; check the account's SID"
)


class UntoldCallsCollector(Collector):
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registering asks for the names: given here, not read from Redis at start.
        yield GaugeMetricFamily(NAME, HELP)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            count = untold_calls(self.client)
        except redis.RedisError as exc:
            # The rest of the scrape stands; a missing series says "unknown", not "none".
            log.warning("untold twilio calls not read for /metrics", error=str(exc))
            return
        yield GaugeMetricFamily(NAME, HELP, value=count)
