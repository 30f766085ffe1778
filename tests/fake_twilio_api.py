"""A local HTTP server standing where api.twilio.com stands: it records what the SDK sends
and answers with the responses a test lines up."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, list[str]]
    authorization: str


Reply = tuple[int, dict[str, object]]

_CALL = re.compile(r"/2010-04-01/Accounts/[^/]+/Calls/([^/.]+)\.json")
"""A call's resource, as the SDK's ``calls(sid).fetch()`` reads it."""


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
    call_status: dict[str, str] = field(default_factory=dict)
    """Each call's ``status``, by SID, as a GET of the call's resource reads it; a SID not
    here is a call Twilio does not know (404)."""
    ended_at: dict[str, datetime] = field(default_factory=dict)
    """When each ended call ended (its resource's ``end_time``), by SID."""
    changed_at: dict[str, datetime] = field(default_factory=dict)
    """When Twilio last changed each call (``date_updated``), by SID; else its end."""
    refusing: set[str] = field(default_factory=set)
    """Calls whose GET is refused (400), by SID: a refusal about that one call."""
    failing: bool = False
    """Every GET of a call is answered 500: Twilio unwell."""
    suspended: bool = False
    """Every GET of a call is refused (403, code 20005): the account is not active."""
    on_call_read: Callable[[str], None] | None = None
    """Called with the SID as each GET of a call arrives, before it is answered: what the
    service holds while Twilio answers."""

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
                call = _CALL.fullmatch(self.path)
                if call is not None:
                    self._call(call.group(1))
                    return
                body = api.media.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def _call(self, sid: str) -> None:
                if api.on_call_read is not None:
                    api.on_call_read(sid)
                status = api.call_status.get(sid)
                if api.failing:
                    code, payload = 500, {"code": 20500, "message": "Internal Server Error"}
                elif api.suspended:
                    code, payload = (
                        403,
                        {"code": 20005, "message": "Account not active", "status": 403},
                    )
                elif sid in api.refusing:
                    code, payload = 400, {"code": 20001, "message": "refused", "status": 400}
                elif status is None:
                    code, payload = 404, {"code": 20404, "message": "not found", "status": 404}
                else:
                    ended = api.ended_at.get(sid)
                    changed = api.changed_at.get(sid, ended)
                    code, payload = (
                        200,
                        {
                            "sid": sid,
                            "status": status,
                            "end_time": format_datetime(ended) if ended is not None else None,
                            "date_updated": format_datetime(changed)
                            if changed is not None
                            else None,
                        },
                    )
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
