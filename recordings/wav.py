"""WAV files written so that a crash never leaves a corrupt file registered as complete.

Audio goes to ``NAME.wav.part``; only ``finish()`` fixes the header, renames the file to
``NAME.wav`` and computes its SHA-256. A ``.part`` left by a crash holds every frame
written before it; ``recover()`` rewrites its header from the file size.
"""

from __future__ import annotations

import hashlib
import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

HEADER_BYTES = 44


@dataclass(frozen=True)
class FinishedWav:
    path: Path
    frames: int
    sample_rate: int
    channels: int
    sha256: str

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate


class WavWriter:
    def __init__(self, path: Path, *, sample_rate: int = 8000, channels: int = 1) -> None:
        if path.suffix != ".wav":
            raise ValueError(f"recording path must end in .wav: {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.sample_rate = sample_rate
        self.channels = channels
        self._file = self.part.open("wb")
        self._wave = wave.open(self._file, "wb")  # noqa: SIM115 (closed in finish)
        self._wave.setnchannels(channels)
        self._wave.setsampwidth(2)
        self._wave.setframerate(sample_rate)
        self.frames = 0

    def write(self, pcm16: bytes) -> None:
        self._wave.writeframesraw(pcm16)
        # Hand every frame to the OS at once: a crash of this process then loses nothing.
        self._file.flush()
        self.frames += len(pcm16) // (2 * self.channels)

    def finish(self) -> FinishedWav:
        self._wave.close()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.part, self.path)
        return FinishedWav(
            self.path, self.frames, self.sample_rate, self.channels, sha256_of(self.path)
        )


def describe(path: Path) -> FinishedWav:
    """A finished WAV file as the catalogue registers it."""
    with wave.open(str(path)) as wav:
        frames, rate, channels = wav.getnframes(), wav.getframerate(), wav.getnchannels()
    return FinishedWav(path, frames, rate, channels, sha256_of(path))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def recover(part: Path) -> Path:
    """Make a crashed recording playable: fix its RIFF sizes and drop the ``.part``."""
    size = part.stat().st_size
    data = max(size - HEADER_BYTES, 0)
    data -= data % 2
    with part.open("rb+") as handle:
        handle.seek(4)
        handle.write(struct.pack("<I", HEADER_BYTES - 8 + data))
        handle.seek(40)
        handle.write(struct.pack("<I", data))
        handle.truncate(HEADER_BYTES + data)
    target = part.with_name(part.name.removesuffix(".part"))
    os.replace(part, target)
    return target
