"""Text that came from outside (a caller id, a recogniser's words), made fit to keep."""

from __future__ import annotations

import re

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""C0 controls and DEL, but not tab and the line breaks. PostgreSQL refuses NUL in text
outright; the others corrupt logs and exports."""


def without_controls(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)
