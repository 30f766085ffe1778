"""Does the recordings folder hold what the catalogue says, and nothing else? Missing
files (a row whose file is gone), orphans (a file no row names, or a ``.part`` a crash
left unrecovered) and corrupt files (not a readable WAV, or not the bytes whose SHA-256
was kept when the recording was finished)."""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from recordings.models import Recording
from recordings.wav import sha256_of


@dataclass
class Finding:
    path: str
    recording_id: int | None
    reason: str


@dataclass
class IntegrityReport:
    checked: int = 0
    missing: list[Finding] = field(default_factory=list)
    orphaned: list[Finding] = field(default_factory=list)
    corrupt: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.orphaned or self.corrupt)


def check_recordings(session: Session, recordings_dir: Path) -> IntegrityReport:
    """Compare every catalogued recording with its file, and every audio file under the
    folder with the catalogue. Reads every file once (for its SHA-256)."""
    report = IntegrityReport()
    root = recordings_dir.resolve()
    known: set[Path] = set()
    for recording in session.exec(select(Recording).order_by(col(Recording.id))):
        report.checked += 1
        path = Path(recording.path).resolve()
        known.add(path)
        if not path.is_file():
            report.missing.append(Finding(recording.path, recording.id, "no file"))
            continue
        reason = _corruption(path, recording)
        if reason is not None:
            report.corrupt.append(Finding(recording.path, recording.id, reason))
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.suffix not in {".wav", ".part"} or not path.is_file():
                continue
            if path.suffix == ".part":
                report.orphaned.append(Finding(str(path), None, "unfinished (.part)"))
            elif path.resolve() not in known:
                report.orphaned.append(Finding(str(path), None, "in no recording"))
    return report


def _corruption(path: Path, recording: Recording) -> str | None:
    try:
        with wave.open(str(path)) as audio:
            audio.getnframes()
    except (wave.Error, EOFError) as exc:
        return f"not a readable WAV: {exc}"
    if sha256_of(path) != recording.sha256:
        return "its SHA-256 differs from the one kept when it was finished"
    return None
