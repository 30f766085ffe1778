"""One inbound SIP call from INVITE to hang-up: log it, pop the caller, run the IVR, wait
in the queue, ring the offered agent's extension, bridge and record, end both legs."""

from __future__ import annotations

import audioop
import contextlib
import hashlib
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import structlog
from pyVoIP.VoIP.VoIP import InvalidStateError, NoPortsAvailableError
from sqlmodel import Session

from core.types import Clock
from ivr import CallerInput, Enqueue, Hangup, SpeechModel, Turn
from recordings import FinishedWav, WavWriter, day_folder, pcm16_to_ulaw, recording_path
from telephony import calls
from telephony.acd import Offer
from telephony.enums import CallChannel, Disposition
from telephony.exceptions import ConsultationNotReady, NoSuchOffer
from telephony.live_transcript import LiveTranscriber, TranscriptTarget
from telephony.models import Call
from telephony.sip.ivr_audio import AudioIvr
from telephony.sip.media import FRAME_BYTES, SILENCE, Player
from telephony.sip.phone import HotlineCall, HotlinePhone
from telephony.sip.prompts import PromptAudio
from telephony.switchboard import Switchboard

log = structlog.get_logger(__name__)

OVERFLOW_CHECK_SECONDS = 1.0
"""How often a waiting caller's wait is checked against the queue's maximum."""
OFFER_CHECK_SECONDS = 0.5
"""How often a ringing phone checks that the ACD still offers the call to its agent."""
AGENT_OUTBOX_FRAMES = 5
"""Caller audio waiting to go to the agent; more means the agent leg fell behind, and the
oldest is dropped to keep the delay at 100 ms at most."""


@dataclass
class CallContext:
    """What every call of one endpoint shares."""

    phone: HotlinePhone
    sessions: Callable[[], AbstractContextManager[Session]]
    board: Switchboard
    prompts: PromptAudio
    speech: SpeechModel | None
    recordings_dir: Path
    clock: Clock
    live_model: Path | None = None
    """The Vosk model a bridged caller's words are transcribed live with (None: not)."""


@dataclass
class Media:
    """The media loop of a call, driven by the caller leg's 20 ms RTP sender: the caller
    hears the IVR's prompts or the agent; both directions go to a stereo recording
    (caller left, what the caller hears right)."""

    player: Player = field(default_factory=Player)
    recorder: WavWriter | None = None
    agent: HotlineCall | None = None
    consult: HotlineCall | None = None
    """A colleague the agent talks to while the caller is held (attended transfer)."""
    hear: Callable[[bytes], None] | None = None
    live: LiveTranscriber | None = None
    """Gets what the caller says to the agent (only while one is on the line)."""
    on_hold: bool = False
    _music_at: int = 0
    _finished: FinishedWav | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _to_agent: queue.Queue[bytes] = field(default_factory=queue.Queue)
    _to_consult: queue.Queue[bytes] = field(default_factory=queue.Queue)

    def caller_frame(self, caller: HotlineCall) -> bytes:
        heard = caller.inbound.take()
        agent = self.agent
        if agent is not None and agent.live and self.on_hold:
            said = agent.inbound.take()
            consult = self.consult
            if consult is not None and consult.live:  # the two agents hear each other
                _keep(self._to_consult, said)
                _keep(self._to_agent, consult.inbound.take())
            out = self.hold_music()
        elif agent is not None and agent.live:
            out = agent.inbound.take()
            _keep(self._to_agent, heard)
            if self.live is not None:
                self.live.feed(audioop.ulaw2lin(heard, 2))  # only queued: no work here
        else:
            out = self.player.next() or SILENCE
        if self.hear is not None:
            self.hear(heard)
        with self.lock:
            if self.recorder is not None:
                self.recorder.write(_stereo(heard, out))
        return out

    def finish_recording(self) -> FinishedWav | None:
        """The call's recording, closed; the same one when asked again (a call whose end
        failed to be logged is ended again, and its recording must still be filed)."""
        with self.lock:
            recorder, self.recorder = self.recorder, None
        if recorder is not None:
            finished = recorder.finish()
            if finished.frames == 0:
                finished.path.unlink(missing_ok=True)
            else:
                self._finished = finished
        return self._finished

    def hold_music(self) -> bytes:
        frame = HOLD_MUSIC[self._music_at : self._music_at + FRAME_BYTES]
        self._music_at = (self._music_at + FRAME_BYTES) % len(HOLD_MUSIC)
        return frame

    def agent_frame(self) -> bytes:
        try:
            return self._to_agent.get_nowait()
        except queue.Empty:
            return SILENCE

    def consult_frame(self) -> bytes:
        try:
            return self._to_consult.get_nowait()
        except queue.Empty:
            return SILENCE


def _keep(outbox: queue.Queue[bytes], frame: bytes) -> None:
    """Queue a frame for a leg's sender, dropping the oldest past 100 ms of delay."""
    if outbox.qsize() >= AGENT_OUTBOX_FRAMES:
        outbox.get_nowait()
    outbox.put(frame)


def _melody() -> bytes:
    """A few seconds of soft chimes for callers on hold (mu-law, a whole number of frames)."""
    rate, notes = 8000, (523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880.0, 698.46)
    pieces = []
    for frequency in notes:
        t = np.arange(int(rate * 0.4)) / rate
        envelope = np.minimum(1.0, 20 * t) * np.exp(-3 * t)
        pieces.append(4000 * envelope * np.sin(2 * np.pi * frequency * t))
    pcm = np.concatenate(pieces).astype("<i2").tobytes()
    return pcm16_to_ulaw(pcm)


HOLD_MUSIC = _melody()


def _stereo(left_ulaw: bytes, right_ulaw: bytes) -> bytes:
    """Two mu-law frames as one frame of interleaved 16-bit stereo. This runs for every
    20 ms of every call, so it stays in C (audioop), not in a Python loop."""
    left = audioop.tostereo(audioop.ulaw2lin(left_ulaw, 2), 2, 1, 0)
    right = audioop.tostereo(audioop.ulaw2lin(right_ulaw, 2), 2, 0, 1)
    return audioop.add(left, right, 2)


def dialog_id(leg: HotlineCall) -> str:
    """The call's provider id: its dialog (Call-ID and the caller's tag), hashed to fit.
    A Call-ID alone may come back from a careless phone for a new call; a dialog not."""
    headers = leg.request.headers
    dialog = f"{headers['Call-ID']};{headers['From']['tag']}"
    return "sip-" + hashlib.sha256(dialog.encode()).hexdigest()[:40]


class SipCall:
    """The SIP side of one call: media, prompts and the agent's leg. Every step of the
    call's life is taken by the channel-neutral call service (``telephony.calls``)."""

    def __init__(self, ctx: CallContext, leg: HotlineCall) -> None:
        self.ctx = ctx
        self.leg = leg
        self.media = Media()
        self.offers: queue.Queue[Offer] = queue.Queue()
        self.controls: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
        self._consulting = threading.Event()
        """Set while a colleague's phone rings for a consultation; cleared to stop it."""
        self.call_id: str | None = None
        self.audio: AudioIvr | None = None

    # The whole call. Sessions are opened per step, never held while the caller talks:
    # a call lasts minutes, and a pooled connection per call would starve the database.

    def run(self, on_logged: Callable[[SipCall], None]) -> None:
        ctx = self.ctx
        headers = self.leg.request.headers
        with ctx.sessions() as session:
            call = calls.arrive(
                session,
                ctx.board,
                channel=CallChannel.SIP,
                provider_id=dialog_id(self.leg),
                from_number=headers["From"]["number"] or "",
                to_number=headers["To"]["number"] or "",
                clock=ctx.clock,
            )
        self.call_id = call.id
        on_logged(self)
        if not self._answer(call):  # the caller gave up, or we turned them away, first
            self._finish(Disposition.FAILED if self.leg.turned_away else Disposition.CANCELED)
            return
        ending = self._ivr(call)
        while isinstance(ending, Enqueue) and self.leg.live:
            ending = self._wait_for_agent(call.id)
        self._hang_up_all()
        self._finish()

    def _answer(self, call: Call) -> bool:
        """Answers the caller, unless they gave up (CANCEL) or the endpoint turned them
        away (480, as it stopped) first."""
        ctx = self.ctx
        if not self.leg.live:
            return False
        self._connect_media(call)
        try:
            self.leg.answer()
        except InvalidStateError:
            if not self.leg.ended.is_set():
                raise
            return False  # the CANCEL or the 480 came while the media was being set up
        with ctx.sessions() as session:
            calls.answered(session, ctx.board, call=call, clock=ctx.clock)
        return True

    def _connect_media(self, call: Call) -> None:
        """The leg's audio into the media loop, recorded (and, with a model, transcribed
        live while an agent listens); its keys onto the bus."""
        ctx = self.ctx
        if ctx.live_model is not None:
            self.media.live = LiveTranscriber(
                ctx.live_model,
                TranscriptTarget(
                    call_id=call.id,
                    speaker="customer",
                    notifier=ctx.board.notifier,
                    sessions=ctx.sessions,
                    clock=ctx.clock,
                ),
            )
        self.media.recorder = WavWriter(
            recording_path(ctx.recordings_dir, call.id, at=call.ringing_at),
            sample_rate=8000,
            channels=2,
        )
        self.leg.source = lambda: self.media.caller_frame(self.leg)
        self.leg.on_digit = lambda digit: ctx.board.notifier.dtmf(call, digit)

    # IVR

    def _ivr(self, call: Call) -> Enqueue | Hangup | None:
        self._audio_ivr(call)
        ctx = self.ctx
        with ctx.sessions() as session:
            turn = calls.begin(session, ctx.board, call=call, clock=ctx.clock)
        return self._converse(call.id, turn)

    def _audio_ivr(self, call: Call) -> AudioIvr:
        ctx = self.ctx
        self.audio = AudioIvr(
            self.leg,
            player=self.media.player,
            prompts=ctx.prompts,
            speech=ctx.speech,
            speech_threshold=ctx.board.flow.speech_threshold,
            messages_dir=day_folder(ctx.recordings_dir, call.ringing_at) / "messages",
            call_id=call.id,
        )
        self.media.hear = self.audio.hear
        return self.audio

    def _converse(self, call_id: str, turn: Turn | None) -> Enqueue | Hangup | None:
        """Play turns and feed the caller's answers to the call service until the flow ends."""
        ctx = self.ctx
        audio = self.audio
        assert audio is not None
        while turn is not None:
            answer = audio.render(turn)
            if not isinstance(answer, CallerInput) or not self.leg.live:
                return answer if not isinstance(answer, CallerInput) else None
            # A fault described in the caller's own words belongs with the order it was
            # taken for.
            faults = [fault.wav for fault in audio.faults]
            audio.faults.clear()
            with ctx.sessions() as session:
                turn = calls.caller_input(
                    session,
                    ctx.board,
                    call_id=call_id,
                    given=answer,
                    recordings=faults,
                    clock=ctx.clock,
                )
        return Hangup()

    # Queue and agent

    def offer(self, offer: Offer) -> None:
        """An agent was offered this call, by this or any other process (every offer
        reaches the endpoint as a ``call.offered`` event): ring them from the call's thread."""
        self.offers.put(offer)

    def control(self, name: str, data: dict[str, object] | None = None) -> None:
        """Call events from any process, in the bus's order: ``call.bridged``, then
        ``call.held``, ``call.resumed``, ``call.queued`` (transferred away),
        ``call.hang_up`` (the agent ended it in the console), or an attended transfer's
        ``call.consult_offered``, ``call.consult_completed`` and ``call.consult_ended``."""
        self.controls.put((name, data or {}))

    def _wait_for_agent(self, call_id: str) -> Enqueue | Hangup | None:
        """Wait for an offer and talk; past the queue's maximum wait, leave the queue for
        the flow's overflow (a callback booking) or voicemail. Returns what the flow does
        next after an overflow, None when the call is over."""
        ctx = self.ctx
        next_check = 0.0
        while self.leg.live:
            try:
                offer = self.offers.get(timeout=0.2)
            except queue.Empty:
                if time.monotonic() < next_check:
                    continue
                next_check = time.monotonic() + OVERFLOW_CHECK_SECONDS
                if calls.take_for_overflow(ctx.board, call_id=call_id):
                    return self._overflow(call_id)
                continue
            if self._ring(offer) and not self._talk():
                return None
        return None

    def _overflow(self, call_id: str) -> Enqueue | Hangup | None:
        ctx = self.ctx
        with ctx.sessions() as session:
            after = calls.overflow(session, ctx.board, call_id=call_id, clock=ctx.clock)
        if not isinstance(after, calls.Voicemail):
            return self._converse(call_id, after)
        assert self.audio is not None
        message = self.audio.voicemail(after.language)
        if message is not None:
            with ctx.sessions() as session:
                calls.file_recording(session, call_id=call_id, wav=message.wav, clock=ctx.clock)
        return Hangup()

    def _talk(self) -> bool:
        """Relay caller and agent until one hangs up (False) or the call is transferred
        away from this agent (True: wait for the next offer). The agent may change on the
        way: a consulted colleague who takes the call over is the agent from then on."""
        media = self.media
        # Events about this call from before the bridge (its first call.queued) may still
        # be on their way; everything before our own call.bridged is history.
        current = False
        while self.leg.live and (agent := media.agent) is not None and agent.live:
            consult = media.consult
            if consult is not None and not consult.live:  # the colleague hung up
                media.consult = None
                self._end_consultation()
            try:
                control, data = self.controls.get(timeout=0.05)
            except queue.Empty:
                continue
            if control == "call.bridged":
                current = True
            elif not current:
                continue
            elif control == "call.hang_up":
                self._hang_up_all()
                return False
            elif control == "call.queued":
                media.agent = None
                media.on_hold = False
                agent.hangup()
                return True
            elif control == "call.consult_offered":
                self._consult(data)
            elif control == "call.consult_completed":
                self._hand_over(agent)
            elif control == "call.consult_ended":
                self._drop_consultant()
            elif control in {"call.held", "call.resumed"}:
                media.on_hold = control == "call.held"
        return False

    # Attended transfer

    def _consult(self, data: dict[str, object]) -> None:
        """Ring the colleague on a thread of its own: the call's controls (a cancel, the
        caller hanging up) are still read meanwhile."""
        agent_id = int(str(data["agent_id"]))
        until = datetime.fromisoformat(str(data["expires_at"]))
        self._consulting.set()
        threading.Thread(
            target=self._ring_consultant,
            args=(agent_id, until),
            name=f"consult-{self.call_id}",
            daemon=True,
        ).start()

    def _ring_consultant(self, agent_id: int, until: datetime) -> None:
        ctx = self.ctx
        assert self.call_id is not None
        agent = ctx.board.acd.presence.get(agent_id)
        extension = (agent.extension or f"sip:agent{agent_id}").removeprefix("sip:")
        try:
            leg = ctx.phone.call(extension.split("@", 1)[0])
        except NoPortsAvailableError:
            # As a colleague who does not answer: the caller is back with the agent.
            log.warning("no RTP port to ring the colleague", call=self.call_id, agent=agent_id)
            self._end_consultation()
            return
        leg.source = self.media.consult_frame
        deadline = time.monotonic() + max(0.0, (until - ctx.clock()).total_seconds())
        while self._consulting.is_set() and self.leg.live and leg.live:
            if leg.answered_event.wait(0.05) or time.monotonic() >= deadline:
                break
        # Out of time: the ringing stops, unless an answer was taken as it ran out.
        answered = leg.answered_event.is_set() or not leg.cancel()
        if answered and self._consulting.is_set() and self.leg.live:
            self.media.consult = leg
            with ctx.sessions() as session, contextlib.suppress(NoSuchOffer):
                calls.consult_answered(
                    session, ctx.board, call_id=self.call_id, agent_id=agent_id, clock=ctx.clock
                )
            return
        leg.hangup()  # rang out, refused, or picked up too late
        if self._consulting.is_set() and self.leg.live:  # rang out or refused
            self._end_consultation()

    def _end_consultation(self) -> None:
        assert self.call_id is not None
        self._consulting.clear()
        with self.ctx.sessions() as session, contextlib.suppress(ConsultationNotReady):
            calls.end_consult(session, self.ctx.board, call_id=self.call_id, clock=self.ctx.clock)

    def _drop_consultant(self) -> None:
        """The consultation ended (cancelled, or ended by the other side): the colleague's
        leg goes; the caller comes back with ``call.resumed``."""
        self._consulting.clear()
        consult, self.media.consult = self.media.consult, None
        if consult is not None and consult.live:
            consult.hangup()

    def _hand_over(self, agent: HotlineCall) -> None:
        """The colleague takes the call: they hear the caller, the agent's leg goes."""
        self._consulting.clear()
        consult, self.media.consult = self.media.consult, None
        if consult is None or not consult.live:
            return
        consult.source = self.media.agent_frame
        self.media.agent = consult
        self.media.on_hold = False
        agent.hangup()

    def _ring(self, offer: Offer) -> bool:
        ctx = self.ctx
        if not self._still_offered(offer):
            return False  # moved on while earlier offers rang: its own event follows
        agent = ctx.board.acd.presence.get(offer.agent_id)
        extension = (agent.extension or f"sip:agent{offer.agent_id}").removeprefix("sip:")
        try:
            leg = ctx.phone.call(extension.split("@", 1)[0])
        except NoPortsAvailableError:
            # The endpoint has no RTP port for another leg: the offer moves on, as when a
            # phone cannot be reached, and the caller waits on instead of being hung up.
            log.warning("no RTP port to ring the agent", call=self.call_id, agent=offer.agent_id)
            self._missed(offer)
            return False
        leg.source = self.media.agent_frame
        deadline = time.monotonic() + (offer.expires_at - offer.offered_at).total_seconds()
        next_check = time.monotonic() + OFFER_CHECK_SECONDS
        over = False
        while self.leg.live and leg.live and time.monotonic() < deadline:
            if leg.answered_event.wait(0.05):
                break
            if time.monotonic() >= next_check:
                # Declined in the console, or expired by the sweep: the phone stops ringing
                # instead of ringing on for an offer the ACD has given to someone else.
                next_check = time.monotonic() + OFFER_CHECK_SECONDS
                if not self._still_offered(offer):
                    over = True
                    break
        # Out of time, or declined: the ringing stops, unless an answer was taken as it ran
        # out; that one stands if the ACD still offers this agent the call (``_answered``).
        answered = leg.answered_event.is_set() or not leg.cancel()
        if answered and self.leg.live and self._answered(offer, leg):
            return True
        leg.hangup()  # rang out, declined, or picked up too late
        if self.leg.live and not over:
            self._missed(offer)
        return False

    def _still_offered(self, offer: Offer) -> bool:
        return self.ctx.board.acd.rings(offer.call_id, offer.agent_id)

    def _answered(self, offer: Offer, leg: HotlineCall) -> bool:
        """The agent picked up; False when the offer was over by then (the ACD gave the
        call to someone else): their leg is hung up, and the caller waits on."""
        ctx = self.ctx
        assert self.call_id is not None
        self.media.agent = leg
        try:
            with ctx.sessions() as session:
                calls.agent_answered(
                    session,
                    ctx.board,
                    call_id=self.call_id,
                    agent_id=offer.agent_id,
                    clock=ctx.clock,
                )
        except NoSuchOffer:
            self.media.agent = None
            log.info("agent picked up an offer already over", call=self.call_id)
            return False
        return True

    def _missed(self, offer: Offer) -> None:
        assert self.call_id is not None
        # NoSuchOffer: the worker's sweep expired the offer first and has moved it on.
        with self.ctx.sessions() as session, contextlib.suppress(NoSuchOffer):
            calls.agent_missed(
                session, self.ctx.board, call_id=self.call_id, agent_id=offer.agent_id
            )

    # The end

    def _hang_up_all(self) -> None:
        self._consulting.clear()
        for leg in (self.leg, self.media.agent, self.media.consult):
            if leg is not None and leg.live:
                leg.hangup()

    def _finish(self, disposition: Disposition = Disposition.COMPLETED) -> None:
        ctx = self.ctx
        assert self.call_id is not None
        if self.media.live is not None:
            self.media.live.stop()
        finished = self.media.finish_recording()
        with ctx.sessions() as session:
            call = calls.finish(
                session,
                ctx.board,
                call_id=self.call_id,
                disposition=disposition,
                recording=finished,
                clock=ctx.clock,
            )
        log.info(
            "sip call ended",
            call=call.id,
            disposition=call.disposition,
            caller_rtp_in=self.leg.packets_received,
            caller_rtp_out=self.leg.packets_sent,
        )

    def abort(self) -> None:
        """End what is left of a call whose flow failed."""
        self._hang_up_all()
        if self.call_id is not None:
            self._finish(Disposition.FAILED)
