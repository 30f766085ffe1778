"""Errors of recordings (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import ValidationFailed


class UnsafeRecordingPath(ValidationFailed):
    error_id = "unsafe_recording_path"
