"""Prompt audio for SIP calls: the flow's prompts as mu-law, rendered before calls need it."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

from ivr import Flow, PromptCache, PromptUnavailable, cache_key
from recordings import pcm16_to_ulaw

VOICES = {"zh-CN": "cmn", "en": "en", "ko": "ko"}
"""espeak-ng voice of each flow language."""
MEMORY_PROMPTS = 512
"""Rendered prompts kept in memory as mu-law; texts with a caller's name or an order
number are many, so the oldest are dropped."""


def voice_for(language: str) -> str:
    return VOICES.get(language, VOICES.get(language.split("-")[0], "en"))


class PromptAudio:
    """Mu-law audio of prompt texts. A flow's fixed prompts keep their ids, so an
    operator's recording (``recorded/ID.wav``) replaces the synthesised voice."""

    def __init__(self, cache: PromptCache, flows: dict[str, Flow]) -> None:
        self.cache = cache
        self._ids = {
            (language, text): prompt_id
            for flow in flows.values()
            for language, prompts in flow.prompts.items()
            for prompt_id, text in prompts.items()
        }
        self._audio: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def text(self, prompt_id: str, language: str) -> str:
        """A fixed prompt of the flows by id (channel prompts such as voicemail)."""
        found = next(
            (
                text
                for (lang, text), pid in self._ids.items()
                if pid == prompt_id and lang == language
            ),
            None,
        )
        if found is None:
            raise PromptUnavailable(
                f"no prompt {prompt_id} for {language} in the flows",
                details={"prompt_id": prompt_id, "language": language},
            )
        return found

    def prerender(self) -> int:
        """Synthesise every fixed prompt now, so no caller waits for espeak-ng."""
        fixed = [
            (prompt_id, text, voice_for(language))
            for (language, text), prompt_id in self._ids.items()
            if "{" not in text and text.strip()
        ]
        return self.cache.prerender(fixed)

    def ulaw(self, text: str, language: str) -> bytes:
        key = (language, text)
        with self._lock:
            cached = self._audio.get(key)
        if cached is not None:
            return cached
        voice = voice_for(language)
        prompt_id = self._ids.get(key) or "t" + cache_key(text, voice)[:20]
        audio = pcm16_to_ulaw(_frames(self.cache.path_for(prompt_id, text, voice)))
        with self._lock:
            if len(self._audio) >= MEMORY_PROMPTS:
                self._audio.pop(next(iter(self._audio)))
            self._audio[key] = audio
        return audio


def _frames(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())
