"""Errors of the console (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import NotFound


class RecordingNotFound(NotFound):
    """No such recording, or its file is gone, or it is not this agent's to hear."""

    error_id = "recording_not_found"
