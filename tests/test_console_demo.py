"""`callcenter demo --calls`: what a newcomer runs, watched live from a supervisor's console.

The command seeds the demo data, serves it, and rings simulated callers in through the
signed Twilio webhooks; a supervisor's console connected to it must see the calls ring with
their pops, be offered to agents, get answered and end, and the wall's figures move. It
runs on the embedded defaults (a SQLite file and a private Redis), as a newcomer's does.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from tests.cli_harness import add_user, cli_env
from tests.conftest import PASSWORD
from tests.live_server import free_port

CLI = Path(sys.executable).parent / "callcenter"


def _watch(base: str, token: str, seconds: float) -> list[dict[str, Any]]:
    """Every frame a supervisor's console receives, from the first event on the bus."""
    frames: list[dict[str, Any]] = []
    with connect(base.replace("http://", "ws://") + "/ws/console") as ws:
        ws.send(json.dumps({"type": "auth", "token": token, "last_event_id": "0-0"}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with suppress(TimeoutError):
                frames.append(json.loads(ws.recv(timeout=1)))
            answered = [f for f in frames if f["type"] == "event" and f["name"] == "call.ended"]
            if answered and any(_answered(f) for f in frames):
                break
    return frames


def _answered(frame: dict[str, Any]) -> bool:
    return frame["type"] == "wall" and any(q["answered"] for q in frame["wall"]["queues"])


def test_demo_calls_ring_in_through_the_real_call_path(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", CALLCENTER_LOG_LEVEL="WARNING")
    added = add_user(env, "watcher", role="supervisor", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(CLI), "demo", "--customers", "20", "--calls", "--count", "3"]
    argv += ["--per-minute", "30", "--agents", "2", "--talk-seconds", "1", "--agent-share", "1"]
    argv += ["--port", str(port)]
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        token = _supervisor_token(base, demo, log)
        frames = _watch(base, token, seconds=90)
        assert demo.wait(120) == 0, log.read_text()[-3000:]
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            demo.wait(30)
    events = [f for f in frames if f["type"] == "event"]
    names = {f["name"] for f in events}
    assert {"call.ringing", "call.queued", "call.offered", "call.bridged", "call.ended"} <= names
    ringing = [f for f in events if f["name"] == "call.ringing"]
    assert ringing and all(f["data"]["pop"]["phone"].startswith("+86") for f in ringing)
    # Most demo callers are customers on file: their pops carry their cards.
    assert any(f["data"]["pop"]["customers"] for f in ringing)
    assert any(_answered(f) for f in frames)
    printed = log.read_text()
    assert f"{base}/console" in printed
    assert "is connected to agent" in printed and "finishes talking to the agent" in printed
    assert "failed" not in printed.rsplit("calls:", 1)[-1]


def _supervisor_token(base: str, demo: subprocess.Popen[str], log: Path) -> str:
    deadline = time.monotonic() + 60
    while True:
        assert demo.poll() is None, log.read_text()[-3000:]
        with suppress(httpx.HTTPError):
            response = httpx.post(
                f"{base}/api/auth/token", data={"username": "watcher", "password": PASSWORD}
            )
            if response.status_code == 200:
                return str(response.json()["access_token"])
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
