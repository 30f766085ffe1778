"""SIPp as the calling phone and registrar, and audio helpers for SIP tests."""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import struct
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from recordings.audio import pcm16_to_ulaw
from tests.conftest import IN_CI
from tests.slots import free_port, worker_slot

DTMF_PCAPS = Path("/usr/share/sip-tester")
DTMF_NAMES = {"#": "pound", "*": "star"}

REGISTRAR = """
  <recv request="REGISTER" />
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:];expires=3600
      Expires: 3600
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="300"/>
"""

INVITE = """
  <send retrans="500">
    <![CDATA[
      INVITE sip:1000@127.0.0.1 SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:1000@127.0.0.1>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP {payloads}
{rtpmaps}      a=sendrecv
    ]]>
  </send>
"""

ANSWERED = """
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:1000@127.0.0.1 SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:1000@127.0.0.1>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

REFUSED = """
  <recv response="100" optional="true"/>
  <recv response="{status}"/>
  <send>
    <![CDATA[
      ACK sip:1000@127.0.0.1 SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:1000@127.0.0.1>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

CALLER_HANGS_UP = """
  <send>
    <![CDATA[
      BYE sip:1000@127.0.0.1 SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:1000@127.0.0.1>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"""

HOTLINE_HANGS_UP = """
  <recv request="BYE" timeout="{timeout_ms}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

AGENT_REGISTERS = """
  <send retrans="500">
    <![CDATA[
      REGISTER sip:127.0.0.1:{proxy} SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@127.0.0.1:{proxy}>;tag=[pid]reg[call_number]
      To: <sip:{user}@127.0.0.1:{proxy}>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"""

AGENT_SDP = """\
      v=0
      o=agent 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=sendrecv
"""
"""The SDP of a softphone's answer: PCMU and RFC 2833 keys, on SIPp's media port."""

AGENT_ANSWERS = (
    """
  <recv request="INVITE" timeout="{timeout_ms}"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]agent[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="{ring_ms}"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]agent[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

"""
    + AGENT_SDP
    + """    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE" timeout="{timeout_ms}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""
)


AGENT_HANGS_UP = """
  <pause milliseconds="{talk_ms}"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      [routes]
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From:[$to]
      To:[$from]
      [last_Call-ID:]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"""

RINGS_UNTIL_CANCELLED = """
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]agent[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <recv request="CANCEL" timeout="{timeout_ms}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]agent[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""
"""After the INVITE: a softphone rings until the CANCEL comes."""

AGENT_RINGS_OUT = (
    """
  <recv request="INVITE" timeout="{timeout_ms}">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
    </action>
  </recv>"""
    + RINGS_UNTIL_CANCELLED
    + """
  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]agent[call_number]
      [last_Call-ID:]
      CSeq: [$invite_cseq] INVITE
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" timeout="5000"/>
"""
)

AGENT_ANSWERS_AFTER_CANCEL = (
    # The INVITE's Vias and Record-Route are kept for the answer: a CANCEL from the proxy
    # carries only the proxy's Via, and no Record-Route.
    """
  <recv request="INVITE" timeout="{timeout_ms}">
    <action>
      <ereg regexp="Via: [^[:cntrl:]]*([[:cntrl:]]+Via: [^[:cntrl:]]*)*" search_in="msg"
            assign_to="vias"/>
      <ereg regexp=".*" search_in="hdr" header="Record-Route:" assign_to="routes"/>
    </action>
  </recv>"""
    + RINGS_UNTIL_CANCELLED
    + """
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [$vias]
      [last_From:]
      [last_To:];tag=[pid]agent[call_number]
      [last_Call-ID:]
      CSeq: [cseq] INVITE
      Record-Route:[$routes]
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

"""
    + AGENT_SDP
    + """    ]]>
  </send>
  <recv request="ACK" timeout="5000" optional="true" next="7"/>
"""
    # The ACK and the BYE pass the proxy as two transactions, each taken by whichever of
    # its processes is free: the BYE may come first (seen on a slow host), and the ACK
    # must still come after it.
    + HOTLINE_HANGS_UP.replace("{timeout_ms}", "5000")
    + """  <recv request="ACK" timeout="5000" next="8"/>
  <label id="7"/>
"""
    + HOTLINE_HANGS_UP.replace("{timeout_ms}", "5000")
    + """  <label id="8"/>
"""
)


def agent_rings_out(user: str, *, timeout_ms: int = 60000, silent_ms: int = 0) -> str:
    """An agent's softphone that rings until the hotline gives up (CANCEL), then ends the
    INVITE with 487 and expects its ACK: from a stateful proxy between, which ACKs the 487
    itself, or else from the hotline (RFC 3261, 17.1.1.3). With ``silent_ms``, the phone
    first says nothing that long (its 180 held up), and a CANCEL meanwhile fails the run."""
    body = AGENT_RINGS_OUT.replace("{user}", user).replace("{timeout_ms}", str(timeout_ms))
    if silent_ms:
        body = body.replace("  </recv>\n", f'  </recv>\n  <pause milliseconds="{silent_ms}"/>\n', 1)
    return _wrap(body)


def registers_the_hotline() -> str:
    """A registrar that takes the hotline's REGISTER, and ends."""
    return _wrap(REGISTRAR)


def agent_answers_after_cancel(user: str, *, timeout_ms: int = 60000) -> str:
    """An agent's softphone picked up just as the hotline gave up ringing it: its 200 OK
    crosses the hotline's CANCEL (here: sent once the CANCEL is in, as if the two had
    passed on the wire). It expects the hotline to ACK the answer and hang up (the two
    may pass the proxy in either order)."""
    return _wrap(
        AGENT_ANSWERS_AFTER_CANCEL.replace("{user}", user).replace("{timeout_ms}", str(timeout_ms))
    )


def customer_answers(
    user: str,
    keys: list[str],
    *,
    ring_ms: int = 300,
    first_key_ms: int = 1500,
    gap_ms: int = 1000,
) -> str:
    """A customer's phone taking the hotline's call: it answers after ``ring_ms``, presses
    ``keys`` (RFC 2833) while the prompts play, and waits for the hotline to hang up."""
    answers = AGENT_ANSWERS.replace("{user}", user).replace("{ring_ms}", str(ring_ms))
    # A 200 OK we retransmitted before the ACK came is ACKed again: take that ACK too.
    pressed = f'  <recv request="ACK" timeout="{first_key_ms}" ontimeout="1"/>\n  <label id="1"/>\n'
    for key in keys:
        pcap = DTMF_PCAPS / f"dtmf_2833_{DTMF_NAMES.get(key, key)}.pcap"
        pressed += f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
        pressed += f'  <pause milliseconds="{gap_ms}"/>\n'
    answers = answers.replace('  <recv request="ACK"/>\n', '  <recv request="ACK"/>\n' + pressed)
    return _wrap(answers.replace("{timeout_ms}", "60000"))


def agent_registers(user: str, proxy: int) -> str:
    return _wrap(AGENT_REGISTERS.replace("{user}", user).replace("{proxy}", str(proxy)))


def agent_answers(
    user: str, *, ring_ms: int = 500, timeout_ms: int = 60000, hangs_up_after_ms: int | None = None
) -> str:
    """An agent's softphone answering one call; the hotline hangs up, or the agent does."""
    body = AGENT_ANSWERS
    if hangs_up_after_ms is not None:
        body = body.replace(
            '  <recv request="INVITE" timeout="{timeout_ms}"/>',
            '  <recv request="INVITE" timeout="{timeout_ms}" rrs="true"/>',
        ).replace(
            '  <recv request="ACK"/>',
            '  <recv request="ACK">\n    <action>\n'
            '      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="from"/>\n'
            '      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="to"/>\n'
            "    </action>\n  </recv>",
        )
        body = body[: body.index('  <recv request="BYE"')] + AGENT_HANGS_UP.replace(
            "{talk_ms}", str(hangs_up_after_ms)
        )
    return _wrap(
        body.replace("{user}", user)
        .replace("{ring_ms}", str(ring_ms))
        .replace("{timeout_ms}", str(timeout_ms))
    )


RTPMAPS = {
    0: "a=rtpmap:0 PCMU/8000",
    8: "a=rtpmap:8 PCMA/8000",
    18: "a=rtpmap:18 G729/8000",
    101: "a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15",
}

Step = tuple[str, object]
"""("pause", ms) | ("dtmf", "1") | ("audio", pcap path)."""


def scenario(
    steps: list[Step] = (),
    *,
    register: bool = True,
    proxy: int | None = None,
    payloads: tuple[int, ...] = (0, 101),
    refused_with: int | None = None,
    ending: str = "caller",
    hotline_timeout_ms: int = 30000,
) -> str:
    rtpmaps = "".join(f"      {RTPMAPS[p]}\n" for p in payloads)
    body = REGISTRAR if register else ""
    body += INVITE.replace("{payloads}", " ".join(map(str, payloads))).replace("{rtpmaps}", rtpmaps)
    if refused_with is not None:
        body += REFUSED.replace("{status}", str(refused_with))
        return _wrap(body)
    body += ANSWERED
    for kind, value in steps:
        if kind == "pause":
            body += f'  <pause milliseconds="{value}"/>\n'
        elif kind == "dtmf":
            pcap = DTMF_PCAPS / f"dtmf_2833_{DTMF_NAMES.get(str(value), value)}.pcap"
            body += f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
            body += '  <pause milliseconds="300"/>\n'
        elif kind == "audio":
            body += f'  <nop><action><exec play_pcap_audio="{value}"/></action></nop>\n'
        else:
            raise ValueError(kind)
    if ending == "caller":
        body += CALLER_HANGS_UP
    else:
        body += HOTLINE_HANGS_UP.replace("{timeout_ms}", str(hotline_timeout_ms))
    if proxy is not None:
        # Through a record-routing proxy: in-dialog requests follow the route set.
        body = body.replace("sip:1000@127.0.0.1", f"sip:1000@127.0.0.1:{proxy}")
        body = body.replace(
            '<recv response="200" rtd="true"/>', '<recv response="200" rtd="true" rrs="true"/>'
        )
        for method in ("ACK", "BYE"):
            body = body.replace(
                f"      {method} sip:1000@127.0.0.1:{proxy} SIP/2.0\n",
                f"      {method} [next_url] SIP/2.0\n      [routes]\n",
            )
    return _wrap(body)


REQUEST_HEADERS = (
    "Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]",
    'From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]',
    "To: <sip:1000@127.0.0.1>",
    "Call-ID: [call_id]",
    "CSeq: 1 {method}",
    "Contact: <sip:[caller]@[local_ip]:[local_port]>",
    "Max-Forwards: 70",
)
SDP_HEADERS = (*REQUEST_HEADERS, "Content-Type: application/sdp")


def refused_request(
    status: int,
    *,
    method: str = "INVITE",
    request_line: str = "{method} sip:1000@127.0.0.1 SIP/2.0",
    headers: tuple[str, ...] = REQUEST_HEADERS,
    body: str = "",
    register: bool = False,
) -> bytes:
    """A caller sending one request that the hotline must answer ``status`` (an INVITE's
    answer is then ACKed). Latin-1, so a body can carry bytes that are not UTF-8."""
    message = "\n".join([request_line, *headers, "Content-Length: [len]", "", body])
    message = message.replace("{method}", method)
    xml = REGISTRAR if register else ""
    xml += f'  <send retrans="500">\n    <![CDATA[\n{message}\n    ]]>\n  </send>\n'
    if method == "INVITE":
        xml += REFUSED.replace("{status}", str(status))
    else:
        xml += f'  <recv response="{status}"/>\n'
    return _wrap(xml).encode("latin-1")


CANCELLED = """
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="{after_ms}"/>
  <send>
    <![CDATA[
      CANCEL sip:1000@127.0.0.1 SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch-4]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:1000@127.0.0.1>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" optional="true"/>
"""


def caller_gives_up(after_ms: int) -> str:
    """A caller who hangs up while the hotline rings: INVITE, then CANCEL ``after_ms``
    after the 180. (A CANCEL carries its INVITE's branch; SIPp counts every element.)"""
    body = REGISTRAR + INVITE.replace("{payloads}", "0 101").replace(
        "{rtpmaps}", f"      {RTPMAPS[0]}\n      {RTPMAPS[101]}\n"
    )
    cancel = CANCELLED.replace("{after_ms}", str(after_ms))
    return _wrap(body + cancel + REFUSED.replace("{status}", "487"))


def caller_turned_away(status: int) -> str:
    """A caller whom the hotline refuses with ``status`` after ringing (a 180 or not)."""
    body = REGISTRAR + INVITE.replace("{payloads}", "0 101").replace(
        "{rtpmaps}", f"      {RTPMAPS[0]}\n      {RTPMAPS[101]}\n"
    )
    ringing = '  <recv response="180" optional="true"/>\n'
    return _wrap(body + ringing + REFUSED.replace("{status}", str(status)))


def _wrap(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="test caller">\n'
        + body
        + "</scenario>\n"
    )


def require_sipp() -> str:
    path = shutil.which("sipp")
    if path is None:
        if IN_CI:
            pytest.fail("sipp is required under CI=true (apt-get install sip-tester)")
        pytest.skip("sipp is not installed")
    return path


_MEDIA_BLOCK = 500
_media_ports = itertools.count()


def sipp_media_port() -> int:
    """An even port for a SIPp's media, with the three after it free too (RTCP, video).

    Taken from a block of this test worker's own below the kernel's ephemeral range
    (32768 and up here) and below the hotline's RTP ports (30000 and up): a port the
    kernel picks and hands back (``free_udp_port``) may be handed out again to any socket
    before SIPp binds it, and once was (``Unable to bind audio RTP socket``, errno 98)."""
    base = 26000 + worker_slot() * _MEDIA_BLOCK
    for _ in range(_MEDIA_BLOCK // 4):
        port = base + (next(_media_ports) * 4) % _MEDIA_BLOCK
        try:
            with contextlib.ExitStack() as probes:
                for offset in range(4):
                    probe = probes.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    probe.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free media ports in {base}-{base + _MEDIA_BLOCK - 1}")


def _udp_port_bound(port: int) -> bool:
    hex_port = f":{port:04X}"
    for table in (Path("/proc/net/udp"), Path("/proc/net/udp6")):
        with contextlib.suppress(FileNotFoundError):
            for row in table.read_text().splitlines()[1:]:
                if row.split()[1].endswith(hex_port):
                    return True
    return False


def free_udp_port(*, even: bool = False) -> int:
    """A UDP port for a SIP endpoint, a SIPp or the proxy to bind (see ``free_port``)."""
    return free_port(socket.SOCK_DGRAM, even=even)


@dataclass
class Sipp:
    """One SIPp run: the caller (and, first, the registrar) on ``port``."""

    process: subprocess.Popen[bytes]
    directory: Path
    port: int

    @classmethod
    def start(
        cls,
        xml: str | bytes,
        *,
        port: int,
        endpoint_port: int,
        caller: str,
        directory: Path,
        timeout: str = "90s",
        extra: tuple[str, ...] = (),
    ) -> Sipp:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "scenario.xml"
        path.write_bytes(xml if isinstance(xml, bytes) else xml.encode())
        command = [
            require_sipp(),
            "-sf", str(path),
            "-i", "127.0.0.1",
            "-p", str(port),
            "-mi", "127.0.0.1",
            "-mp", str(sipp_media_port()),
            "-key", "caller", caller,
            "-m", "1",
            "-timeout", timeout,
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-error_file", str(directory / "errors.log"),
            *extra,
            f"127.0.0.1:{endpoint_port}",
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        return cls(process, directory, port)

    def listening(self, timeout: float = 10) -> None:
        """Returns once SIPp has its port: whatever the endpoint sends it before then is
        lost, and the endpoint does not send its INVITE again (a CANCEL then finds no call)."""
        deadline = time.monotonic() + timeout
        while not _udp_port_bound(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"SIPp never listened on {self.port}: {self.errors()}")
            time.sleep(0.02)

    def wait(self, timeout: float = 90) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def errors(self) -> str:
        path = self.directory / "errors.log"
        stderr = self.process.stderr.read().decode() if self.process.stderr else ""
        return stderr + (path.read_text() if path.exists() else "")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Kamailio:
    """Debian's Kamailio with its stock configuration: a registrar and record-routing proxy."""

    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, directory: Path) -> Kamailio:
        binary = shutil.which("kamailio")
        if binary is None:
            if IN_CI:
                pytest.fail("kamailio is required under CI=true (apt-get install kamailio)")
            pytest.skip("kamailio is not installed")
        port = free_udp_port()
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "kamailio.log").open("wb") as log:
            process = subprocess.Popen(
                [binary, "-f", "/etc/kamailio/kamailio.cfg", "-DD", "-E", "-n", "2",
                 "-l", f"udp:127.0.0.1:{port}", "-w", str(directory), "-Y", str(directory)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while "Listening on" not in (directory / "kamailio.log").read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((directory / "kamailio.log").read_text(errors="replace"))
            time.sleep(0.05)
        return cls(process, port)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# Audio


def rtp_pcap(pcm16: bytes, path: Path, *, payload_type: int = 0) -> Path:
    """The audio as a pcap of 20 ms PCMU RTP packets, for SIPp's play_pcap_audio."""
    ulaw = pcm16_to_ulaw(pcm16)
    records = []
    for index, start in enumerate(range(0, len(ulaw), 160)):
        payload = ulaw[start : start + 160].ljust(160, b"\xff")
        rtp = struct.pack("!BBHII", 0x80, payload_type, index, index * 160, 0x1234) + payload
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
            bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
        )  # fmt: skip
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        micros = index * 20_000
        records.append(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
            + frame
        )
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    path.write_bytes(header + b"".join(records))
    return path


def espeak(text: str, voice: str, path: Path) -> bytes:
    """espeak-ng's voice at 8 kHz 16-bit mono (through the prompt renderer)."""
    from ivr.tts import render

    render(text, voice, path, timeout=30)
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes())


def channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(float)
    return samples[0::2], samples[1::2]


def mono(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 8000, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(float)


def occurrences(haystack: np.ndarray, needle_pcm: bytes, *, threshold: float = 0.8) -> int:
    """How many times ``needle`` is heard in ``haystack`` (normalised cross-correlation
    peaks above ``threshold``, at least the needle's length apart)."""
    needle = np.frombuffer(needle_pcm, dtype="<i2").astype(float)
    if haystack.size < needle.size:
        return 0
    size = 1 << int(np.ceil(np.log2(haystack.size + needle.size)))
    corr = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)
    corr = corr[: haystack.size - needle.size + 1]
    window = np.cumsum(np.concatenate([[0.0], haystack**2]))
    energy = window[needle.size :] - window[: -needle.size]
    needle_energy = float(np.sum(needle**2))
    # Near-silent stretches would turn FFT round-off into huge scores.
    loud = energy > 0.01 * needle_energy
    score = np.where(loud, corr / np.sqrt(np.maximum(energy, 1e-9) * needle_energy), 0.0)
    count, position = 0, 0
    while position < score.size:
        if score[position] >= threshold:
            count += 1
            position += needle.size
        else:
            position += 1
    return count
