"""Live transcription of a call in progress: what the caller says, as ``call.transcript``.

Recognition never runs on a call's audio path. The channel hands each frame of decoded
8 kHz audio to :meth:`LiveTranscriber.feed`, which only queues it; one worker thread per
call loads the model (once per process), feeds Vosk and publishes partial and final text.
When the recogniser falls behind, the queue is full and frames are dropped with a log line:
captions lose a few words, the call and its recording lose nothing.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import structlog
import vosk
from sqlmodel import Session

from core.bus import BusUnavailable
from core.types import Clock
from ivr import SpeechModel, load_model
from telephony.enums import CallState
from telephony.events import CallNotifier, Speaker
from telephony.models import Call

log = structlog.get_logger(__name__)

CALL_RATE = 8000
"""Rate of the 16-bit mono PCM given to ``feed``. Vosk is told this rate and resamples to
its model's own (Kaldi's windowed-sinc resampler) inside the recogniser."""
QUEUE_FRAMES = 250
"""Five seconds of 20 ms frames may wait for the recogniser before frames are dropped."""
PARTIAL_SECONDS = 1 / 3
"""At most three partial results a second reach the bus for one call."""
CHUNK_FRAMES = 10
"""Frames handed to Vosk at once, at most (200 ms of a call): a transcriber behind the call
catches up in few calls, and looks for a partial result between them. Fed a whole
utterance at once, Vosk only ended it, and the agent saw no words until it was over."""
AGENT_RECHECK_SECONDS = 1.0
"""How long the call's agent is trusted before the row is read again: a bridge or a
transfer shows in the captions within this long, without a database read per event."""


@dataclass
class PartialGate:
    """Which partial results go out: at most one per ``interval`` seconds, and only when
    the text differs from the last one sent (Vosk repeats itself between words)."""

    interval: float = PARTIAL_SECONDS
    _sent_at: float = -math.inf
    _sent: str = ""

    def due(self, now: float) -> bool:
        return now - self._sent_at >= self.interval

    def passes(self, text: str, now: float) -> bool:
        if not text or text == self._sent or not self.due(now):
            return False
        self._sent_at, self._sent = now, text
        return True

    def utterance_ended(self) -> None:
        """The next utterance starts afresh: its first partial may repeat the last one's."""
        self._sent = ""


@dataclass
class TranscriptTarget:
    """Where one call's text goes: the bus, addressed to whoever is on the call now."""

    call_id: str
    speaker: Speaker
    notifier: CallNotifier
    sessions: Callable[[], AbstractContextManager[Session]]
    clock: Clock
    _agent_id: int | None = None
    _agent_read_at: float = -math.inf

    def agent_id(self) -> int | None:
        """The agent bridged to the call, if any (only that agent's console shows it).

        Once the call has ended, the agent seen bridged at the last read (at most
        ``AGENT_RECHECK_SECONDS`` before) keeps it: the last final result comes after the
        hang-up, and its words were said to that agent."""
        now = time.monotonic()
        if now - self._agent_read_at >= AGENT_RECHECK_SECONDS:
            with self.sessions() as session:
                call = session.get(Call, self.call_id)
            if call is None or call.state is not CallState.ENDED:
                bridged = call is not None and call.state is CallState.BRIDGED
                self._agent_id = call.agent_id if call is not None and bridged else None
            self._agent_read_at = now
        return self._agent_id

    def publish(self, text: str, *, final: bool) -> None:
        try:
            self.notifier.transcript(
                self.call_id,
                self.agent_id(),
                speaker=self.speaker,
                text=text,
                final=final,
                at=self.clock(),
            )
        except BusUnavailable as exc:
            # A caption lost to a Redis outage is not worth ending the transcription for.
            log.warning("live transcript not published", call=self.call_id, error=str(exc))


class LiveTranscriber:
    """One call's speaker, transcribed live on a worker thread of its own."""

    def __init__(self, model_path: Path, target: TranscriptTarget) -> None:
        self.model_path = model_path
        self.target = target
        self.dropped = 0
        self._dropping = False
        self._frames: queue.Queue[bytes | None] = queue.Queue(QUEUE_FRAMES)
        self._thread = threading.Thread(
            target=self._run, name=f"live-transcript-{target.call_id}", daemon=True
        )
        self._thread.start()

    def feed(self, pcm8k: bytes) -> None:
        """Queue 16-bit mono PCM at 8 kHz; returns at once, dropping it if the queue is full."""
        try:
            self._frames.put_nowait(pcm8k)
        except queue.Full:
            if not self._dropping:  # one line per run of drops, not one per frame
                log.warning("live transcription behind: dropping audio", call=self.target.call_id)
            self._dropping = True
            self.dropped += 1
        else:
            self._dropping = False

    def stop(self) -> None:
        """No more audio: the worker finishes what is queued, publishes the last final
        result and ends. Blocks while the queue is full, so call it off the event loop."""
        self._frames.put(None)

    def _run(self) -> None:
        call_id = self.target.call_id
        try:
            self._transcribe(load_model(self.model_path))
        except Exception:
            # Whatever fails here (model, Vosk, database), the call goes on without captions.
            log.exception("live transcription failed", call=call_id)
            self._discard()
        if self.dropped:
            log.warning("live transcription dropped audio", call=call_id, frames=self.dropped)

    def _transcribe(self, model: SpeechModel) -> None:
        recognizer = vosk.KaldiRecognizer(model.handle, CALL_RATE)
        gate = PartialGate()
        while (audio := self._next_audio()) is not None:
            if recognizer.AcceptWaveform(audio):
                gate.utterance_ended()
                self._final(recognizer.Result())
            elif gate.due(now := time.monotonic()):
                partial = str(json.loads(recognizer.PartialResult()).get("partial", ""))
                if gate.passes(partial, now):
                    self.target.publish(partial, final=False)
        self._final(recognizer.FinalResult())

    def _next_audio(self) -> bytes | None:
        """What has queued up since the last call, up to ``CHUNK_FRAMES`` frames, as one
        chunk (fewer, larger calls into Vosk when it is behind); None once the stream has
        stopped and all is fed."""
        chunks: list[bytes] = []
        item = self._frames.get()
        while item is not None:
            chunks.append(item)
            if len(chunks) == CHUNK_FRAMES:
                return b"".join(chunks)
            try:
                item = self._frames.get_nowait()
            except queue.Empty:
                return b"".join(chunks)
        # Stopped: what came before the end is still fed, then the end is seen again.
        if chunks:
            self._frames.put(None)
            return b"".join(chunks)
        return None

    def _final(self, result: str) -> None:
        text = str(json.loads(result).get("text", ""))
        if text:
            self.target.publish(text, final=True)

    def _discard(self) -> None:
        """Keep taking frames until the stream stops, so ``stop`` never waits on a full
        queue that nobody reads."""
        while self._frames.get() is not None:
            pass
