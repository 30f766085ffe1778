"""Registering finished recordings."""

from __future__ import annotations

from sqlmodel import Session

from core.types import Clock
from recordings.models import Recording
from recordings.wav import FinishedWav


def register_recording(
    session: Session,
    *,
    call_id: str,
    customer_id: int | None,
    wav: FinishedWav,
    clock: Clock,
) -> Recording:
    recording = Recording(
        call_id=call_id,
        customer_id=customer_id,
        path=str(wav.path),
        channels=wav.channels,
        sample_rate=wav.sample_rate,
        duration_seconds=wav.duration_seconds,
        sha256=wav.sha256,
        created_at=clock(),
    )
    session.add(recording)
    session.commit()
    return recording
