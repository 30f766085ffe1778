"""How far behind this process runs: the measures that admission control sheds new calls by.

A count of the new calls in flight catches a flood of them, but not a CPU saturated by the
calls already in progress: answered quickly, few new calls are ever in flight at once, while
every request waits instead where no count sees it. Two places:

- in front of the app, for the event loop (its connection accepted, its headers parsed):
  a task that asks to be woken after a short sleep and notes how much later it woke
  measures that wait directly;
- inside it, for a request thread and the interpreter's lock, shared with every other
  request of the process: how long the webhooks of calls take to be answered shows it.

Both are smoothed, so that one slow step (a collection, a burst) does not shed calls, and a
sustained delay does within a few readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from typing import Any

INTERVAL_SECONDS = 0.05
LAG_WEIGHT = 0.3
"""Share of the newest of the loop's readings (twenty a second) in its figure."""
ANSWER_WEIGHT = 0.1
"""Share of the newest webhook's answer time in the webhooks' figure: one slow webhook (the
first after a quiet night) is no saturation; several in a row are."""
HALF_LIFE_SECONDS = 1.0
"""How fast the webhooks' figure fades while no webhook comes: the new calls it refused
would otherwise never be there to bring it down."""


class Saturation:
    def __init__(
        self,
        *,
        max_loop_lag_seconds: float,
        max_answer_seconds: float,
    ) -> None:
        self.max_loop_lag_seconds = max_loop_lag_seconds
        self.max_answer_seconds = max_answer_seconds
        self.loop_lag = 0.0
        """How late the event loop has lately been; 0 while nothing measures it."""
        self._answer = 0.0
        self._answered_at = 0.0

    def answer_seconds(self) -> float:
        """How long the webhooks of calls have lately taken to be answered."""
        quiet = time.monotonic() - self._answered_at
        return self._answer * math.exp2(-quiet / HALF_LIFE_SECONDS)

    def answered(self, seconds: float) -> None:
        current = self.answer_seconds()
        self._answer = current + ANSWER_WEIGHT * (seconds - current)
        self._answered_at = time.monotonic()

    def behind(self) -> dict[str, Any] | None:
        """What is over its limit, with the figures, or None while the process keeps up."""
        answer = self.answer_seconds()
        if self.loop_lag <= self.max_loop_lag_seconds and answer <= self.max_answer_seconds:
            return None
        return {
            "loop_lag_ms": round(self.loop_lag * 1000),
            "loop_lag_limit_ms": round(self.max_loop_lag_seconds * 1000),
            "answer_ms": round(answer * 1000),
            "answer_limit_ms": round(self.max_answer_seconds * 1000),
        }

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Measure the running loop's lag while the block runs (the app's lifespan)."""
        task = asyncio.create_task(self._measure(), name="loop-lag")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.loop_lag = 0.0

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + INTERVAL_SECONDS
            await asyncio.sleep(INTERVAL_SECONDS)
            late = max(0.0, loop.time() - due)
            self.loop_lag += LAG_WEIGHT * (late - self.loop_lag)
