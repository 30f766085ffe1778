"""A small Twilio: posts webhooks as Twilio does, signed with the SDK's own validator."""

from __future__ import annotations

import asyncio
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from arq import create_pool
from arq.connections import RedisSettings
from fastapi.testclient import TestClient
from httpx import Response
from twilio.request_validator import RequestValidator

from callcenter.app import worker_context
from callcenter.worker import build_worker
from telephony.twilio.ringer import ring_offered_agents
from tests.conftest import PUBLIC_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN


@dataclass
class TwiML:
    root: ET.Element

    @classmethod
    def parse(cls, response: Response) -> TwiML:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        return cls(ET.fromstring(response.text))

    def said(self) -> list[str]:
        return [say.text or "" for say in self.root.iter("Say")]

    def gather(self) -> ET.Element | None:
        return self.root.find("Gather")

    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    def stream_token(self) -> str:
        """The token our TwiML gives the call's Media Stream, as Twilio sends it back."""
        parameter = self.root.find("Start/Stream/Parameter[@name='token']")
        assert parameter is not None, "no <Stream> with a token in this TwiML"
        return parameter.attrib["value"]


@dataclass
class SimulatedCall:
    sim: TwilioSimulator
    sid: str
    caller: str
    twiml: TwiML
    heard: list[str] = field(default_factory=list)
    stream_token: str = ""
    """The token of the call's Media Stream, from the first TwiML of the call."""

    def _answer(self, params: dict[str, str]) -> TwiML:
        gather = self.twiml.gather()
        assert gather is not None, f"no <Gather> to answer in {self.twiml.verbs()}"
        self.twiml = TwiML.parse(self.sim.post(gather.attrib["action"], self._base(params)))
        self.heard.extend(self.twiml.said())
        return self.twiml

    def press(self, digits: str) -> TwiML:
        return self._answer({"Digits": digits})

    def speak(self, text: str, confidence: float = 0.92) -> TwiML:
        return self._answer({"SpeechResult": text, "Confidence": str(confidence)})

    def silence(self) -> TwiML:
        return self._answer({})

    def wait_in_queue(self) -> TwiML:
        enqueue = self.twiml.root.find("Enqueue")
        assert enqueue is not None
        # Each caller waits in a Twilio queue of its own, so Twilio's position is always 1.
        params = self._base({"QueuePosition": "1", "QueueSid": "QU1", "QueueTime": "5"})
        return TwiML.parse(self.sim.post(enqueue.attrib["waitUrl"], params))

    def leave_queue(self) -> TwiML:
        """Twilio after ``<Leave/>`` in the wait music: the ``<Enqueue>``'s action, told
        the caller left the queue; its answer is what the caller hears next."""
        enqueue = self.twiml.root.find("Enqueue")
        assert enqueue is not None, f"no <Enqueue> to leave in {self.twiml.verbs()}"
        params = self._base({"QueueResult": "leave", "QueueSid": "QU1", "QueueTime": "5"})
        self.twiml = TwiML.parse(self.sim.post(enqueue.attrib["action"], params))
        self.heard.extend(self.twiml.said())
        return self.twiml

    def status(self, status: str, sequence: int | str | None = None) -> Response:
        params = self._base({"CallStatus": status})
        if sequence is not None:
            params["SequenceNumber"] = str(sequence)
        return self.sim.post("/twilio/status", params)

    def _base(self, extra: dict[str, str]) -> dict[str, str]:
        return {
            "CallSid": self.sid,
            "AccountSid": TWILIO_ACCOUNT_SID,
            "From": self.caller,
            "To": self.sim.hotline,
            "Direction": "inbound",
            "CallStatus": "in-progress",
            **extra,
        }


@dataclass
class TwilioSimulator:
    client: TestClient
    hotline: str = "+864008001234"
    validator: RequestValidator = field(default_factory=lambda: RequestValidator(TWILIO_AUTH_TOKEN))

    def sign(self, path: str, params: dict[str, str]) -> str:
        return self.validator.compute_signature(PUBLIC_URL + path, params)

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None) -> Response:
        path = urlsplit(path)._replace(scheme="", netloc="").geturl()
        header = self.sign(path, params) if signature is None else signature
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": header})

    def call(self, caller: str) -> SimulatedCall:
        sid = "CA" + uuid.uuid4().hex
        params = {
            "CallSid": sid,
            "AccountSid": TWILIO_ACCOUNT_SID,
            "From": caller,
            "To": self.hotline,
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        twiml = TwiML.parse(self.post("/twilio/voice", params))
        return SimulatedCall(
            sim=self,
            sid=sid,
            caller=caller,
            twiml=twiml,
            heard=twiml.said(),
            stream_token=twiml.stream_token(),
        )


async def ring_pass(context: dict[str, Any], redis_url: str) -> None:
    """One pass of a worker's ringer over the bus, and the steering it started."""
    await ring_until(context, redis_url, None)


async def ring_until(context: dict[str, Any], redis_url: str, stop: threading.Event | None) -> None:
    """A worker's ringer, pass after pass until ``stop`` (one pass without it); then the
    steering it started is waited for."""
    jobs = await create_pool(RedisSettings.from_dsn(redis_url))
    ringing = {**context, "redis": jobs}
    try:
        await ring_offered_agents(ringing, consumer="test-worker")
        while stop is not None and not stop.is_set():
            await asyncio.sleep(0.05)
            await ring_offered_agents(ringing, consumer="test-worker")
        await ringing["steering"].drain()
    finally:
        await jobs.aclose()


def run_worker_jobs(app: Any, redis_url: str, bus: redis.Redis) -> None:
    """What a running worker does: ring the offers made on the bus, then run the jobs."""

    async def drain() -> None:
        context = {**worker_context(app), "bus": bus}
        await ring_pass(context, redis_url)
        worker = build_worker(redis_url, ctx=context, handle_signals=False, burst=True)
        await worker.async_run()
        await worker.close()

    asyncio.run(drain())
