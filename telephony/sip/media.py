"""Call audio as 20 ms mu-law frames, and pyVoIP's RTP client with its gaps covered.

pyVoIP 1.6.8 keeps every received packet in a log that is never pruned (memory grows with
the length of the call), hands audio out as 8-bit linear samples, polls its socket every
10 ms, sends A-law calls mu-law encoded, and paces its sender by sleeping a fixed delay
after each packet (so the gaps drift with load). ``HotlineRtpClient`` replaces those
parts: received audio goes into a bounded queue of mu-law frames, the sender keeps an
absolute 20 ms schedule and pulls each frame from the call's media source, A-law is
converted both ways.

pyVoIP also runs two threads for each leg (a sender and a receiver), each waking fifty
times a second: at sixty calls, 120 threads took turns at the interpreter's lock 6,000
times a second, the endpoint used 89 % of a core, and half its late packets came in
stalls of the whole process. Every leg's RTP goes through one ``RtpPump`` instead: one thread sends
each live leg its frame on a shared 20 ms tick, one waits on all the legs' sockets at once.
"""

from __future__ import annotations

import audioop
import contextlib
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

import structlog
from pyVoIP import RTP
from pyVoIP.RTP import PayloadType, RTPClient, RTPMessage, RTPParseError

log = structlog.get_logger(__name__)

FRAME_BYTES = 160
"""20 ms of 8 kHz G.711 audio."""
FRAME_SECONDS = 0.02
SILENCE = b"\xff" * FRAME_BYTES
"""Mu-law silence (0xFF encodes zero)."""
INBOUND_FRAMES = 50
"""At most one second of received audio waits for the call's media loop; older frames
are dropped, which bounds memory whatever the length of the call."""


class InboundAudio:
    """Frames received on one leg, oldest first, bounded."""

    def __init__(self, limit: int = INBOUND_FRAMES) -> None:
        self._frames: deque[bytes] = deque(maxlen=limit)
        self.packets = 0

    def put(self, ulaw: bytes) -> None:
        self.packets += 1
        self._frames.append(ulaw)

    def take(self) -> bytes:
        try:
            frame = self._frames.popleft()
        except IndexError:
            return SILENCE
        return frame.ljust(FRAME_BYTES, b"\xff")[:FRAME_BYTES]


FrameSource = Callable[[], bytes]


def _order_codecs(codecs: dict[int, PayloadType]) -> dict[int, PayloadType]:
    # pyVoIP sends with the first codec of the map; PCMU first keeps A-law for callers
    # who offer nothing else.
    rank = {PayloadType.PCMU: 0, PayloadType.PCMA: 1}
    return dict(sorted(codecs.items(), key=lambda item: rank.get(item[1], 2)))


class HotlineRtpClient(RTPClient):
    def __init__(
        self,
        assoc: dict[int, PayloadType],
        in_ip: str,
        in_port: int,
        out_ip: str,
        out_port: int,
        sendrecv: RTP.TransmitType,
        *,
        inbound: InboundAudio,
        source: FrameSource,
        dtmf: Callable[[str], None],
    ) -> None:
        super().__init__(_order_codecs(assoc), in_ip, in_port, out_ip, out_port, sendrecv, dtmf)
        self.inbound = inbound
        self.source = source
        self.sent = 0
        self.started = False

    def start(self) -> None:
        # pyVoIP starts a call's clients again on a re-INVITE; a second bind would fail.
        if self.started:
            return
        self.started = True
        self.sin = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sout = self.sin
        self.sin.bind((self.inIP, self.inPort))
        self.sin.setblocking(False)
        PUMP.add(self)

    def stop(self) -> None:
        self.NSD = False
        if self.started:
            PUMP.remove(self)
            self.sin.close()

    def receive(self) -> None:
        """Read what waits on the socket (the pump's receiver found it readable)."""
        try:
            self.parse_packet(self.sin.recv(8192))
        except RTPParseError as exc:
            log.debug("rtp packet dropped", port=self.inPort, reason=str(exc))
        except OSError:
            pass  # nothing waiting after all, or the socket closed by stop() meanwhile

    def send_frame(self) -> None:
        """Send this leg's next 20 ms (the pump's sender, once a tick)."""
        try:
            frame = self.source()
        except Exception:
            # A fault in the call's media loop must not silence the line for good.
            log.exception("rtp source failed", port=self.inPort)
            frame = SILENCE
        payload = self.encode_packet(frame)
        header = bytes([0x80, int(self.preference)])
        header += (self.outSequence & 0xFFFF).to_bytes(2, "big")
        header += (self.outTimestamp & 0xFFFFFFFF).to_bytes(4, "big")
        header += self.outSSRC.to_bytes(4, "big")
        # A datagram lost on a live call is skipped.
        with contextlib.suppress(OSError):
            self.sout.sendto(header + payload, (self.outIP, self.outPort))
            self.sent += 1
        self.outSequence += 1
        self.outTimestamp += len(payload)

    def parse_packet(self, packet: bytes) -> None:
        # pyVoIP's parser turns each header byte into a string of bits and back: audio,
        # fifty packets a second on every leg, is read here straight from the header (RFC
        # 3550: version 2, CSRC count in the low bits of byte 0, payload type in byte 1).
        # Anything else (a key press, an unknown type) goes through pyVoIP as before.
        if len(packet) > 12 and packet[0] >> 6 == 2:
            kind = self.assoc.get(packet[1] & 0x7F)
            start = 12 + 4 * (packet[0] & 0x0F)
            if kind is PayloadType.PCMU:
                self.inbound.put(packet[start:])
                return
            if kind is PayloadType.PCMA:
                self.inbound.put(audioop.lin2ulaw(audioop.alaw2lin(packet[start:], 2), 2))
                return
        super().parse_packet(packet)

    def parse_pcmu(self, packet: RTPMessage) -> None:
        self.inbound.put(packet.payload)

    def parse_pcma(self, packet: RTPMessage) -> None:
        self.inbound.put(audioop.lin2ulaw(audioop.alaw2lin(packet.payload, 2), 2))

    def encode_packet(self, payload: bytes) -> bytes:
        if self.preference == PayloadType.PCMA:
            return audioop.lin2alaw(audioop.ulaw2lin(payload, 2), 2)
        return payload


class RtpPump:
    """One sender and one receiver thread for the RTP of every leg of the process.

    The sender keeps an absolute 20 ms schedule and, on each tick, sends every live leg its
    next frame; after a long stall it starts a fresh schedule instead of bursting to catch
    up. The receiver waits on every leg's socket in one ``select``; legs come and go
    through a queue it takes in when woken, so no other thread touches its selector.
    """

    def __init__(self) -> None:
        self._legs: tuple[HotlineRtpClient, ...] = ()
        self._lock = threading.Lock()
        self._changes: deque[tuple[bool, HotlineRtpClient]] = deque()
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ)
        self._threads: list[threading.Thread] = []

    def add(self, leg: HotlineRtpClient) -> None:
        with self._lock:
            self._legs = (*self._legs, leg)
            self._changes.append((True, leg))
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._send, name="rtp-send", daemon=True),
                    threading.Thread(target=self._receive, name="rtp-recv", daemon=True),
                ]
                for thread in self._threads:
                    thread.start()
        self._wake()

    def remove(self, leg: HotlineRtpClient) -> None:
        with self._lock:
            self._legs = tuple(other for other in self._legs if other is not leg)
            self._changes.append((False, leg))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_out.send(b"\0")

    def _send(self) -> None:
        deadline = time.monotonic()
        while True:
            for leg in self._legs:
                if leg.NSD:
                    self._serve(leg, leg.send_frame)
            deadline += FRAME_SECONDS
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.2:
                deadline = time.monotonic()

    def _receive(self) -> None:
        while True:
            for key, _events in self._selector.select(timeout=1.0):
                if key.fileobj is self._wake_in:
                    self._take_changes()
                elif key.data.NSD:
                    self._serve(key.data, key.data.receive)

    def _serve(self, leg: HotlineRtpClient, turn: Callable[[], None]) -> None:
        """One leg's turn on a thread shared by every call: a leg whose turn fails is
        dropped with one log line, so one broken call never silences the others."""
        try:
            turn()
        except Exception:
            log.exception("rtp leg failed: its media stops", port=leg.inPort)
            self.remove(leg)

    def _take_changes(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_in.recv(4096):
                pass
        with self._lock:
            changes, self._changes = list(self._changes), deque()
        for added, leg in changes:
            # A leg removed before its addition was taken in, or closed since, is skipped.
            with contextlib.suppress(KeyError, ValueError, OSError):
                if added and leg.NSD:
                    self._selector.register(leg.sin, selectors.EVENT_READ, leg)
                elif not added:
                    self._selector.unregister(leg.sin)


PUMP = RtpPump()
"""The process's pump: legs of every endpoint of the process share it."""


class Player:
    """Prompt audio waiting to be sent to a caller, one frame per 20 ms tick."""

    def __init__(self) -> None:
        self._frames: deque[bytes] = deque()
        self._lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()

    def play(self, ulaw: bytes) -> None:
        with self._lock:
            for start in range(0, len(ulaw), FRAME_BYTES):
                self._frames.append(ulaw[start : start + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff"))
            self.idle.clear()

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self.idle.set()

    def next(self) -> bytes | None:
        with self._lock:
            if self._frames:
                return self._frames.popleft()
            self.idle.set()
            return None
