"""Spoken menu choices: Vosk recognises call audio against the phrases of one IVR node.

A recogniser listens for the node's phrases only (a grammar over a lookahead model), plus
the model's unknown-word token so that other speech has somewhere to go. Anything that
is not exactly one phrase, heard with enough confidence over audio that is voiced speech,
is no choice at all, and the node falls back to keys. The model is loaded once per
process; each call gets its own recogniser.

SpeechUnavailable                    500  model missing or unusable, phrase words unknown
SpeechRecognitionFailed              500  Vosk failed on audio
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vosk

from core.vosk_models import ModelUnreadable, open_model
from ivr.exceptions import SpeechRecognitionFailed, SpeechUnavailable

CALL_RATE = 8000
"""Sample rate of call audio (16-bit mono PCM) given to ``PhraseRecognizer.feed``."""
UNKNOWN_WORDS = ("[unk]", "<UNK>", "<unk>")
"""Spellings of the unknown-word token: Vosk's own models use the first, plain Kaldi
recipes (such as the small Korean model) the second."""
HALF_TAPS = 16
KAISER_BETA = 8.0
"""Interpolation filter: 16 input samples either side, about 80 dB image rejection."""
VOICING_FRAME = 320
"""40 ms at 8 kHz: two periods of the lowest voice we look for."""
FRAMES_PER_SECOND = CALL_RATE / VOICING_FRAME
PITCH_LAGS = np.arange(CALL_RATE // 400, CALL_RATE // 62 + 1)
"""Pitch periods from 400 Hz down to 62 Hz, in samples."""
VOICED_PERIODICITY = 0.5
"""Vowels reach 0.7 to 1 normalised autocorrelation at their pitch period; white and line
noise stay near 0.2."""
VOICED_SHARE = 0.25
"""Least share of a phrase's frames that must be voiced for it to count as said."""
SILENCE_RMS = 100
"""Frames quieter than this (-50 dBFS) are the line's silence, voiced or not."""


@dataclass(frozen=True)
class SpeechModel:
    handle: vosk.Model
    sample_rate: int
    unknown_word: str | None


@dataclass(frozen=True)
class Match:
    phrase: str
    confidence: float
    """Average of the phrase's word confidences, 0 to 1."""


def load_model(path: Path) -> SpeechModel:
    """The model at ``path`` (``CALLCENTER_VOSK_MODEL``), loaded once per process."""
    return _load(path.resolve())


@functools.cache
def _load(path: Path) -> SpeechModel:
    try:
        model = open_model(path)
    except ModelUnreadable as exc:
        raise SpeechUnavailable(str(exc), details={"path": str(path)}) from exc
    if model.sample_rate % CALL_RATE:
        raise SpeechUnavailable(
            f"Vosk model {path} expects {model.sample_rate} Hz, not a multiple of the "
            f"{CALL_RATE} Hz calls",
            details={"path": str(path), "sample_rate": model.sample_rate},
        )
    known = [word for word in UNKNOWN_WORDS if model.handle.vosk_model_find_word(word) >= 0]
    return SpeechModel(model.handle, model.sample_rate, known[0] if known else None)


class PhraseRecognizer:
    """Recognises one caller's choice among ``phrases`` in 8 kHz call audio."""

    def __init__(self, model: SpeechModel, phrases: Iterable[str], *, threshold: float) -> None:
        self.phrases = frozenset(" ".join(phrase.split()) for phrase in phrases)
        _check_vocabulary(model, self.phrases)
        self.threshold = threshold
        unknown = [model.unknown_word] if model.unknown_word else []
        grammar = [*sorted(self.phrases), *unknown]
        self._upsample = Upsampler(model.sample_rate // CALL_RATE)
        with _vosk_errors("create a Vosk recogniser"):
            self._recognizer = vosk.KaldiRecognizer(
                model.handle, model.sample_rate, json.dumps(grammar, ensure_ascii=False)
            )
        self._recognizer.SetWords(True)
        self._voicing = _Voicing()
        self._finished: str | None = None

    def feed(self, pcm8k: bytes) -> bool:
        """Takes 16-bit mono PCM at 8 kHz; True when the caller has just finished an
        utterance (Vosk's end-point), which ``result`` then judges."""
        self._voicing.add(pcm8k)
        audio = self._upsample(pcm8k)
        with _vosk_errors("recognise call audio"):
            finished = self._recognizer.AcceptWaveform(audio)
            result = self._recognizer.Result() if finished else None
        # Vosk also ends "utterances" of silence or line noise: those are no answer.
        if result is None or not json.loads(result).get("result"):
            return False
        self._finished = result
        return True

    def result(self) -> Match | None:
        """The latest finished utterance, or what was heard so far if none has finished;
        None unless it is exactly one phrase, said with at least ``threshold`` confidence
        by a voice."""
        if self._finished is None:
            with _vosk_errors("finish recognising call audio"):
                self._finished = self._recognizer.FinalResult()
        words = json.loads(self._finished).get("result", [])
        # The grammar lets Vosk string phrases together; a choice is one phrase alone,
        # so a run of phrases, the unknown word or nothing at all is no choice.
        heard = " ".join(word["word"] for word in words)
        if heard not in self.phrases:
            return None
        confidence = sum(word["conf"] for word in words) / len(words)
        if confidence < self.threshold:
            return None
        # A grammar leaves the recogniser no way to say "noise", and it maps hiss onto a
        # phrase with full confidence; only a voice is periodic like vowels.
        if self._voicing.share(words[0]["start"], words[-1]["end"]) < VOICED_SHARE:
            return None
        return Match(heard, confidence)


def _check_vocabulary(model: SpeechModel, phrases: frozenset[str]) -> None:
    # Vosk drops grammar words it does not know with only a log line, leaving a phrase
    # that can never be recognised; a flow naming one is a configuration mistake.
    if not phrases:
        raise SpeechUnavailable("a spoken menu needs at least one phrase")
    words = {word for phrase in phrases for word in phrase.split()}
    unknown = sorted(word for word in words if model.handle.vosk_model_find_word(word) < 0)
    if unknown:
        raise SpeechUnavailable(
            f"the speech model does not know the words {', '.join(unknown)}",
            details={"unknown_words": unknown},
        )


class Upsampler:
    """Integer-ratio interpolation of a PCM stream: zero-stuffing, then a Kaiser-windowed
    sinc low-pass that removes the images of the 4 kHz call band."""

    def __init__(self, factor: int) -> None:
        self.factor = factor
        n = np.arange(-HALF_TAPS * factor, HALF_TAPS * factor + 1)
        self._taps = np.sinc(n / factor) * np.kaiser(n.size, KAISER_BETA)
        # The filter spans 2 * HALF_TAPS input samples; keeping the previous chunk's tail
        # makes chunked output identical to upsampling the whole call at once.
        self._history = np.zeros(2 * HALF_TAPS)

    def __call__(self, pcm: bytes) -> bytes:
        if self.factor == 1:
            return pcm
        samples = np.concatenate([self._history, np.frombuffer(pcm, dtype="<i2")])
        self._history = samples[-2 * HALF_TAPS :]
        stuffed = np.zeros(samples.size * self.factor)
        stuffed[:: self.factor] = samples
        upsampled = np.convolve(stuffed, self._taps, mode="valid")
        return np.clip(np.rint(upsampled), -32768, 32767).astype("<i2").tobytes()


class _Voicing:
    """Which 40 ms frames of the call so far are voiced, as vowels are."""

    def __init__(self) -> None:
        self._pending = np.zeros(0)
        self._voiced: list[bool] = []

    def add(self, pcm8k: bytes) -> None:
        samples = np.concatenate([self._pending, np.frombuffer(pcm8k, dtype="<i2")])
        whole = samples.size - samples.size % VOICING_FRAME
        for start in range(0, whole, VOICING_FRAME):
            frame = samples[start : start + VOICING_FRAME]
            self._voiced.append(_periodicity(frame) >= VOICED_PERIODICITY)
        self._pending = samples[whole:]

    def share(self, start: float, end: float) -> float:
        """Share of voiced frames between two times (seconds since the call's audio began)."""
        frames = self._voiced[int(start * FRAMES_PER_SECOND) : math.ceil(end * FRAMES_PER_SECOND)]
        return sum(frames) / len(frames) if frames else 0.0


def _periodicity(frame: np.ndarray) -> float:
    """Highest normalised autocorrelation over the pitch lags: near 1 for a vowel."""
    centred = frame - frame.mean()
    energy = np.cumsum(centred * centred)
    if energy[-1] < centred.size * SILENCE_RMS**2:
        return 0.0
    correlation = np.correlate(centred, centred, "full")[centred.size - 1 :]
    head = energy[centred.size - 1 - PITCH_LAGS]  # energy of frame[:-lag]
    tail = energy[-1] - energy[PITCH_LAGS - 1]  # energy of frame[lag:]
    return float(np.max(correlation[PITCH_LAGS] / np.sqrt(head * tail + 1e-9)))


@contextmanager
def _vosk_errors(action: str) -> Iterator[None]:
    # Vosk reports every failure as a bare Exception, its details only in its log.
    try:
        yield
    except Exception as exc:
        raise SpeechRecognitionFailed(f"could not {action}: {exc}") from exc
