"""Recording files: complete ones are renamed with a checksum; crashed ones are recoverable."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
import wave
from pathlib import Path

from recordings.audio import pcm16_to_ulaw, ulaw_to_pcm16
from recordings.wav import WavWriter, recover

TONE = struct.pack("<800h", *[(i * 37) % 20000 - 10000 for i in range(800)])


def test_finished_recording_is_renamed_with_checksum(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "call.wav")
    writer.write(TONE)
    assert not (tmp_path / "call.wav").exists()
    assert (tmp_path / "call.wav.part").exists()
    done = writer.finish()
    assert done.path == tmp_path / "call.wav" and not (tmp_path / "call.wav.part").exists()
    assert done.sha256 == hashlib.sha256(done.path.read_bytes()).hexdigest()
    assert done.duration_seconds == 0.1
    with wave.open(str(done.path)) as wav:
        assert wav.readframes(wav.getnframes()) == TONE


def test_a_crash_leaves_a_part_file_recoverable_up_to_the_crash(tmp_path: Path) -> None:
    target = tmp_path / "crash.wav"
    script = (
        "import os, sys\n"
        "from recordings.wav import WavWriter\n"
        f"w = WavWriter(__import__('pathlib').Path({str(target)!r}))\n"
        "for _ in range(10):\n"
        f"    w.write({TONE!r})\n"
        "os._exit(9)\n"
    )
    crashed = subprocess.run([sys.executable, "-c", script], check=False)
    assert crashed.returncode == 9
    assert not target.exists()
    recovered = recover(target.with_name("crash.wav.part"))
    assert recovered == target
    with wave.open(str(recovered)) as wav:
        assert wav.getnframes() == 8000
        assert wav.readframes(8000) == TONE * 10


def test_mu_law_round_trip() -> None:
    every_code = bytes(range(256))
    # 0x7F is mu-law's negative zero; it decodes to 0, which encodes as positive zero.
    expected = every_code.replace(b"\x7f", b"\xff")
    assert pcm16_to_ulaw(ulaw_to_pcm16(every_code)) == expected
    assert ulaw_to_pcm16(b"\x00\x80\xff") == struct.pack("<3h", -32124, 32124, 0)
