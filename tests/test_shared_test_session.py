"""The test's one session is shared by the test's own thread and a live server's threads:
a factory's commit while the server answers a request must wait its turn, not break the
session (CI once failed on exactly this: a console page polling while the test created a
colleague, ``commit() is already in progress``)."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from orders.enums import Role
from tests.conftest import bearer
from tests.live_server import serve


def test_the_test_thread_and_a_live_servers_requests_take_turns_with_the_session(
    app: Any, make_user: Any, make_customer: Any
) -> None:
    supervisor = make_user(Role.SUPERVISOR)
    headers = bearer(supervisor)
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def read_while_the_test_writes(address: str) -> None:
        nonlocal answered
        with httpx.Client(base_url=f"http://{address}", headers=headers, timeout=30) as http:
            while not stop.is_set():
                try:
                    response = http.get("/api/customers", params={"name": "客户"})
                except httpx.HTTPError as error:
                    failures.append(f"no answer: {error!r}")
                    return
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                    return
                answered += 1

    with serve(app) as address:
        reader = threading.Thread(target=read_while_the_test_writes, args=(address,))
        reader.start()
        try:
            for number in range(40):
                make_user(Role.AGENT)
                make_customer(name=f"客户{number}", phones=(f"1370013{number:04d}",))
        finally:
            stop.set()
            reader.join(timeout=30)

    assert failures == []
    assert answered > 0
