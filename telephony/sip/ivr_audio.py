"""The IVR on a SIP call: a turn's actions played as audio, the caller's answer collected
from RFC 2833 keys, from speech (Vosk, when a model is configured) or, for a fault
description, recorded."""

from __future__ import annotations

import audioop
import contextlib
import queue
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from ivr import Ask, CallerInput, Enqueue, Hangup, PhraseRecognizer, Say, SpeechModel, Turn
from recordings import FinishedWav, WavWriter, ulaw_to_pcm16
from telephony.sip.media import FRAME_SECONDS, Player
from telephony.sip.phone import HotlineCall
from telephony.sip.prompts import PromptAudio

log = structlog.get_logger(__name__)

VOICE_RMS = 500
"""16-bit RMS above which a frame counts as the caller speaking."""
DESCRIPTION_SILENCE_SECONDS = 2.0
DESCRIPTION_MAX_SECONDS = 60.0
INTER_DIGIT_SECONDS = 3.0


@dataclass
class VoiceMessage:
    """What a caller said into the IVR: a fault description or a voicemail."""

    wav: FinishedWav
    voiced_seconds: float


class Listener:
    """The caller's audio while an answer is being collected (frames of mu-law)."""

    def __init__(self) -> None:
        self.frames: queue.Queue[bytes] = queue.Queue(maxsize=3000)

    def put(self, frame: bytes) -> None:
        # Full: nobody is reading any more, the collector gave up.
        with contextlib.suppress(queue.Full):
            self.frames.put_nowait(frame)


class AudioIvr:
    """Renders turns onto one caller leg."""

    def __init__(
        self,
        leg: HotlineCall,
        *,
        player: Player,
        prompts: PromptAudio,
        speech: SpeechModel | None,
        speech_threshold: float,
        messages_dir: Path,
        call_id: str,
    ) -> None:
        self.leg = leg
        self.player = player
        self.prompts = prompts
        self.speech = speech
        self.speech_threshold = speech_threshold
        self.messages_dir = messages_dir
        self.call_id = call_id
        self.listener: Listener | None = None
        self.faults: list[VoiceMessage] = []

    def hear(self, frame: bytes) -> None:
        """Called by the media loop with every frame the caller sends."""
        listener = self.listener
        if listener is not None:
            listener.put(frame)

    def render(self, turn: Turn) -> CallerInput | Enqueue | Hangup | None:
        """Play the turn; returns the caller's answer, the turn's ending, or None on hang-up."""
        log.debug("ivr turn", call=self.call_id, actions=[a.kind for a in turn.actions])
        for action in turn.actions:
            if not self.leg.live:
                return None
            if isinstance(action, Say):
                self._play([action.text], turn.language, interruptible=False)
            elif isinstance(action, Ask):
                answer = self._ask(action, turn.language)
                log.debug("ivr answer", call=self.call_id, answer=answer)
                return answer
            else:
                return action
        return None

    def _play(self, texts: list[str], language: str, *, interruptible: bool) -> bool:
        """Play texts to the end; True if the caller pressed a key to cut them short."""
        for text in texts:
            self.player.play(self.prompts.ulaw(text, language))
        while self.leg.live and not self.player.idle.wait(FRAME_SECONDS):
            if interruptible and not self.leg.digits.empty():
                self.player.clear()
                return True
        return False

    def _ask(self, ask: Ask, language: str) -> CallerInput | None:
        if ask.accept == "speech":
            self._play(ask.prompts, language, interruptible=False)
            return self._describe(ask)
        spoken = "speech" in ask.accept and self.speech is not None and ask.hints
        recognizer = (
            PhraseRecognizer(self.speech, ask.hints, threshold=self.speech_threshold)
            if spoken and self.speech is not None
            else None
        )
        listener = Listener() if recognizer is not None else None
        self.listener = listener
        try:
            self._play(ask.prompts, language, interruptible=True)
            return self._collect(ask, recognizer, listener)
        finally:
            self.listener = None

    def _collect(
        self, ask: Ask, recognizer: PhraseRecognizer | None, listener: Listener | None
    ) -> CallerInput | None:
        digits = ""
        deadline = time.monotonic() + ask.timeout_seconds
        while self.leg.live and time.monotonic() < deadline:
            if recognizer is not None and listener is not None and not digits:
                heard = self._listen(recognizer, listener)
                if heard is not None:
                    return heard
            try:
                digit = self.leg.digits.get(timeout=FRAME_SECONDS)
            except queue.Empty:
                continue
            if ask.finish_on_key and digit == ask.finish_on_key:
                return CallerInput(digits=digits + digit)
            digits += digit
            if ask.num_digits is not None and len(digits) >= ask.num_digits:
                return CallerInput(digits=digits)
            deadline = time.monotonic() + INTER_DIGIT_SECONDS
        return CallerInput(digits=digits) if self.leg.live else None

    def _listen(self, recognizer: PhraseRecognizer, listener: Listener) -> CallerInput | None:
        finished = False
        while not listener.frames.empty() and not finished:
            finished = recognizer.feed(ulaw_to_pcm16(listener.frames.get_nowait()))
        if not finished:
            return None
        match = recognizer.result()
        if match is None:
            # Heard something but not a phrase we trust: the engine asks for keys.
            return CallerInput(speech="?", speech_confidence=0.0)
        return CallerInput(speech=match.phrase, speech_confidence=match.confidence)

    def _describe(self, ask: Ask) -> CallerInput | None:
        """Record the caller's fault description until '#', a pause, or the time limit."""
        fault = self._record("fault", no_voice_seconds=ask.timeout_seconds)
        if not self.leg.live:
            return None
        if fault is None:
            return CallerInput()
        self.faults.append(fault)
        return CallerInput(
            speech=f"[voice description: {fault.wav.path.name}, {fault.voiced_seconds:.0f} s]"
        )

    def voicemail(self, language: str) -> VoiceMessage | None:
        """Ask for a message, record it, say goodbye."""
        self._play([self.prompts.text("voicemail", language)], language, interruptible=False)
        message = self._record("voicemail", no_voice_seconds=8)
        if self.leg.live:
            self._play([self.prompts.text("goodbye", language)], language, interruptible=False)
        return message

    def _record(self, kind: str, *, no_voice_seconds: float) -> VoiceMessage | None:
        while not self.leg.digits.empty():  # keys typed ahead are not the end of the description
            self.leg.digits.get_nowait()
        listener = Listener()
        self.listener = listener
        path = self.messages_dir / f"{self.call_id}-{kind}-{len(self.faults) + 1}.wav"
        writer = WavWriter(path)
        voiced = silent_after_voice = 0.0
        started = time.monotonic()
        try:
            while self.leg.live and time.monotonic() - started < DESCRIPTION_MAX_SECONDS:
                if not self.leg.digits.empty() and self.leg.digits.get_nowait() == "#":
                    break
                try:
                    frame = ulaw_to_pcm16(listener.frames.get(timeout=0.1))
                except queue.Empty:
                    continue
                writer.write(frame)
                if audioop.rms(frame, 2) >= VOICE_RMS:
                    voiced += FRAME_SECONDS
                    silent_after_voice = 0.0
                elif voiced:
                    silent_after_voice += FRAME_SECONDS
                if voiced and silent_after_voice >= DESCRIPTION_SILENCE_SECONDS:
                    break
                if not voiced and time.monotonic() - started >= no_voice_seconds:
                    break
        finally:
            self.listener = None
            finished = writer.finish()
        if voiced < 0.3:
            finished.path.unlink(missing_ok=True)
            return None
        return VoiceMessage(finished, voiced)
