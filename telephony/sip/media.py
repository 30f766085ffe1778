"""Call audio as 20 ms mu-law frames, and pyVoIP's RTP client with its gaps covered.

pyVoIP 1.6.8 keeps every received packet in a log that is never pruned (memory grows with
the length of the call), hands audio out as 8-bit linear samples, polls its socket every
10 ms, sends A-law calls mu-law encoded, and paces its sender by sleeping a fixed delay
after each packet (so the gaps drift with load). ``HotlineRtpClient`` replaces those
parts: received audio goes into a bounded queue of mu-law frames, the sender keeps an
absolute 20 ms schedule and pulls each frame from the call's media source, A-law is
converted both ways, and the receiver sleeps in ``select``.
"""

from __future__ import annotations

import audioop
import contextlib
import select
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
        for target, name in ((self.recv, "rtp-recv"), (self.trans, "rtp-send")):
            threading.Thread(target=target, name=f"{name}:{self.inPort}", daemon=True).start()

    def stop(self) -> None:
        self.NSD = False
        if self.started:
            self.sin.close()

    def recv(self) -> None:
        while self.NSD:
            try:
                ready, _, _ = select.select([self.sin], [], [], 0.2)
                if ready:
                    self.parse_packet(self.sin.recv(8192))
            except RTPParseError as exc:
                log.debug("rtp packet dropped", port=self.inPort, reason=str(exc))
            except (OSError, ValueError):
                return  # socket closed by stop()

    def trans(self) -> None:
        deadline = time.monotonic()
        while self.NSD:
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
            # A datagram lost on a live call is skipped; after stop() the loop's test ends it.
            with contextlib.suppress(OSError):
                self.sout.sendto(header + payload, (self.outIP, self.outPort))
                self.sent += 1
            self.outSequence += 1
            self.outTimestamp += len(payload)
            deadline += FRAME_SECONDS
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.2:
                deadline = time.monotonic()  # after a long stall, do not burst to catch up

    def parse_pcmu(self, packet: RTPMessage) -> None:
        self.inbound.put(packet.payload)

    def parse_pcma(self, packet: RTPMessage) -> None:
        self.inbound.put(audioop.lin2ulaw(audioop.alaw2lin(packet.payload, 2), 2))

    def encode_packet(self, payload: bytes) -> bytes:
        if self.preference == PayloadType.PCMA:
            return audioop.lin2alaw(audioop.ulaw2lin(payload, 2), 2)
        return payload


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
