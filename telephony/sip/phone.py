"""pyVoIP's phone, with its gaps covered at the adapter boundary.

What pyVoIP 1.6.8 does and what this module does instead:

- It answers an INVITE from a thread started by a 1 s timer: we start the call's thread
  at once, so the caller is not left ringing for a second.
- It sends every message to the registrar's address: requests must go there (the
  registrar or proxy routes them), but responses follow the top Via (``response_target``),
  so a proxy's Via with ``received``/``rport`` is honoured.
- Its 180 Ringing carries the caller's Contact, its 200 OK no Record-Route, and its BYE
  and 2xx ACK reuse the INVITE's Via with no route set: we send our own Contact, mirror
  Record-Route and build in-dialog requests from a ``Dialog`` (dialog.py).
- Its receive loop swallows, unanswered and unlogged, every request it fails to parse or
  to handle (bad SDP, a method other than its four, an INVITE without Contact or ``c=``),
  and it rings on an INVITE without PCMU/PCMA only to crash on it later: we send the final
  response refusals.py names for each and log why; what cannot be answered (responses,
  ACKs, datagrams without Via, From, To, Call-ID and CSeq) is logged and dropped.
- It ignores CANCEL (and would answer the cancelled call a second later): we answer 487
  and end the call.
- Its outbound ``call()`` blocks the receive loop waiting for a provisional answer and
  loops forever on a final error: ours sends the INVITE and lets the receive loop handle
  every answer, ACKing failures. Over UDP an INVITE can be lost: ours is sent again until
  the first answer comes (RFC 3261, 17.1.1.2), where pyVoIP sent it once and the phone
  never rang.
- Audio: see media.py.
"""

from __future__ import annotations

import contextlib
import queue
import random
import re
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import structlog
from pyVoIP import RTP
from pyVoIP.SIP import SIPClient, SIPMessage, SIPMessageType
from pyVoIP.VoIP.status import PhoneStatus
from pyVoIP.VoIP.VoIP import (
    CallState,
    InvalidStateError,
    NoPortsAvailableError,
    VoIPCall,
    VoIPPhone,
)

from telephony.sip import dialog, refusals
from telephony.sip.dialog import Dialog
from telephony.sip.media import SILENCE, FrameSource, HotlineRtpClient, InboundAudio
from telephony.sip.refusals import Verdict

log = structlog.get_logger(__name__)

INVITE_FIRST_RESEND_SECONDS = 0.5
"""RFC 3261's T1: over UDP an INVITE nobody has answered yet is sent again after T1, then
after twice the wait each time (timer A), for at most 64 T1 (timer B)."""

CANCELLED_LEGS_KEPT = 256
"""Cancelled outbound legs kept for their final answer: more than a floor's agents could
have ringing at once."""


class ResponseRouting:
    """The SIP socket, with responses sent where their top Via says."""

    def __init__(self, sock: socket.socket, default: tuple[str, int]) -> None:
        self._sock = sock
        self._default = default

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        text = data.decode("utf8", "replace")
        if text.startswith("SIP/2.0 "):
            address = dialog.response_target(text, self._default)
        return self._sock.sendto(data, address)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class HotlineSipClient(SIPClient):
    phone: HotlinePhone

    @property
    def contact(self) -> str:
        return f"<sip:{self.username}@{self.myIP}:{self.myPort}>"

    @property
    def via_host(self) -> str:
        return f"{self.myIP}:{self.myPort}"

    def start(self) -> None:
        # pyVoIP's, but with the receive loop started at once, not a second later: answers
        # to a call placed as the line came up waited that second (and our INVITE was sent
        # again meanwhile, for nothing).
        if self.NSD:
            raise RuntimeError("the SIP client is already started")
        self.NSD = True
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((self.myIP, self.myPort))
        self.out = ResponseRouting(self.s, (self.server, self.port))  # type: ignore[assignment]
        self.register()
        threading.Thread(target=self.recv_loop, name="sip-receive").start()

    def recv_loop(self) -> None:
        # pyVoIP's loop dies with EBADF when stop() closes the socket under it.
        try:
            super().recv_loop()
        except (OSError, ValueError):
            if self.NSD:
                log.exception("sip receive loop failed")

    def recv(self) -> None:
        # Called by recv_loop with the socket non-blocking: BlockingIOError goes back to it.
        raw, (host, port) = self.s.recvfrom(8192)
        if not raw.strip(b"\x00\r\n "):
            return  # a keep-alive (RFC 5626 CRLFs, or the zero bytes some PBXs send)
        with structlog.contextvars.bound_contextvars(sender=f"{host}:{port}"):
            try:
                self._handle(raw)
            except Exception:  # no datagram may end the receive loop, and with it the line
                log.exception("sip datagram failed", first_line=_first(raw))

    def _handle(self, raw: bytes) -> None:
        try:
            message = SIPMessage(raw)
        except Exception as error:  # pyVoIP's parser raises whatever its slicing runs into
            self.refuse(raw, refusals.unparsable(raw, error))
            return
        verdict = refusals.unreadable(message)
        if verdict is not None:
            self.refuse(raw, verdict)
            return
        try:
            self.parse_message(message)
        except Exception:  # one request's failure must not silence the endpoint
            log.exception("sip request handling failed", first_line=_first(raw))
            if message.type is SIPMessageType.MESSAGE and message.method != "ACK":
                self.refuse(raw, Verdict("handling it failed", 500, "Server Internal Error"))

    def refuse(self, raw: bytes, verdict: Verdict) -> None:
        """Answer the request ``raw`` as ``verdict`` says, or drop it, and log why."""
        if verdict.status is None:
            log.warning(
                "sip datagram dropped", why=verdict.why, size=len(raw), first_line=_first(raw)
            )
            return
        log.warning(
            "sip request refused",
            status=verdict.status,
            why=verdict.why,
            call_id=dialog.headers(raw, "call-id")[0],
            first_line=_first(raw),
        )
        extra = [*verdict.extra, verdict.warning_header(self.via_host)]
        tag = self.gen_tag()
        self.send(dialog.response(verdict.status, verdict.reason, raw, to_tag=tag, extra=extra))

    def send(self, message: str) -> None:
        try:
            self.out.sendto(message.encode("utf8"), (self.server, self.port))
        except OSError as exc:  # the socket is closed when pyVoIP has given up
            log.warning("sip message not sent", error=str(exc))

    def gen_first_response(self, deregister: bool = False) -> str:
        return self._server_port(super().gen_first_response(deregister))

    def gen_register(self, request: SIPMessage, deregister: bool = False) -> str:
        return self._server_port(super().gen_register(request, deregister))

    def gen_invite(self, *args: Any) -> str:
        return self._server_port(super().gen_invite(*args))

    def _server_port(self, message: str) -> str:
        # pyVoIP writes the registrar as a bare host; on any port but 5060 a proxy then
        # takes our REGISTER and INVITE for someone else's domain ("403 Not relaying").
        if self.port == 5060:
            return message
        head, separator, body = message.partition("\r\n\r\n")
        host = re.escape(self.server)
        head = re.sub(rf"(sip:(?:[^@\s;>]+@)?{host})(?![:\d])", rf"\g<1>:{self.port}", head)
        return head + separator + body

    def gen_ringing(self, request: SIPMessage) -> str:
        message = super().gen_ringing(request)
        return _with_dialog_headers(message, request, self.contact)

    def gen_answer(self, request: SIPMessage, sess_id: str, ms: Any, sendtype: Any) -> str:
        message = super().gen_answer(request, sess_id, ms, sendtype)
        return _with_dialog_headers(message, request, self.contact)

    def gen_bye(self, request: SIPMessage) -> str:
        leg = self.phone.calls.get(request.headers["Call-ID"])
        if isinstance(leg, HotlineCall) and leg.dialog is not None:
            return leg.dialog.request("BYE", via_host=self.via_host, contact=self.contact)
        return super().gen_bye(request)

    def gen_ack(self, request: SIPMessage) -> str:
        leg = self.phone.calls.get(request.headers["Call-ID"])
        if isinstance(leg, HotlineCall) and leg.dialog is not None:
            return leg.dialog.request(
                "ACK", via_host=self.via_host, contact=self.contact, cseq=leg.invite_cseq
            )
        return super().gen_ack(request)

    def parse_message(self, message: SIPMessage) -> None:
        # A final answer to one of our INVITEs goes to its leg, live or cancelled: pyVoIP
        # ACKs only 200, 404 and 503, and only for a leg it still holds.
        if message.type is SIPMessageType.RESPONSE and _answers_invite(message):
            leg = self.phone.our_leg(message.headers.get("Call-ID", ""))
            if leg is None or not leg.outbound:
                # We answer a caller's INVITE and never send one on their leg; pyVoIP would
                # ACK such a response into the caller's dialog, or fail on an unknown leg.
                log.info("answer to an INVITE we did not send: dropped", first=_first(message.raw))
                return
            leg.invite_settled.set()
            status = int(message.status)
            if status >= 300:
                leg.refused(message)
                return
            if status >= 200:
                leg.answered(message)
                return
            leg.provisional()
        super().parse_message(message)


def _answers_invite(response: SIPMessage) -> bool:
    cseq = dialog.headers(response.raw, "cseq")
    return bool(cseq) and cseq[0].split()[-1].upper() == "INVITE"


def _first(raw: bytes) -> str:
    return raw.split(b"\r\n", 1)[0][:80].decode("utf8", "backslashreplace")


def _with_dialog_headers(message: str, request: SIPMessage, contact: str) -> str:
    head, _, body = message.partition("\r\n\r\n")
    lines = [line for line in head.split("\r\n") if not line.startswith("Contact:")]
    routes = [f"Record-Route: {route}" for route in dialog.headers(request.raw, "record-route")]
    at = next(i for i, line in enumerate(lines) if line.startswith("Call-ID:"))
    lines[at:at] = [*routes, f"Contact: {contact}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


class HotlineCall(VoIPCall):
    """One leg of a call: pyVoIP's call plus our audio, digits and dialog."""

    phone: HotlinePhone

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.inbound = InboundAudio()
        self.source: FrameSource = lambda: SILENCE
        self.digits: queue.Queue[str] = queue.Queue()
        self.on_digit: Callable[[str], object] | None = None  # its result is not used
        self.ended = threading.Event()
        self._finishing = threading.Lock()
        self.answered_event = threading.Event()
        self.failure: int | None = None
        """The final SIP status of a leg that was not answered: an outbound one's answer, or
        ours to a caller (487 when they cancelled, 480 when we turned them away)."""
        self.dialog: Dialog | None = None
        self.invite_text = ""
        self.invite_cseq = 1
        self.invite_settled = threading.Event()
        """Set at our INVITE's first answer, or when the leg ends: no more resending."""
        self._heard = False
        """A provisional answer to our INVITE came: a CANCEL may be sent (RFC 3261, 9.1)."""
        self._cancel_owed = False
        """Given up before any answer came: the CANCEL goes when a provisional one does."""
        self._hung_up_late = False
        super().__init__(*args, **kwargs)

    @property
    def outbound(self) -> bool:
        """A leg we dialled (its INVITE is ours), not a caller's."""
        return bool(self.invite_text)

    def create_rtp_clients(
        self,
        codecs: dict[int, RTP.PayloadType],
        ip: str,
        port: int,
        request: SIPMessage,
        baseport: int,
    ) -> None:
        # pyVoIP never records the port of an answered call, so its port clean-up frees
        # ports of live calls; recording it here keeps each port owned until the leg ends.
        self.assignedPorts[port] = codecs
        for index, connection in enumerate(request.body["c"]):
            self.RTPClients.append(
                HotlineRtpClient(
                    codecs,
                    ip,
                    port,
                    connection["address"],
                    baseport + index,
                    self.sendmode,
                    inbound=self.inbound,
                    source=lambda: self.source(),
                    dtmf=self.dtmf_callback,
                )
            )

    def dtmf_callback(self, code: str) -> None:
        self.digits.put(code)
        if self.on_digit is not None:
            self.on_digit(code)

    def answer(self) -> None:
        # Under the lock a caller's CANCEL is handled with: it came first (the leg is
        # released, and answering raises) or it finds the call answered (and is moot).
        with self._finishing:
            if self.ended.is_set():
                raise InvalidStateError("the caller cancelled the call")
            super().answer()
        self.dialog = Dialog.as_uas(
            self.request.raw,
            call_id=self.call_id,
            local_tag=self.sip.tagLibrary[self.call_id],
        )

    def answered(self, response: SIPMessage) -> None:
        """A 2xx to our INVITE, or its retransmission: ACKed. One that crossed our CANCEL
        (the far end picked up as we gave up) is then hung up (RFC 3261, 9.1), or the far
        end would sit in a silent call resending its 200 OK until it gives up; the leg stays
        known for that, so a resent 200 OK is ACKed again but hung up once."""
        with self._finishing:
            late = self.ended.is_set()
            self._cancel_owed = False
            if self.dialog is None:
                self.dialog = Dialog.as_uac(
                    self.invite_text,
                    response.raw,
                    call_id=self.call_id,
                    local_tag=self.sip.tagLibrary[self.call_id],
                )
            if not late and self.state is CallState.DIALING:
                super().answered(response)
                self.answered_event.set()
            hang_up = late and not self._hung_up_late
            self._hung_up_late = self._hung_up_late or late
        sip, talk = self.phone.sip, self.dialog
        sip.send(
            talk.request("ACK", via_host=sip.via_host, contact=sip.contact, cseq=self.invite_cseq)
        )
        if hang_up:
            log.info("outbound leg answered after it was cancelled: hung up", call_id=self.call_id)
            sip.send(talk.request("BYE", via_host=sip.via_host, contact=sip.contact))

    def provisional(self) -> None:
        """A 1xx to our INVITE. A CANCEL is only sent once one came (RFC 3261, 9.1): sent
        before, it may overtake a resent INVITE or reach a phone that never heard of the
        call. A leg given up before it was heard from is cancelled now."""
        with self._finishing:
            self._heard = True
            if self._cancel_owed:
                self._cancel_owed = False
                self._cancel_request()

    def refused(self, response: SIPMessage) -> None:
        """A final failure of our INVITE (a 487 to our CANCEL too): ACK it (same branch)
        and end the leg."""
        status = int(response.status)
        to = dialog.headers(response.raw, "to")[0]
        via = dialog.headers(self.invite_text, "via")[0]
        target = self.invite_text.split(" ", 2)[1]
        ack = "\r\n".join(
            [
                f"ACK {target} SIP/2.0",
                f"Via: {via}",
                "Max-Forwards: 70",
                f"From: {dialog.headers(self.invite_text, 'from')[0]}",
                f"To: {to}",
                f"Call-ID: {self.call_id}",
                f"CSeq: {self.invite_cseq} ACK",
                "Content-Length: 0",
            ]
        )
        self.phone.sip.send(ack + "\r\n\r\n")
        # Under the lock a CANCEL is decided with: one that came first keeps its 487; one
        # after this finds the leg ended, and neither CANCELs nor remembers it again.
        with self._finishing:
            self.failure = self.failure or status
            self._cancel_owed = False
            self.phone.forget_cancelled(self.call_id)
            if not self.ended.is_set():
                self._release()

    def resend_invite_unanswered(self) -> None:
        """Our INVITE again until its first answer (timer A); timer B only stops the
        resending, as the leg's ring time, not this, ends the leg."""
        limit = 64 * INVITE_FIRST_RESEND_SECONDS
        wait, waited = INVITE_FIRST_RESEND_SECONDS, 0.0
        while not self.invite_settled.wait(wait):
            waited += wait
            if waited >= limit:
                return
            # Under the lock a CANCEL is sent with: no INVITE follows it to a phone that
            # would then ring for a call already given up.
            with self._finishing:
                if self.invite_settled.is_set():
                    return
                self.phone.sip.send(self.invite_text)
            wait = min(2 * wait, limit - waited)

    def cancel(self) -> bool:
        """Stop ringing an outbound leg nobody answered: True. False when its answer was
        taken first (the leg is live: the caller takes the call, or hangs it up). A final
        answer may still come after the CANCEL (a 487, or a 200 OK that crossed it): the
        phone keeps the leg for it."""
        with self._finishing:
            if self.state is CallState.DIALING and not self.ended.is_set():
                self._send_cancel()
                return True
            return self.state is not CallState.ANSWERED or self.ended.is_set()

    def _send_cancel(self) -> None:
        """Give up ringing: the leg ends now, kept for the final answer still to come; the
        CANCEL goes now if the far end was heard from, else at its first provisional
        answer (none may come: the phone never got the INVITE)."""
        self.phone.remember_cancelled(self)
        if self._heard:
            self._cancel_request()
        else:
            self._cancel_owed = True
        self.failure = 487
        self._release()

    def _cancel_request(self) -> None:
        head = self.invite_text.split("\r\n\r\n", 1)[0].split("\r\n")
        target = head[0].split(" ", 2)[1]
        keep = ("Via:", "From:", "To:", "Call-ID:", "Max-Forwards:")
        lines = [f"CANCEL {target} SIP/2.0", *(h for h in head[1:] if h.startswith(keep))]
        lines += [f"CSeq: {self.invite_cseq} CANCEL", "Content-Length: 0"]
        self.phone.sip.send("\r\n".join(lines) + "\r\n\r\n")

    def cancelled_by_caller(self) -> None:
        """The caller gave up before we answered (CANCEL); once answered, it is moot."""
        with self._finishing:
            if self.state is not CallState.RINGING or self.ended.is_set():
                return
            self.phone.sip.send(
                dialog.response(
                    487,
                    "Request Terminated",
                    self.request.raw,
                    to_tag=self.sip.tagLibrary.get(self.call_id, ""),
                )
            )
            self.failure = 487
            self._release()

    def hangup(self) -> None:
        """End the leg, whatever it reached: a caller still ringing gets 480, a phone we
        ring a CANCEL, an answered leg its BYE. Decided under the lock an answer takes, so
        an answer meanwhile is hung up, never left live (or sent a 480 then a 200 OK)."""
        with self._finishing:
            if self.ended.is_set():
                return
            if self.state is CallState.RINGING:
                # Never answered (shutting down): tell the caller, not leave them ringing.
                self.phone.sip.send(
                    dialog.response(
                        480,
                        "Temporarily Unavailable",
                        self.request.raw,
                        to_tag=self.sip.tagLibrary.get(self.call_id, ""),
                    )
                )
                self.failure = 480
                self._release()
                return
            if self.state is CallState.DIALING:
                self._send_cancel()  # ours, still ringing: the far end stops ringing too
                return
            if self.state is CallState.ANSWERED:
                # One BYE, whoever else ends the leg at the same moment (the far end's BYE,
                # the endpoint stopping); a closed socket ends it all the same.
                with contextlib.suppress(InvalidStateError, OSError):
                    super().hangup()
        self._finish()

    def bye(self) -> None:
        with self._finishing:
            super().bye()
        self._finish()

    def _finish(self) -> None:
        # A BYE from the far end and our own hang-up may race: release once.
        with self._finishing:
            if self.ended.is_set():
                return
            self._release()

    def _release(self) -> None:
        for client in self.RTPClients:
            client.stop()
        self.state = CallState.ENDED
        self.phone.calls.pop(self.call_id, None)
        self.phone.release_ports(call=self)
        self.assignedPorts = {}  # released: pyVoIP's __del__ would release them again
        self.ended.set()
        self.invite_settled.set()

    def __del__(self) -> None:
        # pyVoIP's __del__ calls release_ports, which takes the phone's ports lock: a plain,
        # non-reentrant Lock. A leg sits in reference cycles (its RTP clients call back into
        # it), so it is finalised by a garbage collection, in whichever thread allocates
        # when one starts; if that thread is inside release_ports (which allocates with the
        # lock held) it then waits for itself forever, and every later hang-up waits behind
        # it. A finished leg has nothing left to release (_finish did it); one whose set-up
        # failed still owns its ports and frees them here, without the lock.
        phone = getattr(self, "phone", None)
        for port in getattr(self, "assignedPorts", {}):
            if phone is not None and port in phone.assignedPorts:
                phone.assignedPorts.remove(port)

    @property
    def live(self) -> bool:
        return not self.ended.is_set()

    @property
    def turned_away(self) -> bool:
        """A caller we never answered, refused by us (480: the endpoint was shutting down or
        lost its registration), not one who gave up."""
        return self.failure == 480

    @property
    def packets_received(self) -> int:
        return self.inbound.packets

    @property
    def packets_sent(self) -> int:
        return sum(getattr(client, "sent", 0) for client in self.RTPClients)


class HotlinePhone(VoIPPhone):
    sip: HotlineSipClient

    def __init__(
        self,
        *,
        server: str,
        port: int,
        username: str,
        password: str,
        my_ip: str,
        sip_port: int,
        rtp_ports: tuple[int, int],
        on_call: Callable[[HotlineCall], None],
        on_fatal: Callable[[HotlinePhone], None],
        register_timeout: float,
    ) -> None:
        self.on_fatal = on_fatal
        super().__init__(
            server,
            port,
            username,
            password,
            myIP=my_ip,
            callCallback=on_call,  # type: ignore[arg-type]
            sipPort=sip_port,
            rtpPortLow=rtp_ports[0],
            rtpPortHigh=rtp_ports[1],
        )
        self.sip = HotlineSipClient(
            server,
            port,
            username,
            password,
            phone=self,
            myIP=my_ip,
            myPort=sip_port,
            callCallback=self.callback,
            fatalCallback=self.fatal,
        )
        self.sip.register_timeout = register_timeout  # type: ignore[assignment]
        self._ports = threading.Lock()
        self._cancelled: OrderedDict[str, HotlineCall] = OrderedDict()
        self._cancelled_lock = threading.Lock()

    def our_leg(self, call_id: str) -> HotlineCall | None:
        """The outbound or inbound leg of ``call_id``, or a cancelled outbound leg whose
        final answer has not come yet."""
        leg = self.calls.get(call_id)
        if isinstance(leg, HotlineCall):
            return leg
        with self._cancelled_lock:
            return self._cancelled.get(call_id)

    def remember_cancelled(self, leg: HotlineCall) -> None:
        # Bounded, not timed: a final answer that never comes costs one slot until newer
        # cancellations push it out.
        with self._cancelled_lock:
            self._cancelled[leg.call_id] = leg
            while len(self._cancelled) > CANCELLED_LEGS_KEPT:
                self._cancelled.popitem(last=False)

    def forget_cancelled(self, call_id: str) -> None:
        with self._cancelled_lock:
            self._cancelled.pop(call_id, None)

    def _callback_RESP_OK(self, request: SIPMessage) -> None:
        # Answers to our INVITEs are the client's (parse_message); a 200 OK to our BYE or
        # CANCEL needs nothing. pyVoIP's would ACK any 200 OK of a call it holds.
        return

    def fatal(self) -> None:
        # pyVoIP stops the phone after three failed re-REGISTERs and goes quiet; the
        # endpoint has to hear of it to register again.
        super().fatal()
        self.on_fatal(self)

    def stop(self, failed: bool = False) -> None:
        # pyVoIP's stop walks a copy of its calls' ids and looks each up again: a leg that
        # ended meanwhile (its far end's BYE) raised KeyError, so the phone neither
        # deregistered nor, when pyVoIP gave up on its registration, told the endpoint.
        self._status = PhoneStatus.DEREGISTERING
        for leg in list(self.calls.values()):
            with contextlib.suppress(InvalidStateError):
                leg.hangup()
        self.sip.stop()
        self._status = PhoneStatus.FAILED if failed else PhoneStatus.INACTIVE

    def callback(self, request: SIPMessage) -> None:
        if request.type is SIPMessageType.MESSAGE and request.method == "CANCEL":
            leg = self.calls.get(request.headers["Call-ID"])
            if isinstance(leg, HotlineCall):
                leg.cancelled_by_caller()
            return
        super().callback(request)

    def _callback_MSG_Invite(self, request: SIPMessage) -> None:
        call_id = request.headers["Call-ID"]
        if call_id in self.calls:
            super()._callback_MSG_Invite(request)  # a re-INVITE: pyVoIP answers it again
            return
        verdict = refusals.offer(request)
        if verdict is not None:
            self.sip.refuse(request.raw, verdict)
            return
        self.sip.send(self.sip.gen_ringing(request))
        self._create_Call(request, random.randint(1, 100000))
        thread = threading.Thread(
            target=self.callCallback, args=[self.calls[call_id]], name=f"call:{call_id}"
        )
        thread.start()
        self.threads.append(thread)  # type: ignore[arg-type]
        self.threadLookup[thread] = call_id  # type: ignore[index]

    def _create_Call(self, request: SIPMessage, sess_id: int) -> None:
        call_id = request.headers["Call-ID"]
        self.calls[call_id] = HotlineCall(
            self, CallState.RINGING, request, sess_id, self.myIP, sendmode=self.recvmode
        )

    def call(self, number: str) -> HotlineCall:
        """Ring ``number`` through the registrar; the receive loop handles the answer."""
        port = self.request_port()
        codecs = {0: RTP.PayloadType.PCMU, 8: RTP.PayloadType.PCMA, 101: RTP.PayloadType.EVENT}
        medias = {port: codecs}
        call_id = self.sip.gen_call_id()
        session_id = self.sip.sessID.next()
        invite = self.sip.gen_invite(
            number, str(session_id), medias, RTP.TransmitType.SENDRECV, dialog.branch(), call_id
        )
        invite = invite.replace(
            f"Via: SIP/2.0/UDP {self.sip.via_host};", f"Via: SIP/2.0/UDP {self.sip.via_host};rport;"
        )
        leg = HotlineCall(
            self,
            CallState.DIALING,
            SIPMessage(invite.encode("utf8")),
            session_id,
            self.myIP,
            ms=medias,
            sendmode=self.sendmode,
        )
        leg.invite_text = invite
        leg.invite_cseq = int(dialog.headers(invite, "cseq")[0].split()[0])
        self.calls[call_id] = leg
        self.sip.send(invite)
        threading.Thread(
            target=leg.resend_invite_unanswered, name=f"invite:{call_id}", daemon=True
        ).start()
        return leg

    def request_port(self, blocking: bool = True) -> int:
        # pyVoIP builds a list of the whole range per call; a set difference is cheap. A
        # port that another program holds is passed over: the call's bind would fail on it,
        # and with it the call.
        with self._ports:
            free = set(range(self.rtpPortLow, self.rtpPortHigh + 1, 2)) - set(self.assignedPorts)
            for port in random.sample(sorted(free), len(free)):
                if _bindable(self.myIP, port):
                    self.assignedPorts.append(port)
                    return port
            raise NoPortsAvailableError("every RTP port of the configured range is in use")


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
