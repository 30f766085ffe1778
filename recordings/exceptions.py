"""Errors of recordings (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import NotFound, ValidationFailed


class UnsafeRecordingPath(ValidationFailed):
    error_id = "unsafe_recording_path"


class RecordingMissing(NotFound):
    """No recording has this id."""

    error_id = "recording_missing"


class InvalidSearchQuery(ValidationFailed):
    error_id = "invalid_search_query"
