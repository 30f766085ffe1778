"""IVR engine throughput: steps per second of the pure engine over the built-in flow.

Run from the repository root: ``python -m benchmarks.ivr``. Prints its figures and writes
benchmarks/results/ivr.json. The engine runs against an
in-memory backend here on purpose: this measures the state machine, not the database
(the lookup and webhook benchmarks measure those).
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.machine import machine
from ivr.engine import Engine
from ivr.flow import BUILTIN_FLOWS, load_flows
from ivr.turns import CallerInput
from orders.enums import ApplianceCategory, WarrantyStatus
from orders.schemas import AppliancePublic, CallerCard, CallerLookup

RESULTS = Path(__file__).parent / "results" / "ivr.json"
JOURNEYS = 20_000


class MemoryBackend:
    """Keeps what the flow does in lists, so only the engine's own work is timed."""

    def __init__(self) -> None:
        self.orders: list[str] = []
        self.callbacks: list[str] = []

    def now(self) -> datetime:
        return datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def create_repair(self, *, customer_id: int, appliance_id: int, description: str) -> str:
        self.orders.append(description)
        return f"WO{len(self.orders):014d}"

    def order_status(self, *, customer_id: int | None, number: str | None) -> tuple[str, str]:
        return ("WO20261122000001", "in_service")

    def book_callback(self, *, call_id: str, customer_id: int | None, band: str) -> None:
        self.callbacks.append(band)

    def callback_slots(self, *, customer_id: int | None, count: int) -> list[datetime]:
        return []

    def book_callback_at(self, *, call_id: str, customer_id: int | None, at: datetime) -> None:
        self.callbacks.append(at.isoformat())

    def record_survey(self, *, call_id: str, answers: dict[str, str]) -> None:
        self.callbacks.append(answers.get("score", ""))


def _caller() -> CallerLookup:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    appliances = [
        AppliancePublic(
            id=i,
            customer_id=1,
            category=category,
            brand="海尔",
            model="X",
            serial="",
            purchase_date=None,
            manufacture_date=None,
            has_invoice=True,
            warranty_months=12,
            extended_warranty_until=None,
            warranty_status=WarrantyStatus.IN_WARRANTY,
            created_at=now,
            updated_at=now,
        )
        for i, category in enumerate([ApplianceCategory.REFRIGERATOR, ApplianceCategory.TV], 1)
    ]
    card = CallerCard(
        id=1,
        name="王建国",
        title="先生",
        preferred_language="zh-CN",
        notes="",
        phones=[],
        addresses=[],
        appliances=appliances,
        open_orders=[],
        recent_orders=[],
        open_complaints=0,
    )
    return CallerLookup(phone="+8613800138000", customers=[card])


def run() -> dict[str, object]:
    engine = Engine(load_flows(BUILTIN_FLOWS)["hotline"], MemoryBackend())
    pop = _caller()
    script = [
        CallerInput(digits="7"),
        CallerInput(digits="2"),
        CallerInput(digits="#"),
        CallerInput(digits="1"),
        CallerInput(digits="2"),
        CallerInput(speech="冰箱不制冷", speech_confidence=0.9),
    ]
    steps, per_journey = 0, []
    started = time.perf_counter()
    for index in range(JOURNEYS):
        begun = time.perf_counter_ns()
        session, _turn = engine.start(call_id=f"c{index}", pop=pop)
        steps += 1
        for given in script:
            session, _turn = engine.handle(session, given)
            steps += 1
        per_journey.append(time.perf_counter_ns() - begun)
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(per_journey, n=100)
    return {
        "journeys": JOURNEYS,
        "steps": steps,
        "steps_per_second": round(steps / elapsed),
        "journey_p50_us": round(quantiles[49] / 1000, 1),
        "journey_p99_us": round(quantiles[98] / 1000, 1),
    }


def main() -> None:
    figures = run()
    result = {
        "benchmark": "ivr",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "engine": figures,
    }
    for key, value in figures.items():
        print(f"{key:>20}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
