"""`callcenter recordings check`, run as an operator runs it: a missing file, a file whose
bytes changed, a file no recording names and a crash's ``.part`` are each reported, and
the command exits 1; a folder that matches its catalogue exits 0."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from callcenter.runtime import open_database
from callcenter.settings import Settings
from recordings import WavWriter, register_recording
from recordings.models import Recording
from telephony.enums import CallChannel, Direction
from telephony.models import Call
from tests.cli_harness import CALLCENTER, cli_env

MOMENT = datetime(2025, 9, 4, 2, 0, tzinfo=UTC)


def _recorded(session: Session, folder: Path, name: str) -> Recording:
    call = Call(
        id=uuid.uuid4().hex,
        channel=CallChannel.SIP,
        direction=Direction.INBOUND,
        from_number="+8613800138000",
        to_number="1000",
        ringing_at=MOMENT,
    )
    session.add(call)
    session.commit()
    writer = WavWriter(folder / f"{name}.wav")
    writer.write(b"\x10\x00" * 8000)
    return register_recording(
        session, call_id=call.id, customer_id=None, wav=writer.finish(), clock=lambda: MOMENT
    )


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CALLCENTER, "recordings", "check"], capture_output=True, text=True, env=env, timeout=60
    )


def test_recordings_check_reports_missing_corrupt_and_orphaned_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = cli_env(data)
    folder = data / "recordings" / "2025" / "09" / "04"
    engine = open_database(Settings(data_dir=data))
    with Session(engine, expire_on_commit=False) as session:
        good = _recorded(session, folder, "good")
        gone = _recorded(session, folder, "gone")
        changed = _recorded(session, folder, "changed")
    engine.dispose()

    clean = _check(env)
    Path(gone.path).unlink()
    with Path(changed.path).open("r+b") as audio:
        audio.seek(100)
        audio.write(b"\xff\xff")
    (folder / "stray.wav").write_bytes(Path(good.path).read_bytes())
    (folder / "crashed.wav.part").write_bytes(b"RIFF")
    broken = _check(env)

    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "3 recordings checked" in clean.stdout
    assert broken.returncode == 1, broken.stdout + broken.stderr
    out = broken.stdout
    assert "missing: 1" in out and f"recording {gone.id}: {gone.path} (no file)" in out
    assert "corrupt: 1" in out and f"recording {changed.id}:" in out and "SHA-256" in out
    assert "orphaned: 2" in out
    assert "stray.wav (in no recording)" in out and "crashed.wav.part (unfinished" in out
