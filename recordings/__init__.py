"""Call recordings: storage that survives crashes, checksums, and their catalogue.

The names below are the package's public API; other packages import only these.
"""

from recordings.audio import pcm16_to_ulaw, ulaw_to_pcm16
from recordings.exceptions import (
    AudioUnreadable,
    RecordingMissing,
    TranscriptionUnavailable,
    TranscriptNotReady,
    UnsafeRecordingPath,
)
from recordings.models import (
    Recording,
    RecordingKind,
    Transcript,
    TranscriptSegment,
    TranscriptState,
)
from recordings.paths import day_folder, recording_path
from recordings.retention import RetentionPolicy, set_legal_hold
from recordings.schemas import EarlierCall, LegalHoldIn, LegalHoldPublic
from recordings.services import earlier_calls, register_recording
from recordings.transcription import TranscriptionModel, load_model
from recordings.wav import FinishedWav, WavWriter, describe, recover

__all__ = [
    "AudioUnreadable",
    "EarlierCall",
    "FinishedWav",
    "LegalHoldIn",
    "LegalHoldPublic",
    "Recording",
    "RecordingKind",
    "RecordingMissing",
    "RetentionPolicy",
    "Transcript",
    "TranscriptNotReady",
    "TranscriptSegment",
    "TranscriptState",
    "TranscriptionModel",
    "TranscriptionUnavailable",
    "UnsafeRecordingPath",
    "WavWriter",
    "day_folder",
    "describe",
    "earlier_calls",
    "load_model",
    "pcm16_to_ulaw",
    "recording_path",
    "recover",
    "register_recording",
    "set_legal_hold",
    "ulaw_to_pcm16",
]
