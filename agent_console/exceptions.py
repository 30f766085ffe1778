"""Domain errors of the console.

CallCenterError
└── NotFound
    ├── telephony.CallNotFound        the call does not exist, or is another agent's
    └── RecordingNotFound             no such recording, or its file is gone
"""

from __future__ import annotations

from core.errors import NotFound


class RecordingNotFound(NotFound):
    error_id = "recording_not_found"
