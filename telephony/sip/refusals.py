"""What to answer a SIP request pyVoIP 1.6.8 cannot read or cannot act on.

pyVoIP's ``SIPClient.recv`` parses each datagram (``SIPMessage``, headers and SDP body at
once) and handles it under one ``except Exception`` that only prints when its DEBUG flag
is set. Its parser is string slicing: an SDP line without ``=``, a body that is not
UTF-8, a blank line inside the body, a port that is not a number, a ``From`` without a
SIP URI, a method other than INVITE/ACK/BYE/CANCEL or another SIP version each raise
(IndexError, ValueError, UnicodeDecodeError, SIPParseError), and its handlers raise later
on what it parsed but cannot use (an INVITE without Contact, an SDP without ``c=`` or
with a format that is not a payload number, after the 180 has gone out). Either way the
request gets no final answer and the caller waits until its proxy gives up with a 408
(timer B, 32 s). pyVoIP's own 505 for another SIP version sits behind that handler and
never runs.

The verdicts here turn each of those into the final response RFC 3261 names for it,
read with our own header reader (dialog.headers) since pyVoIP's may be what failed. A
datagram that is a response, an ACK, or lacks what a response must copy (Via, From, To,
Call-ID, CSeq) is never answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyVoIP
from pyVoIP.SIP import SIPMessage, SIPMessageType

from telephony.sip import dialog

SUPPORTED = {0, 8}
"""RTP payload types we can carry: PCMU and PCMA."""

ANSWER_NEEDS = ("via", "from", "to", "call-id", "cseq")
"""The header fields a response copies from its request (RFC 3261 8.2.6.2)."""

_PYVOIP_NEEDS = ("Via", "From", "To", "Call-ID", "CSeq")
"""The same, as pyVoIP's handlers index them: exact case, no compact forms."""

KNOWN_METHODS = frozenset(
    {"REGISTER", "OPTIONS", "INFO", "UPDATE", "PRACK", "SUBSCRIBE", "NOTIFY", "REFER"}
    | {"MESSAGE", "PUBLISH"}
)
"""SIP methods other than pyVoIP's four: 405 for these, 501 for the ones we do not know
(RFC 3261 8.2.1, 21.5.2)."""

_REQUEST_LINE = re.compile(r"([!-~]+) (\S+) (\S+)")
_ALLOW = f"Allow: {', '.join(pyVoIP.SIPCompatibleMethods)}"


@dataclass(frozen=True)
class Verdict:
    why: str
    status: int | None = None
    """None: nothing may be answered (a response, an ACK, too few headers to address one)."""
    reason: str = ""
    extra: tuple[str, ...] = ()
    warning: int = 399
    """The Warning code (RFC 3261 20.43) that carries ``why`` to the caller."""

    def warning_header(self, agent: str) -> str:
        # A quoted-string of printable ASCII, whatever bytes the request carried.
        text = re.sub(r'[^ -~]|["\\]', "?", self.why)[:200]
        return f'Warning: {self.warning} {agent} "{text}"'


def unparsable(raw: bytes, error: Exception) -> Verdict:
    """The answer to a datagram pyVoIP's ``SIPMessage`` raised ``error`` on."""
    head, blank, _ = raw.decode("utf8", "replace").partition("\r\n\r\n")
    first = head.split("\r\n", 1)[0]
    if first.startswith("SIP/"):
        return Verdict(f"unreadable response {first[:40]!r}: {_describe(error)}")
    missing = _unanswerable(raw)
    if missing is not None:
        return missing
    line = _REQUEST_LINE.fullmatch(first)
    method = line.group(1) if line else ""
    if "ACK" in (method, dialog.headers(raw, "cseq")[0].split()[-1]):
        return Verdict(f"unreadable ACK (never answered): {_describe(error)}")
    if line is None:
        return Verdict(f"request line {first[:60]!r}", 400, "Malformed Request-Line")
    version = line.group(3)
    if version != "SIP/2.0":
        return Verdict(f"SIP version {version[:20]}", 505, "Version Not Supported")
    if method not in pyVoIP.SIPCompatibleMethods:
        if method in KNOWN_METHODS:
            return Verdict(f"{method} is not supported", 405, "Method Not Allowed", (_ALLOW,))
        return Verdict(f"{method[:20]} is not a method we know", 501, "Not Implemented", (_ALLOW,))
    if not blank:
        return Verdict("no blank line ends the header fields", 400, "Bad Request")
    raw_head, _, raw_body = raw.partition(b"\r\n\r\n")
    try:
        SIPMessage(raw_head + b"\r\n\r\n")
    except Exception as head_error:  # pyVoIP raises whatever its slicing runs into
        request_line, *fields = raw_head.split(b"\r\n")
        culprit = _culprit("header", request_line + b"\r\n", fields, b"\r\n\r\n", head_error)
        return Verdict(culprit, 400, "Bad Request")
    refused = _media_type(raw)
    if refused is not None:
        return refused
    culprit = _culprit("SDP", raw_head + b"\r\n\r\n", raw_body.split(b"\r\n"), b"", error)
    return Verdict(culprit, 400, "Malformed SDP")


def unreadable(message: SIPMessage) -> Verdict | None:
    """The answer to a request pyVoIP parsed without the header fields its handlers
    index (a compact or other-case name, or none at all), or None when it has them."""
    if message.type is not SIPMessageType.MESSAGE or message.method == "ACK":
        return None
    needed = [*_PYVOIP_NEEDS, *(["Contact"] if message.method == "INVITE" else [])]
    lacking = [name for name in needed if not message.headers.get(name)]
    if not lacking:
        return None
    missing = _unanswerable(message.raw)
    if missing is not None:
        return missing
    return Verdict(f"no {', '.join(lacking)} header field pyVoIP reads", 400, "Bad Request")


def offer(invite: SIPMessage) -> Verdict | None:
    """The answer to a new INVITE pyVoIP parsed but cannot set a call up from, or None
    when it can."""
    refused = _media_type(invite.raw)
    if refused is not None:
        return refused
    # Under any other Content-Type pyVoIP keeps the body's lines as strings, unparsed.
    sdp: dict[str, Any] = (
        invite.body if invite.headers.get("Content-Type") == "application/sdp" else {}
    )
    media = [m for m in sdp.get("m", []) if m["type"] != "video"]  # pyVoIP skips video
    for description in media:
        for payload in description["methods"]:
            if not payload.isdigit():
                return Verdict(
                    f"m={description['type']} format {payload[:20]!r} is not a payload type",
                    400,
                    "Malformed SDP",
                )
    if media and not sdp.get("c"):
        return Verdict("no c= connection address", 400, "Malformed SDP")
    offered = {
        int(payload)
        for description in media
        if description["type"] == "audio"
        for payload in description["methods"]
    }
    if not sdp:
        return Verdict(
            "no SDP offer (the endpoint cannot make the offer itself)",
            488,
            "Not Acceptable Here",
        )
    if not offered & SUPPORTED:
        return Verdict(
            f"only PCMU and PCMA are supported (offered {sorted(offered)})",
            488,
            "Not Acceptable Here",
            warning=305,
        )
    return None


def _unanswerable(raw: bytes) -> Verdict | None:
    # "CSeq: ," is there but empty: as unanswerable as no CSeq at all.
    missing = [
        name for name in ANSWER_NEEDS if not any(v.strip() for v in dialog.headers(raw, name))
    ]
    if missing:
        return Verdict(f"no {', '.join(missing)} header field to answer with")
    return None


def _media_type(raw: bytes) -> Verdict | None:
    if dialog.headers(raw, "content-encoding"):
        return Verdict(
            "encoded bodies are not supported",
            415,
            "Unsupported Media Type",
            ("Accept-Encoding: identity",),
        )
    content_type = dialog.headers(raw, "content-type")
    if raw.partition(b"\r\n\r\n")[2].strip() and content_type != ["application/sdp"]:
        return Verdict(
            f"body of type {', '.join(content_type)[:40] or 'unknown'}; SDP expected",
            415,
            "Unsupported Media Type",
            ("Accept: application/sdp",),
        )
    return None


def _culprit(part: str, before: bytes, lines: list[bytes], after: bytes, error: Exception) -> str:
    """Which of ``lines`` pyVoIP fails on (``error``, parsing them all between ``before``
    and ``after``): its errors say what failed (an index, an int()) but never where."""
    count, failure = len(lines), error
    for prefix in range(1, len(lines)):
        try:
            SIPMessage(before + b"\r\n".join(lines[:prefix]) + after)
        except Exception as prefix_error:  # as in unparsable
            count, failure = prefix, prefix_error
            break
    text = lines[count - 1].decode("utf8", "replace")[:60]
    return f"{part} line {count} not understood ({_describe(failure)}): {text}"


def _describe(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return f"{type(error).__name__}: {error}"
