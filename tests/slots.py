"""The machine's share of the tests' fixed resources that this test process holds: a Redis
database and blocks of UDP ports, by slot. The port blocks, all below the kernel's ephemeral
range (32768 and up), which it hands to any socket that asks:

- 20000 + 500 a slot: SIP signalling (endpoints, SIPps, the proxy), ``free_udp_port``;
- 26000 + 500 a slot: SIPps' media, ``sipp_media_port``;
- 30000 + 400 a slot: the hotline's RTP ports.

Slots are taken by a lock on a file of each, not by the test worker's number alone: two
runs at once on one machine (a developer's beside another's) both numbered their workers
from 0, shared the same Redis databases and port blocks, and failed each other's tests."""

from __future__ import annotations

import fcntl
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import IO

SLOTS = 6
"""Redis databases 10 to 15: six test processes at once on one machine."""
_held: list[IO[str]] = []


@cache
def worker_slot() -> int:
    """This process's slot, held until it exits: its test worker's number when that is
    free (each run's workers keep apart), else the first free one."""
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
