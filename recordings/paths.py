"""Where a recording's file goes: always directly inside the recordings folder."""

from __future__ import annotations

import re
from pathlib import Path

from recordings.exceptions import UnsafeRecordingPath

_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")


def recording_path(directory: Path, name: str) -> Path:
    """``directory/NAME.wav``; a name that could lead anywhere else is refused."""
    root = directory.resolve()
    path = (root / f"{name}.wav").resolve() if _NAME.fullmatch(name) else None
    # Resolving also follows a symlink planted under the name.
    if path is None or path.parent != root:
        raise UnsafeRecordingPath(
            "a recording's file name must stay inside the recordings folder",
            details={"name": name[:200]},
        )
    return path
