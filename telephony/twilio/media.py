"""Twilio Media Streams: ``WS /twilio/media`` receives a call's audio and DTMF live.

The handshake carries Twilio's signature; the ``start`` frame must carry the stream token
our TwiML gave the call (see stream_token), for a live call of ours that has no stream
yet. Frames are validated one by one, every Twilio id by its format, and bounded in size;
a stream closes, with a logged reason and without disturbing other streams, on a
malformed frame (1007), an oversized one (1009), a refused start or a stream past its
length (1008), or Redis gone (1013, try again). Inbound mu-law audio is decoded to 16-bit
PCM and written to the call's recording, named by our own ids, registered when the
stream stops. With a Vosk model configured, the caller's words are also transcribed live
(see live_transcript), off the audio path.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
import uuid
import wave
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import redis
import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from core.bus import BusUnavailable
from recordings import UnsafeRecordingPath, WavWriter, pcm16_to_ulaw, recording_path, ulaw_to_pcm16
from telephony.constants import MEDIA_STREAM
from telephony.enums import CallChannel, CallState
from telephony.live_transcript import LiveTranscriber, TranscriptTarget
from telephony.models import Call
from telephony.services import find_by_provider_id, keep_recording
from telephony.twilio.ids import AccountSid, CallSid, StreamSid
from telephony.twilio.stream_token import (
    STREAM_TOKEN_SECONDS,
    InvalidStreamToken,
    verify_stream_token,
)
from telephony.twilio.twiml import STREAM_TOKEN_PARAMETER, websocket_base

log = structlog.get_logger(__name__)
router = APIRouter()

CLOSE_POLICY = 1008
CLOSE_BAD_FRAME = 1007
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
MAX_FRAME_CHARS = 8192
"""Twilio's frames are a few hundred characters (20 ms of audio is 216 in base64)."""
STREAM_CLAIM_SECONDS = 2 * STREAM_TOKEN_SECONDS
"""A stream starts only while its token is valid; holding the call's claim twice as long
covers any clock skew between our hosts."""


class Connected(BaseModel):
    event: Literal["connected"]


class MediaFormat(BaseModel):
    encoding: Literal["audio/x-mulaw"]
    sampleRate: Literal[8000]
    channels: Literal[1]


class StartBody(BaseModel):
    accountSid: AccountSid
    callSid: CallSid
    streamSid: StreamSid
    tracks: list[str] = ["inbound"]
    customParameters: dict[str, str] = {}
    mediaFormat: MediaFormat


class StreamFrame(BaseModel):
    streamSid: StreamSid | None = None


class Start(StreamFrame):
    event: Literal["start"]
    start: StartBody


class MediaBody(BaseModel):
    track: str = "inbound"
    payload: str


class Media(StreamFrame):
    event: Literal["media"]
    media: MediaBody


class DtmfBody(BaseModel):
    digit: str = Field(pattern=r"^[0-9*#A-D]$")


class Dtmf(StreamFrame):
    event: Literal["dtmf"]
    dtmf: DtmfBody


class MarkBody(BaseModel):
    name: str


class Mark(StreamFrame):
    event: Literal["mark"]
    mark: MarkBody


class Stop(StreamFrame):
    event: Literal["stop"]


Frame = TypeAdapter(
    Annotated[Connected | Start | Media | Dtmf | Mark | Stop, Field(discriminator="event")]
)


class StreamClosed(Exception):
    """Why we close a stream, with the close code that says it."""

    code: ClassVar[int]


class BadFrame(StreamClosed):
    code = CLOSE_BAD_FRAME


class FrameTooLarge(StreamClosed):
    code = CLOSE_TOO_BIG


class StreamRefused(StreamClosed):
    code = CLOSE_POLICY


FRAME_BYTES = 160
"""20 ms of 8 kHz mu-law, the frame size Twilio sends and expects."""
SPEECH_RMS = 1500
SPEECH_FRAMES = 3
"""Three loud frames in a row (60 ms) count as the caller talking over a prompt."""
PROMPT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _rms(pcm: bytes) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def _read_prompt(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (8000, 1, 2):
            raise BadFrame(f"prompt {path.name} is not 8 kHz 16-bit mono")
        return wav.readframes(wav.getnframes())


def _websocket_url(websocket: WebSocket, base: str | None) -> str:
    if base is None:
        return str(websocket.url)
    query = f"?{websocket.url.query}" if websocket.url.query else ""
    return f"{websocket_base(base)}{websocket.url.path}{query}"


@router.websocket("/twilio/media")
async def media_stream(websocket: WebSocket) -> None:
    app = websocket.app
    token = app.state.twilio.auth_token
    signature = websocket.headers.get("X-Twilio-Signature", "")
    url = _websocket_url(websocket, app.state.public_url)
    if token is None or not RequestValidator(token.get_secret_value()).validate(url, {}, signature):
        log.warning("media stream refused: bad signature", url=url)
        await websocket.close(code=CLOSE_POLICY, reason="invalid X-Twilio-Signature")
        return
    await websocket.accept()
    stream = MediaStream(websocket, app.state)
    close: tuple[int, str] | None = (1000, "")
    try:
        await stream.run()
    except StreamClosed as exc:
        log.warning("media stream closed", code=exc.code, reason=str(exc), call=stream.call_id)
        close = (exc.code, str(exc)[:120])
    except (redis.RedisError, BusUnavailable) as exc:
        log.warning("media stream closed: Redis unavailable", error=str(exc), call=stream.call_id)
        close = (CLOSE_TRY_AGAIN, "Redis unavailable; try again")
    except WebSocketDisconnect:
        log.info("media stream disconnected", call=stream.call_id)
        close = None
    finally:
        # The recording is registered before Twilio (or a test) sees the stream close.
        await stream.finish()
    if close is not None:
        await websocket.close(code=close[0], reason=close[1])


class MediaStream:
    def __init__(self, websocket: WebSocket, state: Any) -> None:
        self.websocket = websocket
        self.state = state
        self.notifier = state.switchboard.notifier
        self.call: Call | None = None
        self.writer: WavWriter | None = None
        self.transcriber: LiveTranscriber | None = None
        self.stopped = False
        self.stream_sid = ""
        self.playing: set[str] = set()
        """Marks sent after prompt audio that Twilio has not yet reported as played."""
        self.loud_frames = 0
        self.max_frames = state.twilio.media_max_seconds * 8000

    @property
    def call_id(self) -> str | None:
        return self.call.id if self.call else None

    async def run(self) -> None:
        while not self.stopped:
            frame = self._parse(await self._receive())
            if isinstance(frame, StreamFrame):
                expected = frame.start.streamSid if isinstance(frame, Start) else self.stream_sid
                if frame.streamSid is not None and frame.streamSid != expected:
                    raise BadFrame("frame of another stream")
            if isinstance(frame, Start):
                await self._start(frame.start)
            elif isinstance(frame, Media):
                await self._media(frame.media)
            elif isinstance(frame, Dtmf):
                await self._barge_in("dtmf")
                await self._dtmf(frame.dtmf.digit)
            elif isinstance(frame, Mark):
                self.playing.discard(frame.mark.name)
            elif isinstance(frame, Stop):
                self.stopped = True

    async def _receive(self) -> str:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:
            raise BadFrame("binary frame; Twilio sends text")
        if len(text) > MAX_FRAME_CHARS:
            raise FrameTooLarge(f"frame of {len(text)} characters; at most {MAX_FRAME_CHARS}")
        return str(text)

    @staticmethod
    def _parse(text: str) -> Any:
        try:
            return Frame.validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise BadFrame(f"{where}: {first['msg']}") from exc

    async def _start(self, body: StartBody) -> None:
        if self.call is not None:
            raise BadFrame("second start on one stream")
        account = self.state.twilio.account_sid
        if account is not None and body.accountSid != account:
            raise StreamRefused("stream of another Twilio account")
        token = body.customParameters.get(STREAM_TOKEN_PARAMETER)
        if not token:
            raise StreamRefused("no stream token")
        try:
            granted = verify_stream_token(self.state.secret_key, token, now=self.state.clock())
        except InvalidStreamToken as exc:
            raise StreamRefused(str(exc)) from exc
        call = await run_in_threadpool(self._find_call, body.callSid)
        # One answer for an unknown call and another's: a probe learns nothing of our calls.
        if call is None or call.id != granted:
            raise StreamRefused("the stream token is not for this call")
        if call.channel is not CallChannel.TWILIO or call.state is CallState.ENDED:
            raise StreamRefused("the call is not live")
        if not await run_in_threadpool(self._claim, call, body.streamSid):
            raise StreamRefused("the call already has its stream")
        try:
            path = recording_path(
                Path(self.state.recordings_dir),
                f"{call.id}-{uuid.uuid4().hex}",
                at=call.ringing_at,
            )
        except UnsafeRecordingPath as exc:
            raise StreamRefused(exc.message) from exc
        self.call = call
        self.stream_sid = body.streamSid
        self.writer = WavWriter(path)
        model = self.state.settings.vosk_model
        if model is not None:
            target = TranscriptTarget(
                call_id=call.id,
                speaker="customer",  # the inbound track is the caller's voice
                notifier=self.notifier,
                sessions=self.state.sessions,
                clock=self.state.clock,
            )
            self.transcriber = LiveTranscriber(model, target)
        log.info("media stream started", call=call.id, stream=body.streamSid)
        prompt = body.customParameters.get("prompt")
        if prompt:
            await self.play_prompt(prompt)

    async def play_prompt(self, prompt_id: str) -> None:
        """Send a recorded prompt (``prompts/ID.wav``, 8 kHz mono) back on a bidirectional
        stream, followed by a mark so we learn when Twilio has played it."""
        path = Path(self.state.prompts_dir) / f"{prompt_id}.wav"
        if not PROMPT_ID.fullmatch(prompt_id) or not path.exists():
            log.warning("prompt not found", prompt=prompt_id)
            return
        pcm = await run_in_threadpool(_read_prompt, path)
        ulaw = pcm16_to_ulaw(pcm)
        for offset in range(0, len(ulaw), FRAME_BYTES):
            chunk = base64.b64encode(ulaw[offset : offset + FRAME_BYTES]).decode()
            await self._send({"event": "media", "media": {"payload": chunk}})
        self.playing.add(prompt_id)
        await self._send({"event": "mark", "mark": {"name": prompt_id}})

    async def _barge_in(self, cause: str) -> None:
        """The caller spoke or pressed a key over a prompt: stop the prompt at once."""
        if self.playing:
            self.playing.clear()
            await self._send({"event": "clear"})
            log.info("barge-in", call=self.call_id, cause=cause)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.websocket.send_text(json.dumps({**message, "streamSid": self.stream_sid}))

    def _find_call(self, call_sid: str) -> Call | None:
        with self.state.sessions() as session:
            return find_by_provider_id(session, call_sid)

    def _claim(self, call: Call, stream_sid: str) -> bool:
        """One stream per call, across every process: a replayed start finds it taken."""
        key = MEDIA_STREAM.format(call_id=call.id)
        return bool(self.state.bus.set(key, stream_sid, nx=True, ex=STREAM_CLAIM_SECONDS))

    async def _media(self, body: MediaBody) -> None:
        if self.writer is None:
            raise BadFrame("media before start")
        if body.track not in {"inbound", "inbound_track"}:
            return
        try:
            ulaw = base64.b64decode(body.payload, validate=True)
        except binascii.Error as exc:
            raise BadFrame("media.payload is not base64") from exc
        room = self.max_frames - self.writer.frames
        pcm = ulaw_to_pcm16(ulaw[:room])  # one mu-law byte per sample
        self.writer.write(pcm)
        if self.transcriber is not None:
            self.transcriber.feed(pcm)
        if len(ulaw) > room:
            seconds = self.state.twilio.media_max_seconds
            raise StreamRefused(f"stream longer than {seconds} s")
        self.loud_frames = self.loud_frames + 1 if _rms(pcm) > SPEECH_RMS else 0
        if self.loud_frames >= SPEECH_FRAMES:
            await self._barge_in("speech")

    async def _dtmf(self, digit: str) -> None:
        if self.call is None:
            raise BadFrame("dtmf before start")
        await run_in_threadpool(self.notifier.dtmf, self.call, digit)

    async def finish(self) -> None:
        """Register the recording once the stream is over, however it ended."""
        if self.writer is None or self.call is None:
            return
        writer, call, self.writer = self.writer, self.call, None
        if self.transcriber is not None:
            # The last words are still published after the stream is gone, not waited for.
            await run_in_threadpool(self.transcriber.stop)
        wav = await run_in_threadpool(writer.finish)

        def register() -> None:
            with self.state.sessions() as session:
                keep_recording(session, call=call, wav=wav, clock=self.state.clock)

        await run_in_threadpool(register)
        log.info("recording registered", call=call.id, seconds=wav.duration_seconds)
