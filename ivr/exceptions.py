"""Errors of the IVR (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import CallCenterError, ConfigurationError


class FlowError(ConfigurationError):
    error_id = "invalid_flow"

    def __init__(self, file: str, node: str | None, problem: str) -> None:
        where = f"{file}: node '{node}'" if node else file
        super().__init__(f"{where}: {problem}", details={"file": file, "node": node})
        self.file, self.node, self.problem = file, node, problem


class SpeechUnavailable(ConfigurationError):
    error_id = "speech_unavailable"


class SpeechRecognitionFailed(CallCenterError):
    error_id = "speech_recognition_failed"


class PromptUnavailable(CallCenterError):
    error_id = "prompt_unavailable"


class PromptRenderFailed(PromptUnavailable):
    error_id = "prompt_render_failed"


class RecordedPromptInvalid(PromptUnavailable):
    error_id = "recorded_prompt_invalid"
