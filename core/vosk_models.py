"""Vosk models, one per directory and process: the IVR's recogniser and the recordings'
transcriber read the same ``CALLCENTER_VOSK_MODEL``, and a model holds tens to hundreds
of megabytes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import vosk

KALDI_DEFAULT_RATE = 16000
"""What a Kaldi model expects when its ``conf/mfcc.conf`` does not say."""


@dataclass(frozen=True)
class VoskModel:
    handle: vosk.Model
    sample_rate: int


class ModelUnreadable(Exception):
    """No model at the path, or one Vosk cannot read: each caller raises its own
    domain error with this message."""


def open_model(path: Path) -> VoskModel:
    """The model at ``path``, loaded on first use; raises ``ModelUnreadable``."""
    return _open(path.resolve())


@functools.cache
def _open(path: Path) -> VoskModel:
    if not path.is_dir():
        raise ModelUnreadable(
            f"no Vosk model at {path}; set CALLCENTER_VOSK_MODEL to a model directory"
        )
    vosk.SetLogLevel(-1)
    try:
        handle = vosk.Model(str(path))
    except Exception as exc:  # Vosk raises a bare Exception for any model it cannot read
        raise ModelUnreadable(f"could not load the Vosk model at {path}: {exc}") from exc
    return VoskModel(handle, _sample_rate(path))


def _sample_rate(path: Path) -> int:
    conf = path / "conf" / "mfcc.conf"
    lines = conf.read_text().splitlines() if conf.exists() else []
    for line in lines:
        name, _, value = line.strip().partition("=")
        if name == "--sample-frequency":
            return int(float(value))
    return KALDI_DEFAULT_RATE
