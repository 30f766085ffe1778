"""What the SIP endpoint keeps for its calls: RTP ports (a port of the configured range that
another program holds is passed over, instead of failing the call that draws it), and the
cancelled legs it keeps for their final answer (bounded)."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import cast

import pytest
from pyVoIP.VoIP.VoIP import NoPortsAvailableError

from telephony.sip.phone import CANCELLED_LEGS_KEPT, HotlineCall, HotlinePhone
from tests.sip_harness import free_udp_port
from tests.slots import RTP_PORTS_PER_SLOT, rtp_block

RTP_BLOCK = rtp_block()
"""This process's RTP ports, as a hotline of its tests has them (``start_hotline``)."""


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
    """Two even ports of this process's RTP block, the first held by a socket of 'another
    program'."""
    for low in range(RTP_BLOCK, RTP_BLOCK + RTP_PORTS_PER_SLOT, 4):
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            holder.bind(("127.0.0.1", low))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", low + 2))
            return low, holder
        except OSError:
            holder.close()
    raise RuntimeError("no two free even ports in this process's RTP block")


def test_a_port_another_program_holds_is_never_handed_to_a_call() -> None:
    low, holder = _held_pair()
    with holder:
        phone = _phone(low)
        assert phone.request_port() == low + 2
        with pytest.raises(NoPortsAvailableError):
            phone.request_port()  # the one free port is taken by the first call now
        phone.assignedPorts.remove(low + 2)
        assert phone.request_port() == low + 2


def test_cancelled_legs_kept_for_their_final_answer_are_bounded() -> None:
    """A cancelled leg is kept until its final answer comes; one that never comes costs
    its slot only until newer cancellations push it out, so a floor that rings and
    cancels all day does not grow the endpoint's memory."""
    phone = _phone(RTP_BLOCK)
    legs = [
        cast(HotlineCall, SimpleNamespace(call_id=f"leg-{n}"))
        for n in range(CANCELLED_LEGS_KEPT + 10)
    ]
    for leg in legs:
        phone.remember_cancelled(leg)
    assert phone.our_leg("leg-0") is None  # the oldest went first
    assert phone.our_leg("leg-9") is None
    assert phone.our_leg("leg-10") is legs[10]
    assert phone.our_leg(legs[-1].call_id) is legs[-1]
    phone.forget_cancelled(legs[-1].call_id)  # its final answer came
    assert phone.our_leg(legs[-1].call_id) is None
