"""RTP ports of the SIP endpoint: a port of the configured range that another program
holds is passed over, instead of failing the call that draws it."""

from __future__ import annotations

import socket

import pytest
from pyVoIP.VoIP.VoIP import NoPortsAvailableError

from telephony.sip.phone import HotlinePhone
from tests.sip_harness import free_udp_port


def _phone(low: int) -> HotlinePhone:
    return HotlinePhone(
        server="127.0.0.1",
        port=free_udp_port(),
        username="1000",
        password="",
        my_ip="127.0.0.1",
        sip_port=free_udp_port(),
        rtp_ports=(low, low + 3),
        on_call=lambda _call: None,
        on_fatal=lambda _phone: None,
        register_timeout=1,
    )


def _held_pair() -> tuple[int, socket.socket]:
    """Two even ports, the first held by a socket of 'another program'."""
    while True:
        low = free_udp_port(even=True)
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            holder.bind(("127.0.0.1", low))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", low + 2))
            return low, holder
        except OSError:
            holder.close()


def test_a_port_another_program_holds_is_never_handed_to_a_call() -> None:
    low, holder = _held_pair()
    with holder:
        phone = _phone(low)
        assert phone.request_port() == low + 2
        with pytest.raises(NoPortsAvailableError):
            phone.request_port()  # the one free port is taken by the first call now
        phone.assignedPorts.remove(low + 2)
        assert phone.request_port() == low + 2
