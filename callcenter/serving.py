"""What every uvicorn server of the service is run with."""

from __future__ import annotations

from typing import Any

WEBSOCKETS: dict[str, Any] = {
    # Every console's frames compressed on their own cost the event loop about a fifth of
    # its CPU per call (1.2 ms of 5.6 at 60 calls/s, benchmarks/screen_pop.py); the frames
    # are a few kilobytes, a pop at most, on the call centre's own network.
    "ws_per_message_deflate": False,
}
