"""The RTP pump that carries every SIP leg of a process: one broken leg must not silence
the others, since they share its two threads. Real UDP sockets on 127.0.0.1 stand in
for the callers' phones."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from pyVoIP import RTP
from pyVoIP.RTP import PayloadType

from telephony.sip.media import SILENCE, HotlineRtpClient, InboundAudio
from tests.sip_harness import free_udp_port

WAIT_S = 5.0
PCMU_PACKET = bytes([0x80, 0]) + (1).to_bytes(2, "big") + bytes(8) + b"\xff" * 160


class Broken(InboundAudio):
    def put(self, ulaw: bytes) -> None:
        raise RuntimeError("a bug in one call's audio")


def _phone() -> socket.socket:
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", 0))
    phone.settimeout(0.1)
    return phone


@pytest.fixture
def legs() -> Iterator[list[HotlineRtpClient]]:
    started: list[HotlineRtpClient] = []
    yield started
    for leg in started:
        leg.stop()


def _leg(
    legs: list[HotlineRtpClient],
    phone: socket.socket,
    *,
    inbound: InboundAudio | None = None,
    source: object = SILENCE,
) -> HotlineRtpClient:
    leg = HotlineRtpClient(
        {0: PayloadType.PCMU},
        "127.0.0.1",
        free_udp_port(),
        "127.0.0.1",
        phone.getsockname()[1],
        RTP.TransmitType.SENDRECV,
        inbound=inbound or InboundAudio(),
        source=lambda: source,  # type: ignore[arg-type,return-value]
        dtmf=lambda _digit: None,
    )
    leg.start()
    legs.append(leg)
    return leg


def _packets_heard(phone: socket.socket, seconds: float) -> int:
    heard = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            phone.recv(2048)
            heard += 1
        except TimeoutError:
            pass
    return heard


def test_a_leg_whose_frame_cannot_be_sent_leaves_the_other_calls_their_audio(
    legs: list[HotlineRtpClient],
) -> None:
    with _phone() as broken_phone, _phone() as phone:
        _leg(legs, broken_phone, source=None)  # a media loop that hands out no frame
        _leg(legs, phone)

        # 50 frames a second: half a second's worth, long after the broken leg's first turn.
        assert _packets_heard(phone, 1.0) >= 25


def test_a_leg_whose_received_audio_fails_leaves_the_other_calls_theirs(
    legs: list[HotlineRtpClient],
) -> None:
    with _phone() as broken_phone, _phone() as phone:
        broken = _leg(legs, broken_phone, inbound=Broken())
        healthy = _leg(legs, phone)
        broken_phone.sendto(PCMU_PACKET, ("127.0.0.1", broken.inPort))
        time.sleep(0.2)

        for _ in range(10):
            phone.sendto(PCMU_PACKET, ("127.0.0.1", healthy.inPort))
        deadline = time.monotonic() + WAIT_S
        while healthy.inbound.packets < 10 and time.monotonic() < deadline:
            time.sleep(0.02)

        assert healthy.inbound.packets == 10
