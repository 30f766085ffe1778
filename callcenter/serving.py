"""The worker processes of ``callcenter serve --workers N``, each listening on a socket of
its own."""

from __future__ import annotations

import socket

from uvicorn import Config
from uvicorn.supervisors import Multiprocess


class ReusePortWorkers(Multiprocess):
    """uvicorn's supervisor of worker processes, except that each worker it starts (or
    starts again) listens on a socket of its own, all bound to one port with
    ``SO_REUSEPORT``: the kernel spreads new connections over the workers by their
    addresses.

    Sharing one socket, every idle worker is woken by a new connection and the first awake
    accepts all that are waiting: a burst of connections (a proxy's pool, Twilio's
    webhooks at a peak) went to one worker, 80-88 % of the work on one of two workers in
    ``benchmarks/screen_pop.py``, and that worker saturated while the other idled.
    """

    def __init__(self, config: Config) -> None:
        self._host = config.host
        self._port = config.port
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """Read by uvicorn once for each worker it starts: a socket for that worker."""
        return [self._listening_socket()]

    @sockets.setter
    def sockets(self, _shared: list[socket.socket]) -> None:
        """uvicorn's constructor stores the sockets its workers would share: there are none."""

    def _listening_socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self._host, self._port))
        # Port 0: the first worker's port is every worker's.
        self._port = sock.getsockname()[1]
        sock.set_inheritable(True)
        return sock
