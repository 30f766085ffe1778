"""The machine's share of the tests' fixed resources that this test process holds: a Redis
database and blocks of ports, by slot. The port blocks, all below the kernel's ephemeral
range (32768 and up), which it hands to any socket that asks:

- 20000 + 500 a slot: ports a test hands to a program to bind, ``free_port`` (TCP:
  servers, a Redis; UDP: SIP endpoints, SIPps, the proxy; the two are apart in the kernel);
- 26000 + 500 a slot: SIPps' media, ``sipp_media_port``;
- 30000 + 400 a slot: the hotline's RTP ports, ``rtp_block``.

A machine whose ephemeral range starts lower is refused with a clear error.

Slots are taken by a lock on a file of each, not by the test worker's number alone: two
runs at once on one machine (a developer's beside another's) both numbered their workers
from 0, shared the same Redis databases and port blocks, and failed each other's tests."""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
import tempfile
from functools import cache
from pathlib import Path
from typing import IO

SLOTS = 6
"""Redis databases 10 to 15: six test processes at once on one machine."""
_held: list[IO[str]] = []


PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
"""Where the kernel says which ports it hands out to sockets that ask for any."""


def check_below_ephemeral(ports: str) -> None:
    """Refuse to run where the kernel's ephemeral range (``ports``, as ``PORT_RANGE``
    reads) reaches into the blocks: it would hand their ports to any outgoing connection,
    and tests would fail now and then, far from the cause."""
    low = int(ports.split()[0])
    if low <= BLOCKS_END:
        raise RuntimeError(
            f"the kernel hands out ports from {low} up, inside the tests' port blocks "
            f"(20000-{BLOCKS_END}): raise the low end of net.ipv4.ip_local_port_range "
            f"above {BLOCKS_END}"
        )


@cache
def worker_slot() -> int:
    """This process's slot, held until it exits: its test worker's number when that is
    free (each run's workers keep apart), else the first free one."""
    if PORT_RANGE.exists():
        check_below_ephemeral(PORT_RANGE.read_text())
    preferred = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    for slot in [*range(preferred, SLOTS), *range(min(preferred, SLOTS))]:
        handle = (Path(tempfile.gettempdir()) / f"callcenter-tests-slot-{slot}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held.append(handle)  # open for as long as the process runs: the lock with it
        return slot
    raise RuntimeError(f"all {SLOTS} test slots of this machine are taken: too many runs at once")


PORTS_PER_SLOT = 500
_next_port = {socket.SOCK_STREAM: itertools.count(), socket.SOCK_DGRAM: itertools.count()}


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, *, even: bool = False) -> int:
    """A port free now on 127.0.0.1 (TCP, or UDP as ``kind`` says), for a program a test
    starts to bind.

    Taken from this process's block (20000 + 500 a slot), below the kernel's ephemeral
    range, and not handed out again until the block comes round. A port the kernel picks
    for a probe bound to port 0 is free for any other socket to be given once the probe
    lets it go: another test process's probe, or any outgoing connection. A caller's SIPp
    once found its port so taken (``Unable to bind main socket``, errno 98)."""
    base = 20000 + worker_slot() * PORTS_PER_SLOT
    for _ in range(2 * PORTS_PER_SLOT):
        port = base + next(_next_port[kind]) % PORTS_PER_SLOT
        if even and port % 2:
            continue
        try:
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free ports in {base}-{base + PORTS_PER_SLOT - 1}")


RTP_PORTS_PER_SLOT = 400
BLOCKS_END = 30000 + SLOTS * RTP_PORTS_PER_SLOT - 1
"""The last port of the highest block (the last slot's RTP ports)."""


def rtp_block() -> int:
    """The first of this process's RTP ports (``RTP_PORTS_PER_SLOT`` of them), for the SIP
    endpoints its tests run."""
    return 30000 + worker_slot() * RTP_PORTS_PER_SLOT
