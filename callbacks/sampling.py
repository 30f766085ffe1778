"""Which completed orders a campaign calls back: a systematic sample in each stratum.

The operating spec samples a share of customers for the satisfaction callback (抽样比例).
Sampling each stratum (station, engineer, category, as the campaign says) on its own keeps
every engineer's work sampled at the ratio instead of the busiest engineer's orders
filling the sample. Inside a stratum the orders are taken in the order they completed, and
the k-th (from 0) is selected when ``floor((k + 1) r + u)`` exceeds ``floor(k r + u)``:
after n orders exactly ``floor(n r + u)`` are selected, so a stratum never strays more
than one call from its share, and ``u`` (a hash of the campaign and the stratum) keeps
engineers from learning which of their jobs will be called. All of it is integer
arithmetic on the ratio in millionths: the same order, position and campaign always give
the same decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SCALE = 1_000_000


def scaled_ratio(ratio: float) -> int:
    return round(ratio * SCALE)


def stratum_key(
    fields: Sequence[str],
    *,
    station_id: int | None,
    engineer_id: int | None,
    category: str | None,
) -> str:
    """``station=3|engineer=12|category=washing_machine`` for the fields stratified by;
    ``all`` when none."""
    values = {"station": station_id, "engineer": engineer_id, "category": category}
    parts = [f"{name}={'-' if values[name] is None else values[name]}" for name in fields]
    return "|".join(parts) or "all"


def stratum_offset(campaign_id: int, stratum: str) -> int:
    digest = hashlib.sha256(f"{campaign_id}:{stratum}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SCALE


def picks(position: int, ratio: int, offset: int) -> bool:
    """Whether the stratum's order at ``position`` is selected (``ratio`` in millionths)."""
    return (position + 1) * ratio + offset >= SCALE * ((position * ratio + offset) // SCALE + 1)
