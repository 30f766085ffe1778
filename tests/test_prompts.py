"""Prompt audio: real espeak-ng and sox render 8 kHz files once; recordings win."""

from __future__ import annotations

import math
import struct
import threading
import wave
from pathlib import Path

import pytest

from ivr.exceptions import PromptRenderFailed, RecordedPromptInvalid
from ivr.tts import PromptCache

MANDARIN = "您好，欢迎致电家电售后服务热线。"
ENGLISH = "Welcome to the after-sales service hotline."


def _audio(path: Path) -> tuple[tuple[int, int, int], list[int]]:
    with wave.open(str(path)) as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        frames = wav.readframes(wav.getnframes())
    return shape, list(struct.unpack(f"<{len(frames) // 2}h", frames))


def _write_wav(path: Path, *, rate: int = 8000, channels: int = 1, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = int(rate * seconds)
    tone = [int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(count)]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(
            struct.pack(f"<{count * channels}h", *(s for s in tone for _ in range(channels)))
        )


@pytest.mark.parametrize(
    ("voice", "text", "seconds"),
    [("cmn", MANDARIN, (2.0, 8.0)), ("en", ENGLISH, (1.5, 5.0))],
    ids=["mandarin", "english"],
)
def test_prompt_is_rendered_as_8khz_speech(
    tmp_path: Path, voice: str, text: str, seconds: tuple[float, float]
) -> None:
    path = PromptCache(tmp_path).path_for("welcome", text, voice)

    assert path.parent == tmp_path / "tts"
    shape, samples = _audio(path)
    assert shape == (8000, 1, 2)
    shortest, longest = seconds
    assert shortest < len(samples) / 8000 < longest
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    assert rms > 500, "a rendered prompt must not be silent"


def test_a_rendered_prompt_is_served_from_disk_afterwards(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path)
    first = cache.path_for("welcome", ENGLISH, "en")
    rendered = first.stat()

    again = cache.path_for("welcome", ENGLISH, "en")
    after_restart = PromptCache(tmp_path).path_for("welcome", ENGLISH, "en")

    assert again == after_restart == first
    assert cache.renders == 1
    assert (first.stat().st_ino, first.stat().st_mtime_ns) == (
        rendered.st_ino,
        rendered.st_mtime_ns,
    )


def test_voice_and_text_both_key_the_cache(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path)
    paths = {
        cache.path_for("goodbye", "Goodbye.", "en"),
        cache.path_for("goodbye", "Goodbye!", "en"),
        cache.path_for("goodbye", "Goodbye.", "cmn"),
    }
    assert len(paths) == 3
    assert cache.renders == 3


def test_prerender_synthesises_each_distinct_prompt_once(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path)
    prompts = [
        ("welcome", MANDARIN, "cmn"),
        ("welcome_en", ENGLISH, "en"),
        ("welcome_again", MANDARIN, "cmn"),
    ]
    assert cache.prerender(prompts) == 2
    assert cache.prerender(prompts) == 0
    assert len(list((tmp_path / "tts").iterdir())) == 2


def test_a_recorded_prompt_overrides_the_synthesised_one(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded" / "welcome.wav"
    _write_wav(recorded)
    cache = PromptCache(tmp_path)

    assert cache.path_for("welcome", MANDARIN, "cmn") == recorded
    assert cache.renders == 0
    assert cache.path_for("other", MANDARIN, "cmn").parent == tmp_path / "tts"


def test_a_recording_in_the_wrong_format_is_a_clear_error(tmp_path: Path) -> None:
    _write_wav(tmp_path / "recorded" / "welcome.wav", rate=44100, channels=2)

    with pytest.raises(RecordedPromptInvalid) as raised:
        PromptCache(tmp_path).path_for("welcome", MANDARIN, "cmn")

    message = raised.value.message
    assert "44100 Hz, 2 channel(s), 16-bit" in message
    assert "must be 8 kHz mono 16-bit PCM WAV" in message
    assert raised.value.status_code == 500
    assert raised.value.error_id == "recorded_prompt_invalid"


def test_a_recording_that_is_not_a_wav_is_a_clear_error(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded" / "welcome.wav"
    recorded.parent.mkdir()
    recorded.write_bytes(b"ID3\x04 an mp3 renamed to .wav")

    with pytest.raises(RecordedPromptInvalid, match="is not a PCM WAV file"):
        PromptCache(tmp_path).path_for("welcome", MANDARIN, "cmn")


def test_concurrent_renders_leave_one_valid_file(tmp_path: Path) -> None:
    # Separate caches stand for separate worker processes sharing the directory; the
    # shared one for threads of one process.
    shared = PromptCache(tmp_path)
    caches = [shared] * 4 + [PromptCache(tmp_path) for _ in range(4)]
    start = threading.Barrier(len(caches))
    paths: list[Path] = []

    def render(cache: PromptCache) -> None:
        start.wait()
        paths.append(cache.path_for("welcome", MANDARIN, "cmn"))

    threads = [threading.Thread(target=render, args=(cache,)) for cache in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(paths) == len(caches) and len(set(paths)) == 1
    assert list((tmp_path / "tts").iterdir()) == [paths[0]], "no scratch files left"
    assert shared.renders == 1
    shape, samples = _audio(paths[0])
    assert shape == (8000, 1, 2) and len(samples) > 2 * 8000


def test_an_unknown_voice_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(PromptRenderFailed, match=r"espeak-ng failed: .*voice does not exist"):
        PromptCache(tmp_path).path_for("welcome", ENGLISH, "xx")
    assert not list((tmp_path / "tts").iterdir())


def test_missing_espeak_ng_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(PromptRenderFailed) as raised:
        PromptCache(tmp_path).path_for("welcome", ENGLISH, "en")

    assert raised.value.message == "espeak-ng is not installed; apt-get install espeak-ng"
    assert raised.value.error_id == "prompt_render_failed"


def test_a_render_that_overruns_its_timeout_fails(tmp_path: Path) -> None:
    with pytest.raises(PromptRenderFailed, match="did not finish within"):
        PromptCache(tmp_path, timeout=0.0001).path_for("welcome", MANDARIN * 20, "cmn")


def test_a_prompt_without_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PromptRenderFailed, match="has no text"):
        PromptCache(tmp_path).path_for("welcome", "  ", "en")


def test_a_prompt_id_cannot_leave_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prompt id"):
        PromptCache(tmp_path).path_for("../welcome", ENGLISH, "en")
