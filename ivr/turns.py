"""What the engine asks a channel to do next: channel-neutral actions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Say(BaseModel):
    kind: Literal["say"] = "say"
    text: str


class Ask(BaseModel):
    """Play the prompts and wait for keys and/or speech; no input is a timeout."""

    kind: Literal["ask"] = "ask"
    prompts: list[str]
    accept: Literal["dtmf", "speech", "dtmf speech"] = "dtmf"
    num_digits: int | None = None
    finish_on_key: str | None = None
    timeout_seconds: int = 5
    hints: list[str] = []


class Enqueue(BaseModel):
    kind: Literal["enqueue"] = "enqueue"
    queue: str


class Hangup(BaseModel):
    kind: Literal["hangup"] = "hangup"


Action = Say | Ask | Enqueue | Hangup


class Turn(BaseModel):
    """Everything the caller hears until the next input, ending in Ask, Enqueue or Hangup."""

    language: str
    actions: list[Action]


class CallerInput(BaseModel):
    digits: str = ""
    speech: str = ""
    speech_confidence: float | None = None

    @property
    def empty(self) -> bool:
        return not self.digits and not self.speech.strip()
