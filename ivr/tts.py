"""Prompts as 8 kHz 16-bit mono WAV files: an operator's recording, or espeak-ng's voice.

Synthesised prompts are rendered once and kept under ``DIR/tts/`` keyed by voice and
text, so a changed text is a new file and an unchanged one is never rendered twice;
``prerender`` does the rendering at start-up so no caller waits for it. A recording at
``DIR/recorded/PROMPT_ID.wav`` wins over the synthesised prompt.

PromptUnavailable                    500  no playable audio for a prompt
├── PromptRenderFailed               500  espeak-ng or sox missing, failing or too slow
└── RecordedPromptInvalid            500  an operator's recording in the wrong format
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import threading
import wave
from collections.abc import Iterable
from pathlib import Path

from ivr.exceptions import PromptRenderFailed, RecordedPromptInvalid

SAMPLE_RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2
PROMPT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RENDER_TIMEOUT_SECONDS = 30.0
PACKAGES = {"espeak-ng": "espeak-ng", "sox": "sox"}
"""Debian package of each program we run."""


class PromptCache:
    """Finds or renders the audio of prompts under one directory; safe across threads and
    processes sharing that directory."""

    def __init__(self, directory: Path, *, timeout: float = RENDER_TIMEOUT_SECONDS) -> None:
        self.directory = directory
        self.timeout = timeout
        self.renders = 0
        """Prompts synthesised by this instance (cache misses)."""
        self._render_lock = threading.Lock()

    def path_for(self, prompt_id: str, text: str, voice: str) -> Path:
        if not PROMPT_ID.fullmatch(prompt_id):
            raise ValueError(f"prompt id must match {PROMPT_ID.pattern}: {prompt_id!r}")
        recorded = self.directory / "recorded" / f"{prompt_id}.wav"
        if recorded.exists():
            _check_recording(recorded)
            return recorded
        synthesised = self.directory / "tts" / f"{cache_key(text, voice)}.wav"
        if not synthesised.exists():
            self._render_once(prompt_id, text, voice, synthesised)
        return synthesised

    def prerender(self, prompts: Iterable[tuple[str, str, str]]) -> int:
        """Makes sure every (prompt_id, text, voice) has audio; returns how many were
        synthesised now."""
        before = self.renders
        for prompt_id, text, voice in prompts:
            self.path_for(prompt_id, text, voice)
        return self.renders - before

    def _render_once(self, prompt_id: str, text: str, voice: str, target: Path) -> None:
        # The lock spares threads of one process a duplicate render; other processes may
        # still render the same prompt, which os.replace makes harmless.
        with self._render_lock:
            if target.exists():
                return
            if not text.strip():
                raise PromptRenderFailed(
                    f"prompt {prompt_id} has no text to synthesise",
                    details={"prompt_id": prompt_id, "voice": voice},
                )
            render(text, voice, target, timeout=self.timeout)
            self.renders += 1


def cache_key(text: str, voice: str) -> str:
    return hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:32]


def render(text: str, voice: str, target: Path, *, timeout: float) -> None:
    """Synthesises ``text`` into ``target`` as 8 kHz 16-bit mono; readers never see a
    partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".render-") as scratch:
        spoken, converted = Path(scratch, "espeak.wav"), Path(scratch, "8k.wav")
        _run(["espeak-ng", "-v", voice, "-w", str(spoken), "--stdin"], text, timeout)
        # espeak-ng speaks at 22.05 kHz; sox's rate effect low-pass filters before it
        # decimates. No dither, so the same text always gives the same bytes.
        resample = ["sox", "-D", str(spoken), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16"]
        _run([*resample, str(converted)], None, timeout)
        os.replace(converted, target)


def _run(command: list[str], stdin: str | None, timeout: float) -> None:
    program = command[0]
    details = {"command": command}
    # Bytes, not text=True: the locale's encoding may not cover Chinese prompt text, and
    # espeak-ng reads UTF-8 whatever the locale.
    given = stdin.encode() if stdin is not None else None
    try:
        completed = subprocess.run(
            command, input=given, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise PromptRenderFailed(
            f"{program} is not installed; apt-get install {PACKAGES[program]}", details=details
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise PromptRenderFailed(
            f"{program} did not finish within {timeout:g} s", details=details
        ) from exc
    if completed.returncode != 0:
        problem = (
            completed.stderr.decode(errors="replace").strip()
            or f"exit status {completed.returncode}"
        )
        raise PromptRenderFailed(f"{program} failed: {problem}", details=details)


def _check_recording(path: Path) -> None:
    try:
        with wave.open(str(path)) as wav:
            found = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
    except (wave.Error, EOFError) as exc:
        raise _invalid(path, f"is not a PCM WAV file ({exc})") from exc
    if found != (SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH):
        rate, channels, width = found
        raise _invalid(path, f"is {rate} Hz, {channels} channel(s), {8 * width}-bit")


def _invalid(path: Path, problem: str) -> RecordedPromptInvalid:
    return RecordedPromptInvalid(
        f"recorded prompt {path} {problem}; prompts must be 8 kHz mono 16-bit PCM WAV "
        f"(convert with: sox IN.wav -r 8000 -c 1 -b 16 {path.name})",
        details={"path": str(path)},
    )
