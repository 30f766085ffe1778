"""A local HTTP server standing where api.twilio.com stands: it records what the SDK sends
and answers with the responses a test lines up."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, list[str]]
    authorization: str


Reply = tuple[int, dict[str, object]]


@dataclass
class FakeTwilioApi:
    replies: list[Reply] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    """Files served to GET, by path (recordings)."""
    server: ThreadingHTTPServer | None = None
    reply: Callable[[Recorded], Reply] | None = None
    """Answers a POST when no lined-up reply is left (e.g. a fresh call SID each time);
    called as the request arrives, so what it creates exists even if the client dies
    before reading the answer, as a call Twilio accepted does."""
    delay: float = 0.0
    """Seconds each POST waits before its answer is sent: a slow Twilio."""

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilioApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                recorded = Recorded(
                    "POST", self.path, parse_qs(body), self.headers.get("Authorization", "")
                )
                api.requests.append(recorded)
                if api.replies:
                    status, payload = api.replies.pop(0)
                elif api.reply is not None:
                    status, payload = api.reply(recorded)
                else:
                    status, payload = 500, {}
                time.sleep(api.delay)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client was killed while waiting: Twilio does not mind

            def do_GET(self) -> None:
                api.requests.append(
                    Recorded("GET", self.path, {}, self.headers.get("Authorization", ""))
                )
                body = api.media.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
