"""Errors of recordings (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import ConfigurationError, NotFound, ValidationFailed


class UnsafeRecordingPath(ValidationFailed):
    error_id = "unsafe_recording_path"


class RecordingMissing(NotFound):
    """No recording has this id."""

    error_id = "recording_missing"


class InvalidSearchQuery(ValidationFailed):
    error_id = "invalid_search_query"


class TranscriptionUnavailable(ConfigurationError):
    """The Vosk model named by CALLCENTER_VOSK_MODEL is missing or unusable."""

    error_id = "transcription_unavailable"


class AudioUnreadable(ValidationFailed):
    """A recording's file is missing, empty, truncated or not 16-bit WAV audio."""

    error_id = "audio_unreadable"


class TranscriptNotReady(NotFound):
    """The recording has no transcript (yet, or its audio could not be transcribed)."""

    error_id = "transcript_not_ready"
