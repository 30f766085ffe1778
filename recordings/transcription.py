"""The transcription engine: a recording's WAV file in, what each speaker said out, with
word timings and confidences. Pure of the database and the jobs that run it.

A stereo call recording holds the customer on the left and what the customer heard (IVR
prompts, the agent) on the right, so each channel is its own speaker and gets its own
recogniser; a mono recording (a fault description, a voicemail) is the caller alone.

The model is loaded here rather than through ``ivr.speech.load_model``: recordings sit
below ivr in the layers, so the few lines of loading are repeated (the IVR's loader also
checks its phrase vocabulary, which free transcription has no use for).
"""

from __future__ import annotations

import functools
import json
import re
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import vosk

from core.vosk_models import ModelUnreadable, open_model
from recordings.exceptions import AudioUnreadable, TranscriptionUnavailable

SPEAKERS = {1: ("caller",), 2: ("customer", "agent")}
"""Speaker of each channel, by the number of channels."""
BLOCK_SECONDS = 10
"""Audio is resampled in blocks of this length, so a long call never sits in memory
as floating point at once."""
MARGIN_SECONDS = 0.1
"""Each block is resampled with this much of its neighbours and trimmed back, so block
edges leave no clicks the recogniser would hear."""
FEED_SECONDS = 0.2
"""Vosk ends an utterance only between the pieces it is fed: small pieces keep two
utterances in one piece from running together."""
_MODEL_LANGUAGE = re.compile(r"vosk[-_]model[-_](?:small[-_])?([a-z]{2,3})(?:[-_]|$)")


@dataclass(frozen=True)
class TranscriptionModel:
    handle: vosk.Model
    sample_rate: int
    name: str
    """The model's directory name (the package's for a wheel's generic ``model``)."""
    language: str
    """Read from the model's name (``vosk-model-small-cn-0.22`` is ``cn``); ``und`` when
    the name does not tell."""


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Segment:
    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


def load_model(path: Path) -> TranscriptionModel:
    """The model at ``path`` (``CALLCENTER_VOSK_MODEL``), loaded once per process."""
    return _load(path.resolve())


@functools.cache
def _load(path: Path) -> TranscriptionModel:
    try:
        model = open_model(path)
    except ModelUnreadable as exc:
        raise TranscriptionUnavailable(str(exc), details={"path": str(path)}) from exc
    name = path.parent.name if path.name == "model" else path.name
    found = _MODEL_LANGUAGE.search(name.lower())
    return TranscriptionModel(model.handle, model.sample_rate, name, found[1] if found else "und")


def transcribe_file(path: Path, model: TranscriptionModel) -> list[Segment]:
    """What was said in the WAV file at ``path``, utterance by utterance in time order
    (a stereo file's two speakers interleaved). Raises ``AudioUnreadable`` with the reason
    for a missing, empty, truncated or non-audio file."""
    channels, rate = _read(path)
    speakers = SPEAKERS[len(channels)]
    segments = [
        segment
        for speaker, samples in zip(speakers, channels, strict=True)
        for segment in _recognise(samples, rate, model, speaker)
    ]
    return sorted(segments, key=lambda s: (s.start, speakers.index(s.speaker)))


def _read(path: Path) -> tuple[list[np.ndarray], int]:
    try:
        with wave.open(str(path)) as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            declared = wav.getnframes()
            pcm = wav.readframes(declared)
    except FileNotFoundError as exc:
        raise AudioUnreadable(f"the file {path} is missing", details={"path": str(path)}) from exc
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioUnreadable(
            f"not a readable WAV file: {exc}", details={"path": str(path)}
        ) from exc
    details: dict[str, Any] = {"path": str(path), "channels": channels, "sample_width": width}
    if channels not in SPEAKERS or width != 2:
        raise AudioUnreadable(
            f"{channels}-channel audio of {8 * width}-bit samples; only 16-bit mono or "
            "stereo is transcribed",
            details=details,
        )
    if declared == 0:
        raise AudioUnreadable("the recording holds no audio (zero frames)", details=details)
    frames = len(pcm) // (channels * width)
    if frames < declared:
        # A file cut short (a crash, a failed copy) whose header still names the full size.
        raise AudioUnreadable(
            f"the file is truncated: its header declares {declared} frames, it holds {frames}",
            details=details | {"declared_frames": declared, "frames": frames},
        )
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    return [samples[:, channel] for channel in range(channels)], rate


def _recognise(
    samples: np.ndarray, rate: int, model: TranscriptionModel, speaker: str
) -> Iterator[Segment]:
    recognizer = vosk.KaldiRecognizer(model.handle, model.sample_rate)
    recognizer.SetWords(True)
    piece = 2 * int(model.sample_rate * FEED_SECONDS)
    for block in _resample(samples, rate, model.sample_rate):
        for offset in range(0, len(block), piece):
            if recognizer.AcceptWaveform(block[offset : offset + piece]):
                found = _segment(recognizer.Result(), speaker)
                if found is not None:
                    yield found
    found = _segment(recognizer.FinalResult(), speaker)
    if found is not None:
        yield found


def _segment(result: str, speaker: str) -> Segment | None:
    """One finished utterance; None for the silences and noise Vosk also ends."""
    parsed = json.loads(result)
    words = tuple(
        Word(w["word"], float(w["start"]), float(w["end"]), float(w["conf"]))
        for w in parsed.get("result", [])
    )
    if not words:
        return None
    text = parsed.get("text") or " ".join(word.word for word in words)
    return Segment(speaker, words[0].start, words[-1].end, text, words)


def _resample(samples: np.ndarray, source: int, target: int) -> Iterator[bytes]:
    """``samples`` at ``target`` Hz as 16-bit PCM, block by block: band-limited (FFT)
    resampling of overlapping blocks, the overlaps dropped."""
    block, margin = source * BLOCK_SECONDS, int(source * MARGIN_SECONDS)
    ratio = target / source
    for begin in range(0, len(samples), block):
        end = min(begin + block, len(samples))
        low, high = max(begin - margin, 0), min(end + margin, len(samples))
        piece = samples[low:high].astype(np.float64)
        length = round(len(piece) * ratio)
        resampled = np.fft.irfft(np.fft.rfft(piece), length) * (length / len(piece))
        skip = round((begin - low) * ratio)
        kept = resampled[skip : skip + round((end - begin) * ratio)]
        yield np.clip(np.rint(kept), -32768, 32767).astype("<i2").tobytes()
