"""The `callcenter` command run as an operator runs it: a fresh data directory, no
inherited CALLCENTER_ settings, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

CALLCENTER = str(Path(sys.executable).parent / "callcenter")
PASSWORD = "a-long-password"


def cli_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_DATA_DIR"] = str(data_dir)
    env.update(settings)
    return env


def add_user(
    env: dict[str, str], name: str, *, role: str = "agent", password: str = PASSWORD
) -> subprocess.CompletedProcess[str]:
    """`callcenter user add NAME --role ROLE`, the password on stdin."""
    return subprocess.run(
        [CALLCENTER, "user", "add", name, "--role", role],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def until(check: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for ``check`` to hold; meanwhile a server not up yet, or a pid file being
    rewritten, counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
