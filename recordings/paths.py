"""Where a recording's file goes: inside the recordings folder, under the day of its call
(``YYYY/MM/DD``, the hotline's calendar), so a day's audio is found, archived or purged
together and no folder grows without end."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from orders import HOTLINE_ZONE
from recordings.exceptions import UnsafeRecordingPath

_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")


def day_folder(directory: Path, moment: datetime) -> Path:
    """``directory/YYYY/MM/DD`` of ``moment``'s day in the hotline's time zone."""
    return directory / moment.astimezone(HOTLINE_ZONE).strftime("%Y/%m/%d")


def recording_path(directory: Path, name: str, *, at: datetime) -> Path:
    """``directory/YYYY/MM/DD/NAME.wav`` for a call of ``at``; a name that could lead
    anywhere else is refused."""
    folder = day_folder(directory.resolve(), at)
    path = (folder / f"{name}.wav").resolve() if _NAME.fullmatch(name) else None
    # Resolving also follows a symlink planted under the name.
    if path is None or path.parent != folder:
        raise UnsafeRecordingPath(
            "a recording's file name must stay inside the recordings folder",
            details={"name": name[:200]},
        )
    return path
