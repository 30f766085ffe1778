"""Two test runs at once on one machine keep to their own Redis databases and ports, and
the ports stay out of the kernel's ephemeral range."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.slots import BLOCKS_END, check_below_ephemeral, worker_slot

_HOLD = (
    "import sys; from tests.slots import worker_slot; "
    "print(worker_slot(), flush=True); sys.stdin.read()"
)


def test_processes_numbered_alike_take_different_slots() -> None:
    """Found: a second run's first worker took the first run's Redis database and port
    blocks (both were worker 0), and each failed the other's tests."""
    mine = worker_slot()
    env = {**os.environ, "PYTEST_XDIST_WORKER": "gw0"}
    root = Path(__file__).parent.parent
    others = [
        subprocess.Popen(
            [sys.executable, "-c", _HOLD],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        taken = [int(process.stdout.readline()) for process in others if process.stdout]
    finally:
        for process in others:
            process.communicate("", timeout=10)
    assert len({mine, *taken}) == 3


def test_a_kernel_handing_out_the_blocks_ports_is_refused_with_the_fix() -> None:
    check_below_ephemeral(f"{BLOCKS_END + 1}\t60999\n")
    with pytest.raises(RuntimeError, match=r"net\.ipv4\.ip_local_port_range") as refused:
        check_below_ephemeral("30000\t60999\n")
    assert "from 30000 up" in str(refused.value)
    assert BLOCKS_END == 32399  # the last slot's RTP ports end there
