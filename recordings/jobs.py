"""Background jobs of recordings (run by the arq worker): transcription, never on a call's
audio path.

Recordings are filed by the SIP endpoint's call threads and the app's requests, neither of
which holds a job queue, so a sweep finds the recordings still pending and queues one job
per recording (its job id makes a second queueing a no-op). The sweep is also what makes
a worker crash or a Redis restart lose no transcript: the recording stays pending until
its transcript is committed.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq import Retry
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from core.db import DatabaseBusy
from recordings.transcription import TranscriptionModel
from recordings.transcripts import pending_recordings, transcribe

log = structlog.get_logger(__name__)

TRANSCRIBE_SWEEP_SECONDS = 10
SWEEP_BATCH = 200
TRANSCRIBE_TIMEOUT_SECONDS = 3600
"""Vosk runs several times faster than real time on one core: an hour covers any call."""
RETRY_SECONDS = 5


def transcription_job_id(recording_id: int) -> str:
    return f"transcribe-recording:{recording_id}"


async def transcribe_recording(ctx: dict[str, Any], recording_id: int) -> str:
    """Transcribe one recording; its state (``done``, ``failed``) is what the job returns.
    A busy or unreachable database is retried later; bad audio fails for good."""
    model: TranscriptionModel | None = ctx["transcription_model"]
    if model is None:
        return "transcription is off"

    def run() -> str:
        with ctx["sessions"]() as session:
            recording = transcribe(
                session,
                recording_id=recording_id,
                model=model,
                now=ctx["clock"](),
                keywords=ctx["keywords"],
            )
            return recording.transcript_state.value

    try:
        return await run_in_threadpool(run)
    except (DatabaseBusy, OperationalError) as exc:
        log.warning("transcription deferred", recording=recording_id, error=str(exc))
        raise Retry(defer=RETRY_SECONDS * ctx.get("job_try", 1)) from exc


async def transcribe_pending(ctx: dict[str, Any]) -> int:
    """Queue a transcription job for each recording still pending."""
    if ctx["transcription_model"] is None:
        return 0

    def pending() -> list[int]:
        with ctx["sessions"]() as session:
            return pending_recordings(session, limit=SWEEP_BATCH)

    recording_ids = await run_in_threadpool(pending)
    for recording_id in recording_ids:
        await ctx["redis"].enqueue_job(
            "transcribe_recording", recording_id, _job_id=transcription_job_id(recording_id)
        )
    return len(recording_ids)
