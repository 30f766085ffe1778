"""The parts of SIP dialogs pyVoIP 1.6.8 gets wrong, as plain functions over message text.

pyVoIP keeps only the first of each repeated header, answers with the caller's Contact in
180 Ringing, puts no Record-Route in its answers, and builds in-dialog requests (BYE, the
ACK of a 2xx) from the INVITE's own Via and without a route set, so a proxy that
record-routes (Kamailio's stock configuration does) answers them 404. These functions
read what pyVoIP drops and build the requests RFC 3261 asks for.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

_HEADER = re.compile(r"^([A-Za-z-]+)\s*:\s*(.*)$")
_COMPACT = {"v": "via", "f": "from", "t": "to", "m": "contact", "i": "call-id"}
"""RFC 3261 compact header names."""


def headers(raw: bytes | str, name: str) -> list[str]:
    """Every value of header ``name`` in a raw message, in order (comma lists split)."""
    text = raw.decode("utf8", "replace") if isinstance(raw, bytes) else raw
    head = text.split("\r\n\r\n", 1)[0]
    wanted = name.lower()
    values: list[str] = []
    for line in head.split("\r\n")[1:]:
        match = _HEADER.match(line)
        if match is None:
            continue
        key = match.group(1).lower()
        if _COMPACT.get(key, key) == wanted:
            values.extend(_split_uris(match.group(2)))
    return values


def _split_uris(value: str) -> list[str]:
    # Route and Record-Route may list several <uri>s on one line.
    parts, depth, current = [], 0, ""
    for char in value:
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def uri_of(name_addr: str) -> str:
    """``sip:u@h:p`` out of ``"Name" <sip:u@h:p>;tag=x`` or a bare URI."""
    if "<" in name_addr:
        return name_addr.split("<", 1)[1].split(">", 1)[0]
    return name_addr.split(";", 1)[0].strip()


def branch() -> str:
    return "z9hG4bK" + secrets.token_hex(10)


@dataclass
class Dialog:
    """One side's view of a SIP dialog: who we are, who they are, how to reach them."""

    call_id: str
    local: str
    """Our From (as UAC) or To (as UAS) name-addr, without tag."""
    local_tag: str
    remote: str
    remote_tag: str
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    cseq: int = 1

    @classmethod
    def as_uas(cls, invite_raw: bytes, *, call_id: str, local_tag: str) -> Dialog:
        sender = headers(invite_raw, "from")[0]
        contact = headers(invite_raw, "contact")
        return cls(
            call_id=call_id,
            local=_without_tag(headers(invite_raw, "to")[0]),
            local_tag=local_tag,
            remote=_without_tag(sender),
            remote_tag=_tag(sender),
            remote_target=uri_of(contact[0]) if contact else uri_of(sender),
            route_set=headers(invite_raw, "record-route"),
            cseq=100,
        )

    @classmethod
    def as_uac(cls, invite: str, ok_raw: bytes, *, call_id: str, local_tag: str) -> Dialog:
        answered_to = headers(ok_raw, "to")[0]
        contact = headers(ok_raw, "contact")
        return cls(
            call_id=call_id,
            local=_without_tag(headers(invite, "from")[0]),
            local_tag=local_tag,
            remote=_without_tag(answered_to),
            remote_tag=_tag(answered_to),
            remote_target=uri_of(contact[0]) if contact else uri_of(answered_to),
            route_set=list(reversed(headers(ok_raw, "record-route"))),
            cseq=int(headers(invite, "cseq")[0].split()[0]),
        )

    def request(self, method: str, *, via_host: str, contact: str, cseq: int | None = None) -> str:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        lines = [
            f"{method} {self.remote_target} SIP/2.0",
            f"Via: SIP/2.0/UDP {via_host};branch={branch()};rport",
            "Max-Forwards: 70",
            *(f"Route: {route}" for route in self.route_set),
            f"From: {self.local};tag={self.local_tag}",
            f"To: {self.remote};tag={self.remote_tag}" if self.remote_tag else f"To: {self.remote}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: {contact}",
            "Content-Length: 0",
        ]
        return "\r\n".join(lines) + "\r\n\r\n"


def _tag(name_addr: str) -> str:
    match = re.search(r";\s*tag=([^;>\s]+)", name_addr.split(">", 1)[-1])
    return match.group(1) if match else ""


def _without_tag(name_addr: str) -> str:
    if ">" in name_addr:
        head, _, params = name_addr.partition(">")
        kept = [p for p in params.split(";") if p.strip() and not p.strip().startswith("tag=")]
        return head + ">" + "".join(f";{p}" for p in kept)
    return re.sub(r";\s*tag=[^;]*", "", name_addr)


def response(
    status: int, reason: str, request_raw: bytes, *, to_tag: str = "", extra: Sequence[str] = ()
) -> str:
    """A response to ``request_raw`` that copies its Via, From, To, Call-ID and CSeq."""
    to = headers(request_raw, "to")[0]
    if to_tag and not _tag(to):
        to = f"{to};tag={to_tag}"
    lines = [
        f"SIP/2.0 {status} {reason}",
        *(f"Via: {via}" for via in headers(request_raw, "via")),
        f"From: {headers(request_raw, 'from')[0]}",
        f"To: {to}",
        f"Call-ID: {headers(request_raw, 'call-id')[0]}",
        f"CSeq: {headers(request_raw, 'cseq')[0]}",
        *extra,
        "Content-Length: 0",
    ]
    return "\r\n".join(lines) + "\r\n\r\n"


def response_target(message: str, default: tuple[str, int]) -> tuple[str, int]:
    """Where a response goes (RFC 3261 18.2.2 with RFC 3581): the top Via's ``received``
    and ``rport`` when present, else its sent-by address."""
    vias = headers(message, "via")
    if not message.startswith("SIP/2.0 ") or not vias:
        return default
    sent_by, *params = vias[0].split(";")
    host_port = sent_by.split()[-1]
    host, _, port = host_port.partition(":")
    values = dict(p.strip().partition("=")[::2] for p in params)
    try:
        return values.get("received") or host, int(values.get("rport") or port or 5060)
    except ValueError:
        return default
