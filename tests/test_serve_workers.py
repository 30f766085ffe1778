"""`callcenter serve --workers N` as an operator runs it: the workers share the work."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli_harness import CALLCENTER, cli_env, until
from tests.live_server import free_port

CONNECTIONS = 40


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


ESTABLISHED, LISTEN = "01", "0A"


def _sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the sockets on local ``port`` in ``state`` (the kernel's TCP tables)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def _sockets_of(pid: int) -> set[str]:
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[len("socket:[") : -1])
    return held


@pytest.mark.slow
def test_connections_opened_at_once_are_spread_over_the_workers(tmp_path: Path) -> None:
    """A burst of kept-alive connections, as a proxy's pool or Twilio at a peak opens them.
    Sharing one listening socket, the first worker awake accepted every connection waiting
    (in benchmarks/screen_pop.py 80-88 % of the work went to one of two workers)."""
    port = free_port()
    server = subprocess.Popen(
        [CALLCENTER, "serve", "--port", str(port), "--workers", "2"],
        env=cli_env(tmp_path / "data"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    opened: list[socket.socket] = []
    try:
        until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200, 60)
        workers = [
            pid
            for pid in _children(server.pid)
            if b"spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
        # Both workers have started and listen on the port.
        until(lambda: all(_sockets_of(pid) & _sockets_on(port, LISTEN) for pid in workers))
        for _ in range(CONNECTIONS):
            opened.append(socket.create_connection(("127.0.0.1", port)))
        for connection in opened:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for connection in opened:
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        established = _sockets_on(port, ESTABLISHED)
        held = [len(_sockets_of(pid) & established) for pid in workers]
    finally:
        for connection in opened:
            connection.close()
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert sum(held) == CONNECTIONS, output
    # Spread by the kernel's hash of the callers' ports: each worker's share is about half.
    assert min(held) >= CONNECTIONS // 5, held
