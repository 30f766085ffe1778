"""The SIP endpoint: registers to the PBX, answers every call into its own thread, rings
agents when the ACD offers them a call, and keeps its calls marked alive in Redis so a
crash is noticed and repaired (recovery.py)."""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import redis
import structlog
from pydantic import ValidationError
from pyVoIP.VoIP.status import PhoneStatus
from sqlmodel import Session

from callbacks import claim_due_dials
from core.types import Clock
from ivr import SpeechModel
from telephony.acd import Offer, QueueConfig
from telephony.sip.call_flow import CallContext, SipCall
from telephony.sip.constants import HEARTBEAT_SECONDS, LIVE_CALL, LIVE_CALL_TTL_SECONDS
from telephony.sip.errors import (
    RegistrarUnreachable,
    RegistrationRefused,
    SipPortBusy,
    map_pyvoip_errors,
)
from telephony.sip.phone import HotlineCall, HotlinePhone
from telephony.sip.prompts import PromptAudio
from telephony.sip.recovery import end_orphaned_calls
from telephony.sip.survey_call import SurveyCall, place_survey_call
from telephony.switchboard import Switchboard

log = structlog.get_logger(__name__)

RECONCILE_SECONDS = 30
DIAL_SECONDS = 5.0
"""How often the endpoint looks for survey calls that are due."""
BACKOFF_SECONDS = (1, 2, 4, 8, 16, 30)
CONTROLS = frozenset(
    {
        "call.bridged",
        "call.held",
        "call.resumed",
        "call.queued",
        "call.hang_up",
        "call.consult_offered",
        "call.consult_completed",
        "call.consult_ended",
    }
)
"""Events that steer a call in progress (see ``SipCall.control``)."""


@dataclass(frozen=True)
class SipConfig:
    server: str
    port: int
    username: str
    password: str
    local_ip: str
    local_port: int
    rtp_ports: tuple[int, int]
    register_timeout: float
    survey_calls: int = 0
    """How many automated survey calls this endpoint places at once; 0: it places none
    (another channel dials them)."""


def local_ip_towards(server: str, port: int) -> str:
    """The address of this host that packets to ``server`` leave from."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((socket.gethostbyname(server), port))
        return str(probe.getsockname()[0])


class SipEndpoint:
    def __init__(
        self,
        config: SipConfig,
        *,
        sessions: Callable[[], AbstractContextManager[Session]],
        client: redis.Redis,
        switchboard: Switchboard,
        prompts: PromptAudio,
        speech: SpeechModel | None,
        recordings_dir: Path,
        clock: Clock,
        live_model: Path | None = None,
    ) -> None:
        self.config = config
        self.board = switchboard
        self.sessions = sessions
        self.client = client
        self.prompts = prompts
        self.speech = speech
        self.live_model = live_model
        self.recordings_dir = recordings_dir
        self.clock = clock
        self.bus = switchboard.events
        self.notifier = switchboard.notifier
        self.acd = switchboard.acd
        self.calls: dict[str, SipCall] = {}
        self.phone: HotlinePhone | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # Life cycle

    def start(self) -> None:
        """Render prompts, repair what a crash left, register; raises if the registrar
        does not answer or refuses us (``run`` retries with backoff)."""
        rendered = self.prompts.prerender()
        log.info("prompts ready", synthesised=rendered)
        self.reconcile()
        self._last_event = self.bus.last_id()
        self._register()
        # Everything built so far lives as long as the process: keep the collector from
        # walking it in every full collection (pauses that would delay RTP packets).
        gc.freeze()
        loops: list[tuple[Callable[[], None], str]] = [
            (self._listen_for_offers, "sip-offers"),
            (self._keep_alive, "sip-heartbeat"),
            (self._reconcile_now_and_then, "sip-reconcile"),
        ]
        if self.config.survey_calls > 0:
            loops.append((self._dial_surveys, "sip-dialer"))
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Start, retrying an unreachable registrar with backoff, and serve until ``stop``."""
        self._with_backoff(self.start)
        if on_ready is not None and not self._stopping.is_set():
            on_ready()
        self._stopping.wait()

    def _with_backoff(self, attempt: Callable[[], None]) -> None:
        tries = 0
        while not self._stopping.is_set():
            try:
                attempt()
                return
            except (RegistrarUnreachable, SipPortBusy) as exc:
                delay = BACKOFF_SECONDS[min(tries, len(BACKOFF_SECONDS) - 1)]
                log.warning("cannot register yet, retrying", error=exc.message, in_s=delay)
                tries += 1
                self._stopping.wait(delay)

    def _registration_lost(self, phone: HotlinePhone) -> None:
        """pyVoIP gave up after failed re-REGISTERs and closed its socket: the calls it
        carried are gone; register a new phone, with backoff, in the background."""
        if phone is not self.phone or self._stopping.is_set():
            return  # a phone that never registered: _register reports that itself
        log.error("sip registration lost; re-registering", server=self.config.server)
        self.phone = None
        for call in list(self.calls.values()):
            call.leg.hangup()
        threading.Thread(
            target=self._with_backoff, args=(self._register,), name="sip-reregister", daemon=True
        ).start()

    def _register(self) -> None:
        config = self.config
        phone = HotlinePhone(
            server=config.server,
            port=config.port,
            username=config.username,
            password=config.password,
            my_ip=config.local_ip,
            sip_port=config.local_port,
            rtp_ports=config.rtp_ports,
            on_call=self._on_call,
            on_fatal=self._registration_lost,
            register_timeout=config.register_timeout,
        )
        where = f"{config.server}:{config.port}"
        with map_pyvoip_errors("register", server=where):
            phone.start()
        deadline = time.monotonic() + config.register_timeout * 3
        while phone.get_status() is not PhoneStatus.REGISTERED:
            if phone.get_status() is PhoneStatus.FAILED or time.monotonic() > deadline:
                status = phone.get_status()
                self._abandon(phone)
                if status is PhoneStatus.FAILED and phone.sip.registerFailures == 0:
                    raise RegistrationRefused(f"{where} refused our registration")
                raise RegistrarUnreachable(
                    f"no answer to REGISTER from {where}", details={"server": where}
                )
            time.sleep(0.05)
        self.phone = phone
        log.info("sip registered", server=where, user=config.username, contact=phone.sip.contact)

    @staticmethod
    def _abandon(phone: HotlinePhone) -> None:
        # A phone that never registered has nothing to deregister: close it quietly.
        phone.sip.NSD = False
        if phone.sip.registerThread is not None:
            phone.sip.registerThread.cancel()
        phone.sip._close_sockets()

    def stop(self) -> None:
        """Hang up every call, end them in the log, deregister."""
        self._stopping.set()
        for call in list(self.calls.values()):
            call.leg.hangup()
        deadline = time.monotonic() + 5
        while self.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.phone is not None:
            with map_pyvoip_errors("deregister", server=self.config.server):
                self.phone.stop()
            self.phone = None

    # Calls

    def _on_call(self, leg: HotlineCall) -> None:
        assert self.phone is not None
        self._carry(SipCall(self._context(), leg))

    def _carry(self, call: SipCall) -> None:
        """Run one call in this thread, and end it however its flow ends."""
        leg = call.leg
        try:
            call.run(on_logged=self._logged)
        except Exception:
            log.exception("sip call failed", sip_call_id=leg.call_id, call=call.call_id)
            call.abort()
        finally:
            if call.call_id is not None:
                self.calls.pop(call.call_id, None)
                self.client.delete(LIVE_CALL.format(call_id=call.call_id))

    def _context(self) -> CallContext:
        assert self.phone is not None
        return CallContext(
            phone=self.phone,
            sessions=self.sessions,
            board=self.board,
            prompts=self.prompts,
            speech=self.speech,
            live_model=self.live_model,
            recordings_dir=self.recordings_dir,
            clock=self.clock,
        )

    def _logged(self, call: SipCall) -> None:
        assert call.call_id is not None
        self.calls[call.call_id] = call
        self._mark(call.call_id)

    def _dial_surveys(self) -> None:
        while not self._stopping.wait(DIAL_SECONDS):
            try:
                self.dial_due_surveys()
            except Exception:
                log.exception("sip survey dialling failed")

    def dial_due_surveys(self) -> int:
        """Place the survey calls due now, up to the endpoint's share; the number placed.
        A crash between the claim and the INVITE is repaired by the worker's dial
        reconciliation, from the call logged first."""
        if self.phone is None:
            return 0
        room = self.config.survey_calls - sum(
            isinstance(call, SurveyCall) for call in self.calls.values()
        )
        if room <= 0:
            return 0
        ctx = self._context()
        placed = 0
        with self.sessions() as session:
            for dial in claim_due_dials(session, now=self.clock(), limit=room):
                call = place_survey_call(session, ctx, dial, from_number=self.config.username)
                if call is None:
                    continue
                self._logged(call)
                threading.Thread(
                    target=self._carry, args=(call,), name=f"survey:{call.call_id}", daemon=True
                ).start()
                placed += 1
        return placed

    def _listen_for_offers(self) -> None:
        while not self._stopping.is_set():
            try:
                events = self.bus.read_after(self._last_event, count=200, block_ms=500)
            except redis.RedisError as exc:
                log.warning("bus unreachable", error=str(exc))
                self._stopping.wait(1)
                continue
            for event in events:
                self._last_event = event.id
                call = self.calls.get(event.data.get("call_id", ""))
                if call is None:
                    continue
                # One event this endpoint cannot handle must not end the only thread that
                # rings its agents and steers its calls.
                try:
                    if event.name == "call.offered":
                        call.offer(self._offer(event.data))
                    elif event.name in CONTROLS:
                        call.control(event.name, event.data)
                except Exception:
                    log.exception("call event not handled", event_id=event.id, name=event.name)

    def _offer(self, data: dict[str, object]) -> Offer:
        offered = Offer.model_validate({**data, "offered_at": data["at"], "expires_at": data["at"]})
        if data.get("expires_at"):  # a call the agent took in the console rings longer
            return offered.model_copy(update={"expires_at": data["expires_at"]})
        try:
            timeout = self.acd.config(offered.queue).offer_timeout_seconds
        except (redis.RedisError, ValidationError) as exc:
            # The agent is rung all the same, for as long as a queue rings by default: the
            # sweep moves the offer on when the queue's own time is over.
            log.warning("queue settings unreadable", queue=offered.queue, error=str(exc))
            timeout = QueueConfig(name=offered.queue).offer_timeout_seconds
        return offered.model_copy(
            update={"expires_at": offered.offered_at + timedelta(seconds=timeout)}
        )

    def _keep_alive(self) -> None:
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            try:
                for call_id in list(self.calls):
                    self._mark(call_id)
            except Exception:
                log.exception("sip heartbeat failed")

    def _reconcile_now_and_then(self) -> None:
        # A thread of its own: a reconcile held up by a busy database must not hold up the
        # heartbeat, or the marks of the calls this endpoint carries expire and the
        # worker's orphan sweep ends them mid-call.
        while not self._stopping.wait(RECONCILE_SECONDS):
            try:
                self.reconcile()
            except Exception:
                log.exception("sip reconcile failed")

    @property
    def owner(self) -> str:
        """Who carries our calls: this registration, the same after a restart."""
        return f"{self.config.username}@{self.config.server}:{self.config.port}"

    def _mark(self, call_id: str) -> None:
        self.client.set(LIVE_CALL.format(call_id=call_id), self.owner, ex=LIVE_CALL_TTL_SECONDS)

    def reconcile(self) -> list[str]:
        with self.sessions() as session:
            return end_orphaned_calls(
                session,
                client=self.client,
                notifier=self.notifier,
                acd=self.acd,
                recordings_dir=self.recordings_dir,
                owner=self.owner,
                carried=set(self.calls),
                clock=self.clock,
            )
