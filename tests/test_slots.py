"""Two test runs at once on one machine keep to their own Redis databases and ports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.slots import worker_slot

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
