"""SIP endpoint under load: SIPp places calls at rising concurrency against one endpoint.

Run from the repository root as root: ``.venv/bin/python -m benchmarks.sip_load``. Needs
``sipp`` (Debian: sip-tester; its ``play_pcap_audio`` sends RTP from a raw socket),
``espeak-ng`` (the endpoint renders its prompts at start-up) and Redis at 127.0.0.1:6379
(db 7 is flushed before and after). Everything runs on 127.0.0.1 and stops by itself.
Prints its figures and writes benchmarks/results/sip_load.json.

What runs:

- one ``callcenter sip`` process (SQLite and prompts in a temporary data directory, or
  ``--database postgresql``: 127.0.0.1:5432/test in a schema of its own; the built-in
  hotline flow opened around the clock so that the figures do not depend on the hour; the
  code of the work tree it is run from), registered to SIPp: a registrar-only SIPp
  answers its REGISTER on port P. pyVoIP sends every request to its registrar and
  re-registers every 115 s, so P is never left unanswered: between levels a registrar SIPp
  listens on it, during a level the caller SIPp itself does (its out-of-call scenario
  answers a REGISTER that arrives mid-level).
- per level N (20, 40, 60, 70, 80, 90, 100, 120 by default, then on in steps of
  ``--step`` until a level fails): SIPp on P places N calls at ``--rate`` calls per
  second, at most N at once, each lasting ``--call-seconds``. Each caller sends 20 ms PCMU
  audio (a pcap generated here, with the RFC 2833 key 0 at 2 s: the IVR plays its welcome
  and menu, the caller picks the agent, the call waits in the queue with its recording
  running) and hangs up with BYE.

What is measured per level:

- failed calls: SIPp's statistics CSV (``-trace_stat``), the endpoint's own account of
  each call (its log: dispositions, ``sip call failed`` with its traceback) and its call
  log (a row and a recording per call); INVITE to 200 OK times from ``-trace_rtt``;
- RTP sent on time: every RTP packet the endpoint sends is captured on ``lo`` with kernel
  timestamps (an AF_PACKET socket with a classic BPF filter on the endpoint's RTP ports, in
  this process: no tcpdump/tshark needed); the gaps between consecutive packets of each
  stream give p50/p99/max. The goal is gap p99 <= 30 ms (packets are due every 20 ms);
- CPU and memory of the endpoint (psutil, sampled every 0.25 s): CPU in the window where
  all N calls were up (from the capture), less the idle endpoint's, per call; RSS growth
  per call; threads and file descriptors before, at the peak and after the level, so that
  a leak shows. Late gaps are also split into those shared by at least half the streams at
  once (the whole process stalled: a garbage collection, the GIL held, the CPU taken by
  others) and the rest.

A level passes with no failed call (in SIPp or in the endpoint) and gap p99 <= 30 ms; the
run steps up until a level fails and reports the ceiling (the highest level passed below
the first failure) and that first failing level with why it failed. The machine has 2
cores and other people's work may run at the same time: the run first waits (``--wait``
minutes at most) for the cores to calm down, records the load average, the share of the
cores other processes used and other benchmarks running with every level, and runs a
level again (``--retries``) that missed the goal while others took more than 10 %.
Nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import bisect
import ctypes
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil
import redis

from benchmarks.machine import (
    cpu_busy,
    cpu_ticks,
    foreign_share,
    machine,
    other_benchmarks,
    wait_for_idle_cores,
)
from recordings.audio import pcm16_to_ulaw

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "sip_load.json"
VENV_BIN = Path(sys.executable).parent

HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/7"
USERNAME = "1000"
CALLER = "13800138000"
GAP_GOAL_MS = 30.0
GOAL_CALLS = 100
FRAME_MS = 20.0
REGISTER_EVERY_S = 115.0
"""pyVoIP re-registers ``default_expires - 5`` seconds after each answered REGISTER."""
"""Before starting, wait (within ``--wait`` minutes) for the cores to be at most this busy."""
FOREIGN_LIMIT = 0.10
"""A level that misses the goal while other processes used more of the cores than this is
run again (``--retries``) after waiting for quieter cores."""
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_SCHEMA = "bench_sip"
POSTGRES_URL = (
    f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{POSTGRES_SCHEMA}"
)

# The built-in flow answers with the after-hours menu outside 08:00-20:00 Shanghai time.
OPEN_ALL_DAY = ('open: "08:00"\n    close: "20:00"', 'open: "00:00"\n    close: "24:00"')

REGISTRAR_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="registrar">
  <recv request="REGISTER" />
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:];expires=120
      Expires: 120
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""

CALLER_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="load caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:{user}@{host} SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:{user}@{host}>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:{user}@{host} SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:{user}@{host}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop><action><exec play_pcap_audio="{audio}"/></action></nop>
  <pause milliseconds="{call_ms}"/>
  <send>
    <![CDATA[
      BYE sip:{user}@{host} SIP/2.0
      Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:{user}@{host}>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


@dataclass(frozen=True)
class Config:
    levels: tuple[int, ...]
    step: int
    """After the listed levels pass, go on by this many calls until one fails (0: stop)."""
    max_level: int
    call_seconds: float
    rate: float
    rtp_ports: tuple[int, int]
    settle_seconds: float
    stop_after_failures: int
    database: str
    retries: int
    results: Path


@dataclass
class Level:
    concurrency: int
    calls_placed: int = 0
    successful: int = 0
    failed: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)
    sipp_exit_code: int | None = None
    setup_ms: dict[str, float] = field(default_factory=dict)
    """INVITE to 200 OK as SIPp saw it."""
    endpoint_calls: dict[str, int] = field(default_factory=dict)
    """Dispositions in the endpoint's log, plus failures and tracebacks it logged."""
    endpoint_errors: list[str] = field(default_factory=list)
    """The first failures the endpoint logged, with their traceback."""
    call_log: dict[str, int] = field(default_factory=dict)
    """New rows in the endpoint's database: calls, queued, recordings, dispositions."""
    streams: int = 0
    packets: int = 0
    capture_drops: int = 0
    gap_ms: dict[str, float] = field(default_factory=dict)
    late_gaps: dict[str, int] = field(default_factory=dict)
    worst_stream_gap_p99_ms: float = 0.0
    plateau_seconds: float = 0.0
    """How long the most calls were up at once (from the capture): the CPU window."""
    plateau_calls: int = 0
    """How many calls were up then: N, fewer if some failed."""
    endpoint_cpu_percent: float = 0.0
    """Of one core, in the plateau."""
    idle_cpu_percent: float = 0.0
    cpu_percent_per_call: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)
    rss_mb_per_call: float = 0.0
    threads: dict[str, int] = field(default_factory=dict)
    fds: dict[str, int] = field(default_factory=dict)
    sipp_cpu_percent: float = 0.0
    harness_cpu_percent: float = 0.0
    """This process (the capture thread mostly)."""
    registers_answered_in_level: int = 0
    foreign_cpu_share: float = 0.0
    """Share of all cores other people's processes used during the level."""
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    duration_s: float = 0.0
    sustained: bool = False
    failed_because: list[str] = field(default_factory=list)
    """Why the level did not pass (empty when it did)."""
    other_benchmarks: list[str] = field(default_factory=list)
    """Benchmarks other people were running when the level started."""
    attempt: int = 1
    earlier_attempts: list[dict[str, Any]] = field(default_factory=list)
    """Figures of attempts run again because other processes were busy."""


# ------------------------------------------------------------------- machine and neighbours


def code_version() -> dict[str, object]:
    """The commit measured, and files of the endpoint's packages changed in the work tree
    (other people work in this repository at the same time: the run measures the tree)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "telephony", "recordings", "ivr", "callcenter")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": changed.splitlines()}


def require_tools() -> str:
    if os.geteuid() != 0:
        sys.exit("error: run as root (SIPp's play_pcap_audio and the capture use raw sockets)")
    for tool, package in (("sipp", "sip-tester"), ("espeak-ng", "espeak-ng")):
        if shutil.which(tool) is None:
            sys.exit(f"error: {tool} is not on the PATH (Debian: apt-get install {package})")
    out = subprocess.run(["sipp", "-v"], capture_output=True, text=True)
    match = re.search(r"SIPp v[^\s,]+", out.stdout + out.stderr)
    return match.group(0) if match else "sipp"


def free_udp_port(*, even: bool = False, also: int = 0) -> int:
    """A free loopback UDP port (and ``port + also`` free too)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if even and port % 2:
            continue
        if also:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                    second.bind((HOST, port + also))
            except OSError:
                continue
        return port


# ------------------------------------------------------------------------------ audio


def caller_pcap(path: Path, seconds: float, *, digit_at: float = 2.0) -> Path:
    """What each caller sends: 20 ms PCMU frames of a voiced tone, and RFC 2833 key 0 at
    ``digit_at`` (as phones send it: events in place of audio for 160 ms, the first with
    the marker bit, the last three with the end bit)."""
    frames = int(seconds * 1000 / FRAME_MS)
    key_first = int(digit_at * 1000 / FRAME_MS)
    samples = [
        int(6000 * math.sin(2 * math.pi * 220 * n / 8000) * (0.6 + 0.4 * math.sin(n / 2000)))
        for n in range(frames * 160)
    ]
    ulaw = pcm16_to_ulaw(struct.pack(f"<{len(samples)}h", *samples))
    records = []
    for index in range(frames):
        if key_first <= index < key_first + 8:
            step = index - key_first
            end = 0x80 if step >= 5 else 0
            payload = struct.pack("!BBH", 0, end | 10, (step + 1) * 160)
            marker = 0x80 if step == 0 else 0
            rtp = struct.pack("!BBHII", 0x80, marker | 101, index, key_first * 160, 0x5EED)
        else:
            payload = ulaw[index * 160 : (index + 1) * 160]
            rtp = struct.pack("!BBHII", 0x80, 0, index, index * 160, 0x5EED)
        rtp += payload
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
            socket.inet_aton(HOST), socket.inet_aton(HOST),
        )  # fmt: skip
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        micros = index * 20_000
        records.append(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
            + frame
        )
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(records))
    return path


# ---------------------------------------------------------------------------- capture

SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
SOL_PACKET = 263
PACKET_STATISTICS = 6
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def rtp_filter(low: int, high: int, snap: int = 96) -> list[tuple[int, int, int, int]]:
    """Classic BPF: IPv4 UDP from 127.0.0.1, source port in [low, high], unfragmented, as
    it leaves (loopback shows every packet twice, leaving and arriving)."""
    drop = 15
    return [
        (0x28, 0, 0, 12),  # ldh [12]: ethertype
        (0x15, 0, drop - 2, 0x0800),
        (0x20, 0, 0, 26),  # ld [26]: source address
        (0x15, 0, drop - 4, 0x7F000001),
        (0x30, 0, 0, 23),  # ldb [23]: protocol
        (0x15, 0, drop - 6, socket.IPPROTO_UDP),
        (0x28, 0, 0, 20),  # ldh [20]: fragment offset
        (0x45, drop - 8, 0, 0x1FFF),
        (0x20, 0, 0, 0xFFFFF004),  # ld [SKF_AD_OFF + SKF_AD_PKTTYPE]
        (0x15, 0, drop - 10, PACKET_OUTGOING),
        (0xB1, 0, 0, 14),  # ldxb 4 * ([14] & 0xf): IP header length
        (0x48, 0, 0, 14),  # ldh [x + 14]: UDP source port
        (0x35, 0, drop - 13, low),
        (0x25, drop - 14, 0, high),
        (0x06, 0, 0, snap),
        (0x06, 0, 0, 0),
    ]


@dataclass
class Captured:
    streams: dict[tuple[int, int], list[int]]
    """(source port, SSRC) -> kernel timestamps in ns, in arrival order."""
    drops: int
    packets: int


class RtpCapture:
    """The endpoint's outgoing RTP, seen on lo with kernel timestamps."""

    def __init__(self, ports: tuple[int, int]) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        program = b"".join(struct.pack("HBBI", *op) for op in rtp_filter(*ports))
        self._program = ctypes.create_string_buffer(program)
        fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(self._program))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.sock.settimeout(0.2)
        self.sock.bind(("lo", ETH_P_ALL))  # bound after the filter: nothing unfiltered queues
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._streams: dict[tuple[int, int], list[int]] = defaultdict(list)
        self._packets = 0

    def start(self) -> None:
        self._drain()
        self._streams = defaultdict(list)
        self._packets = 0
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="rtp-capture", daemon=True)
        self._thread.start()

    def stop(self) -> Captured:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        drops = self._stats()
        return Captured(dict(self._streams), drops, self._packets)

    def close(self) -> None:
        self.sock.close()

    def _stats(self) -> int:
        """Packets the kernel dropped since the last call (the counters reset on read)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        return int(struct.unpack("II", raw)[1])

    def _drain(self) -> None:
        self.sock.setblocking(False)
        with suppress(BlockingIOError):
            while True:
                self.sock.recv(256)
        self.sock.settimeout(0.2)
        self._stats()

    def _run(self) -> None:
        streams, unpack_ts = self._streams, struct.Struct("qq").unpack_from
        while not self._stopping.is_set():
            try:
                data, ancillary, _flags, _address = self.sock.recvmsg(128, 64)
            except TimeoutError:
                continue
            stamp = 0
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanos = unpack_ts(value)
                    stamp = seconds * 1_000_000_000 + nanos
            udp = 14 + (data[14] & 0x0F) * 4
            if len(data) < udp + 20 or not stamp:
                continue
            source = (data[udp] << 8) | data[udp + 1]
            ssrc = int.from_bytes(data[udp + 16 : udp + 20], "big")
            streams[(source, ssrc)].append(stamp)
            self._packets += 1


def gap_figures(captured: Captured, goal_ms: float) -> dict[str, Any]:
    gaps: list[float] = []
    worst = 0.0
    for stamps in captured.streams.values():
        own = [(b - a) / 1e6 for a, b in itertools.pairwise(stamps)]
        if len(own) >= 10:
            worst = max(worst, percentile(sorted(own), 99))
        gaps += own
    gaps.sort()
    if not gaps:
        return {"gap_ms": {}, "late_gaps": {}, "worst": 0.0}
    stalled, stalls = shared_stalls(captured, goal_ms)
    return {
        "gap_ms": {
            "p50": round(percentile(gaps, 50), 2),
            "p90": round(percentile(gaps, 90), 2),
            "p99": round(percentile(gaps, 99), 2),
            "p99_9": round(percentile(gaps, 99.9), 2),
            "max": round(gaps[-1], 2),
            "mean": round(statistics.fmean(gaps), 3),
        },
        "late_gaps": {
            "total": len(gaps),
            f"over_{goal_ms:g}_ms": sum(1 for g in gaps if g > goal_ms),
            "over_40_ms": sum(1 for g in gaps if g > 40),
            "over_100_ms": sum(1 for g in gaps if g > 100),
            "in_shared_stalls": stalled,
            "shared_stalls": stalls,
        },
        "worst": round(worst, 2),
    }


def shared_stalls(captured: Captured, goal_ms: float) -> tuple[int, int]:
    """Late gaps that belong to a stall of the whole process: an instant at which at least
    half the streams then sending (and at least 3) were all overdue. Returns the number of
    late gaps that span such an instant, and the number of such stalls (one per run of
    overlapping late gaps). Lateness that is not shared comes from one sender at a time."""
    late = [
        (a, b)
        for stamps in captured.streams.values()
        for a, b in itertools.pairwise(stamps)
        if (b - a) / 1e6 > goal_ms
    ]
    if not late:
        return 0, 0
    spans = sorted((s[0], s[-1]) for s in captured.streams.values() if len(s) > 1)
    events = sorted([(a, 1) for a, _ in late] + [(b, -1) for _, b in late])
    points, depth = [], 0
    for at, step in events:
        depth += step
        if step == 1:
            sending = sum(1 for first, last in spans if first <= at <= last)
            if depth >= max(3, sending / 2):
                points.append(at)
    if not points:
        return 0, 0
    stalled = sum(
        1
        for a, b in late
        if bisect.bisect_left(points, a) < len(points)
        and points[bisect.bisect_left(points, a)] <= b
    )
    stalls = 1 + sum(1 for p, q in itertools.pairwise(points) if q - p > 1e8)
    return stalled, stalls


def plateau(captured: Captured, concurrency: int) -> tuple[int, int, int] | None:
    """The longest window (ns) in which the most streams were sending at once, up to
    ``concurrency`` (fewer when calls failed); and that number of streams."""
    events = sorted(
        (stamp, step)
        for stamps in captured.streams.values()
        if len(stamps) > 1
        for stamp, step in ((stamps[0], 1), (stamps[-1], -1))
    )
    depth, top, best, opened = 0, 0, (0, 0), 0
    for _stamp, step in events:
        depth += step
        top = max(top, depth)
    target = min(top, concurrency)
    depth = 0
    for stamp, step in events:
        was = depth
        depth += step
        if was < target <= depth:
            opened = stamp
        elif depth < target <= was and stamp - opened > best[1] - best[0]:
            best = (opened, stamp)
    return (*best, target) if target and best[1] > best[0] else None


def percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return 0.0
    rank = pct / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# ---------------------------------------------------------------------------- monitor


@dataclass
class Sample:
    at_ns: int
    cpu_s: float
    rss: int
    threads: int
    fds: int


class Monitor:
    """The endpoint process, sampled every ``every`` seconds (wall clock in ns, like the
    capture's kernel timestamps)."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.process = psutil.Process(pid)
        self.every = every
        self.samples: list[Sample] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def sample(self) -> Sample:
        with self.process.oneshot():
            times = self.process.cpu_times()
            return Sample(
                time.time_ns(),
                times.user + times.system,
                self.process.memory_info().rss,
                self.process.num_threads(),
                self.process.num_fds(),
            )

    def _run(self) -> None:
        while not self._stopping.wait(self.every):
            with suppress(psutil.Error):
                self.samples.append(self.sample())

    def between(self, start_ns: float, end_ns: float) -> list[Sample]:
        return [s for s in list(self.samples) if start_ns <= s.at_ns <= end_ns]

    @staticmethod
    def cpu_percent(samples: list[Sample]) -> float:
        if len(samples) < 2:
            return 0.0
        first, last = samples[0], samples[-1]
        return 100 * (last.cpu_s - first.cpu_s) / max((last.at_ns - first.at_ns) / 1e9, 1e-3)


# -------------------------------------------------------------------------- processes


class Processes:
    """Every process this run starts, each in its own process group."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Any:
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], *, grace: float = 10.0) -> int | None:
        for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if process.poll() is not None:
                break
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with suppress(subprocess.TimeoutExpired):
                process.wait(wait_s)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process in self.running:
            self.running.remove(process)
        return process.returncode

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            self.stop(process)


def flush_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()


def write_open_flow(data_dir: Path) -> Path:
    from ivr.flow import BUILTIN_FLOWS

    source = (BUILTIN_FLOWS / "hotline.yaml").read_text()
    if OPEN_ALL_DAY[0] not in source:
        raise RuntimeError("the built-in flow's hours changed; update OPEN_ALL_DAY")
    flows = data_dir / "flows"
    flows.mkdir(parents=True)
    (flows / "hotline.yaml").write_text(source.replace(*OPEN_ALL_DAY))
    return flows


# ------------------------------------------------------------------------------ bench


@dataclass
class Bench:
    config: Config
    work: Path
    processes: Processes
    sip_port: int = 0
    endpoint_port: int = 0
    media_port: int = 0
    endpoint: Any = None
    registrar: Any = None
    registered_at: float = 0.0
    log_offset: int = 0
    logged: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint_log(self) -> Path:
        return self.work / "endpoint.log"

    def sipp(self, name: str, extra: list[str], *, target: bool) -> Any:
        directory = self.work / name
        directory.mkdir(exist_ok=True)
        argv = [
            "sipp",
            *extra,
            "-i", HOST,
            "-p", str(self.sip_port),
            "-nostdin",
            "-trace_err",
            "-error_file", str(directory / "errors.log"),
        ]  # fmt: skip
        if target:
            argv.append(f"{HOST}:{self.endpoint_port}")
        return self.processes.start(
            argv, env=dict(os.environ), cwd=directory, log=directory / "sipp.out"
        )

    def start_registrar(self, *, once: bool) -> Any:
        """SIPp answering REGISTER on the registrar port: once (start-up), or until stopped."""
        name = "registrar-first" if once else f"registrar-{time.monotonic_ns()}"
        extra = ["-sf", str(self.work / "registrar.xml"), *(["-m", "1"] if once else [])]
        return self.sipp(name, extra, target=False)

    def start_endpoint(self) -> None:
        data_dir = self.work / "data"
        data_dir.mkdir()
        flows = write_open_flow(data_dir)
        low, high = self.config.rtp_ports
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        if self.config.database == "postgresql":
            env["CALLCENTER_DATABASE_URL"] = POSTGRES_URL
            subprocess.run(
                [str(VENV_BIN / "callcenter"), "db", "upgrade"],
                env={**env, "CALLCENTER_DATA_DIR": str(data_dir)},
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        env.update(
            CALLCENTER_DATA_DIR=str(data_dir),
            CALLCENTER_REDIS_URL=REDIS_URL,
            CALLCENTER_IVR_FLOWS_DIR=str(flows),
            CALLCENTER_LOG_LEVEL="INFO",
            CALLCENTER_LOG_JSON_OUTPUT="true",
            CALLCENTER_SIP_SERVER=HOST,
            CALLCENTER_SIP_PORT=str(self.sip_port),
            CALLCENTER_SIP_USERNAME=USERNAME,
            CALLCENTER_SIP_LOCAL_IP=HOST,
            CALLCENTER_SIP_LOCAL_PORT=str(self.endpoint_port),
            CALLCENTER_SIP_RTP_PORT_MIN=str(low),
            CALLCENTER_SIP_RTP_PORT_MAX=str(high),
        )
        first = self.start_registrar(once=True)
        self.endpoint = self.processes.start(
            [str(VENV_BIN / "callcenter"), "sip"], env=env, cwd=ROOT, log=self.endpoint_log
        )
        deadline = time.monotonic() + 180  # espeak-ng renders the prompts first
        while "sip registered" not in self.endpoint_log.read_text(errors="replace"):
            if self.endpoint.poll() is not None or time.monotonic() > deadline:
                tail = self.endpoint_log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the endpoint did not register:\n{tail}")
            time.sleep(0.1)
        self.registered_at = time.monotonic()
        with suppress(subprocess.TimeoutExpired):
            first.wait(5)
        self.processes.stop(first)
        self.registrar = self.start_registrar(once=False)
        self.log_offset = self.endpoint_log.stat().st_size

    def wait_clear_of_register(self) -> None:
        """Switching SIPp processes on the registrar port leaves it closed for a few ms: do
        not switch within 2 s of a re-REGISTER (every 115 s after the first)."""
        since = (time.monotonic() - self.registered_at) % REGISTER_EVERY_S
        if since > REGISTER_EVERY_S - 2:
            time.sleep(REGISTER_EVERY_S - since + 2)
        elif since < 2:
            time.sleep(2 - since)

    def idle(self, monitor: Monitor, seconds: float = 3.0) -> tuple[float, Sample]:
        start = time.time_ns()
        time.sleep(seconds)
        return Monitor.cpu_percent(monitor.between(start, time.time_ns())), monitor.sample()

    def settle(self, monitor: Monitor, before: Sample) -> Sample:
        """Wait until the endpoint is back to its thread count before the level."""
        deadline = time.monotonic() + self.config.settle_seconds
        after = monitor.sample()
        while after.threads > before.threads and time.monotonic() < deadline:
            time.sleep(0.5)
            after = monitor.sample()
        return after

    def level(self, concurrency: int, capture: RtpCapture, monitor: Monitor) -> Level:
        cfg = self.config
        result = Level(concurrency=concurrency)
        idle_cpu, before = self.idle(monitor)
        self.wait_clear_of_register()
        result.other_benchmarks = other_benchmarks()
        ticks, wall = cpu_ticks(), time.monotonic()
        own_cpu = psutil.Process().cpu_times()
        self.log_offset = self.endpoint_log.stat().st_size
        directory = self.work / f"level-{concurrency}"
        capture.start()
        self.processes.stop(self.registrar)
        caller = self.sipp(
            directory.name,
            [
                "-sf", str(self.work / "caller.xml"),
                "-oocsf", str(self.work / "registrar.xml"),
                "-mi", HOST,
                "-mp", str(self.media_port),
                "-m", str(concurrency),
                "-l", str(concurrency),
                "-r", f"{cfg.rate:g}",
                "-rp", "1000",
                "-recv_timeout", "15000",
                "-timeout", f"{int(cfg.call_seconds + concurrency / cfg.rate + 60)}s",
                "-timeout_error",
                "-trace_stat", "-stf", str(directory / "stat.csv"), "-fd", "1",
                "-trace_rtt", "-rtt_freq", "1",
            ],
            target=True,
        )  # fmt: skip
        started = time.monotonic()
        sipp_cpu = self.wait_for(caller, cfg.call_seconds + concurrency / cfg.rate + 90)
        result.sipp_exit_code = self.processes.stop(caller)
        self.registrar = self.start_registrar(once=False)
        time.sleep(1.0)  # the last packets of the last calls
        captured = capture.stop()
        elapsed = time.monotonic() - started
        after = self.settle(monitor, before)
        peak = monitor.between(before.at_ns, after.at_ns) or [after]
        own_now = psutil.Process().cpu_times()

        result.duration_s = round(elapsed, 1)
        result.foreign_cpu_share = foreign_share(ticks, cpu_ticks(), time.monotonic() - wall)
        result.load_average = tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[assignment]
        result.sipp_cpu_percent = round(100 * sipp_cpu / elapsed, 1)
        own = (own_now.user + own_now.system) - (own_cpu.user + own_cpu.system)
        result.harness_cpu_percent = round(100 * own / (time.monotonic() - wall), 1)
        self._sipp_figures(result, directory)
        self._endpoint_figures(result)
        self._rtp_figures(result, captured)
        self._resource_figures(result, monitor, captured, idle_cpu, before, after, peak)
        log_now = call_log(self.config.database, self.work / "data" / "callcenter.sqlite3")
        result.call_log = {k: v - self.logged.get(k, 0) for k, v in log_now.items()}
        self.logged = log_now
        result.failed_because = shortfalls(result)
        result.sustained = not result.failed_because
        return result

    def wait_for(self, process: Any, budget: float) -> float:
        """Wait for SIPp to finish (or stop it after ``budget`` s); its CPU seconds."""
        cpu, deadline = 0.0, time.monotonic() + budget
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            with suppress(psutil.Error):
                times = watched.cpu_times()
                cpu = times.user + times.system
            if time.monotonic() > deadline:
                print(f"SIPp still running after {budget:.0f} s; stopped", flush=True)
                break
            time.sleep(0.5)
        return cpu

    # Figures

    def _sipp_figures(self, result: Level, directory: Path) -> None:
        stats = read_stat_csv(directory / "stat.csv")
        result.calls_placed = int(stats.get("TotalCallCreated", 0))
        result.successful = int(stats.get("SuccessfulCall(C)", 0))
        result.failed = int(stats.get("FailedCall(C)", 0))
        result.failure_kinds = {
            key.removeprefix("Failed").removesuffix("(C)"): int(value)
            for key, value in stats.items()
            if key.startswith("Failed") and key.endswith("(C)") and key != "FailedCall(C)"
            if value.isdigit() and int(value)
        }
        if result.successful + result.failed < result.concurrency:
            result.failure_kinds["never_finished"] = (
                result.concurrency - result.successful - result.failed
            )
            result.failed = result.concurrency - result.successful
        setups = sorted(read_rtt(directory))
        if setups:
            result.setup_ms = {
                "p50": round(percentile(setups, 50), 1),
                "p99": round(percentile(setups, 99), 1),
                "max": round(setups[-1], 1),
            }
        errors = directory / "errors.log"
        text = errors.read_text(errors="replace") if errors.exists() else ""
        result.registers_answered_in_level = text.count("out-of-call REGISTER")

    def _endpoint_figures(self, result: Level) -> None:
        with self.endpoint_log.open("rb") as log:
            log.seek(self.log_offset)
            lines = log.read().decode("utf8", "replace").splitlines()
        counts: Counter[str] = Counter()
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                if line.startswith("Traceback"):
                    counts["tracebacks"] += 1
                    if len(result.endpoint_errors) < 3:
                        at = lines.index(line)
                        result.endpoint_errors.append("\n".join(lines[at : at + 30])[-1500:])
                elif line.startswith("Exception ignored in"):
                    counts["exceptions_ignored"] += 1
                continue
            event = entry.get("event", "")
            if event == "sip call ended":
                counts[f"ended_{entry.get('disposition')}"] += 1
            elif event == "sip call failed":
                counts["failed"] += 1
                if len(result.endpoint_errors) < 3:
                    result.endpoint_errors.append(str(entry.get("exception", event))[-1500:])
            elif entry.get("level") in ("error", "critical", "warning"):
                counts[f"{entry['level']}: {event}"[:80]] += 1
        result.endpoint_calls = dict(counts)

    def _rtp_figures(self, result: Level, captured: Captured) -> None:
        figures = gap_figures(captured, GAP_GOAL_MS)
        result.streams = len(captured.streams)
        result.packets = captured.packets
        result.capture_drops = captured.drops
        result.gap_ms = figures["gap_ms"]
        result.late_gaps = figures["late_gaps"]
        result.worst_stream_gap_p99_ms = figures["worst"]

    def _resource_figures(
        self,
        result: Level,
        monitor: Monitor,
        captured: Captured,
        idle_cpu: float,
        before: Sample,
        after: Sample,
        peak: list[Sample],
    ) -> None:
        n = result.concurrency
        window = plateau(captured, n)
        during = monitor.between(window[0], window[1]) if window else []
        up = window[2] if window else n
        if window:
            result.plateau_seconds = round((window[1] - window[0]) / 1e9, 1)
            result.plateau_calls = up
        result.idle_cpu_percent = round(idle_cpu, 1)
        if len(during) >= 2:
            cpu = Monitor.cpu_percent(during)
            result.endpoint_cpu_percent = round(cpu, 1)
            result.cpu_percent_per_call = round((cpu - idle_cpu) / up, 2)
        top_rss = max(s.rss for s in (during or peak))
        mb = 1024 * 1024
        result.rss_mb = {
            "before": round(before.rss / mb, 1),
            "all_calls_up": round(top_rss / mb, 1),
            "after": round(after.rss / mb, 1),
        }
        result.rss_mb_per_call = round((top_rss - before.rss) / mb / up, 3)
        result.threads = {
            "before": before.threads,
            "peak": max(s.threads for s in peak),
            "after": after.threads,
        }
        result.fds = {"before": before.fds, "peak": max(s.fds for s in peak), "after": after.fds}
        with suppress(psutil.Error):
            # Sockets (RTP, SIP, Redis, PostgreSQL) versus files (SQLite, WAV, logs).
            sockets = sum(1 for c in monitor.process.net_connections(kind="all"))
            result.fds |= {
                "after_sockets": sockets,
                "after_files": len(monitor.process.open_files()),
            }


def shortfalls(level: Level) -> list[str]:
    """Why a level fails the goal, in words; empty when it passes."""
    n, why = level.concurrency, []
    if level.failed or level.successful != n:
        kinds = ", ".join(f"{k} {v}" for k, v in level.failure_kinds.items())
        why.append(f"{level.failed} of {n} calls failed in SIPp" + (f" ({kinds})" if kinds else ""))
    endpoint = level.endpoint_calls
    if endpoint.get("failed") or endpoint.get("tracebacks"):
        why.append(
            f"the endpoint logged {endpoint.get('failed', 0)} failed calls and "
            f"{endpoint.get('tracebacks', 0)} tracebacks"
        )
    for what in ("calls", "recordings"):
        if level.call_log.get(what) != n:
            why.append(f"{level.call_log.get(what, 0)} of {n} {what} in the call log")
    if level.streams < n:
        why.append(f"RTP of {level.streams} of {n} calls captured")
    if not level.gap_ms:
        why.append("no RTP captured")
    elif level.gap_ms["p99"] > GAP_GOAL_MS:
        why.append(
            f"RTP gap p99 {level.gap_ms['p99']:g} ms > {GAP_GOAL_MS:g} ms (endpoint at "
            f"{level.endpoint_cpu_percent:g}% of a core, others "
            f"{level.foreign_cpu_share:.0%} of the cores, "
            f"{level.late_gaps.get('in_shared_stalls', 0)} of "
            f"{level.late_gaps.get(f'over_{GAP_GOAL_MS:g}_ms', 0)} late gaps in stalls of "
            "the whole process)"
        )
    return why


def levels_to_run(config: Config) -> Iterator[int]:
    """The listed levels, then on by ``step`` up to ``max_level`` (the caller stops at the
    first failure)."""
    yield from config.levels
    if config.step > 0:
        yield from range(config.levels[-1] + config.step, config.max_level + 1, config.step)


CALL_LOG_QUERIES = {
    "calls": "SELECT count(*) FROM call",
    "queued": "SELECT count(queued_at) FROM call",
    "recordings": "SELECT count(*) FROM recording",
    "dispositions": "SELECT coalesce(CAST(disposition AS TEXT), 'none'), count(*) FROM call "
    "GROUP BY 1",
}


def call_log(kind: str, sqlite_file: Path) -> dict[str, int]:
    """Cumulative counts from the endpoint's call log."""
    queries = dict(CALL_LOG_QUERIES)
    by_disposition = queries.pop("dispositions")
    if kind == "postgresql":
        from sqlalchemy import create_engine

        engine = create_engine(POSTGRES_ADMIN_URL)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f"SET search_path TO {POSTGRES_SCHEMA}")
                run = connection.exec_driver_sql
                out = {name: run(query).scalar_one() for name, query in queries.items()}
                rows = [tuple(row) for row in run(by_disposition)]
        finally:
            engine.dispose()
    else:
        if not sqlite_file.exists():
            return {}
        connection = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True, timeout=10)
        try:
            out = {name: connection.execute(q).fetchone()[0] for name, q in queries.items()}
            rows = connection.execute(by_disposition).fetchall()
        finally:
            connection.close()
    for name, count in rows:
        out[f"disposition_{str(name).lower()}"] = count
    return out


@contextmanager
def database(kind: str) -> Iterator[None]:
    """PostgreSQL: a schema of its own, dropped before and after. SQLite: nothing to do (the
    endpoint creates and migrates its file in the data directory)."""
    if kind != "postgresql":
        yield
        return
    from sqlalchemy import create_engine

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def recreate(create: bool) -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE")
            if create:
                connection.exec_driver_sql(f"CREATE SCHEMA {POSTGRES_SCHEMA}")

    try:
        recreate(True)
        yield
    finally:
        recreate(False)
        admin.dispose()


def read_stat_csv(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


def read_rtt(directory: Path) -> list[float]:
    """Response times (INVITE to 200 OK) from SIPp's ``-trace_rtt`` file, in ms."""
    out: list[float] = []
    for path in directory.glob("*_rtt.csv"):
        for line in path.read_text(errors="replace").splitlines()[1:]:
            parts = line.split(";")
            with suppress(ValueError, IndexError):
                out.append(float(parts[1]))
    return out


# ----------------------------------------------------------------------------- report


def print_level(level: Level) -> None:
    gap = level.gap_ms
    print(
        f"{level.concurrency:>5} {level.successful:>4}/{level.calls_placed:<4} "
        f"{level.failed:>6} {level.setup_ms.get('p99', 0):>9.1f} "
        f"{gap.get('p50', 0):>7.2f} {gap.get('p99', 0):>7.2f} {gap.get('max', 0):>8.1f} "
        f"{level.endpoint_cpu_percent:>7.1f} {level.cpu_percent_per_call:>7.2f} "
        f"{level.rss_mb.get('all_calls_up', 0):>7.1f} {level.rss_mb_per_call:>7.3f} "
        f"{level.threads.get('before', 0):>3}/{level.threads.get('peak', 0):<3}/"
        f"{level.threads.get('after', 0):<3} {level.foreign_cpu_share:>6.0%} "
        f"{'yes' if level.sustained else 'NO':>4}",
        flush=True,
    )


HEADER = (
    f"{'calls':>5} {'ok/placed':>9} {'failed':>6} {'setup p99':>9} "
    f"{'gap p50':>7} {'gap p99':>7} {'gap max':>8} {'cpu %':>7} {'%/call':>7} "
    f"{'rss MB':>7} {'MB/call':>7} {'threads b/p/a':>13} {'others':>6} {'ok?':>4}"
)


def report(config: Config, context: dict[str, object], levels: list[Level]) -> None:
    sustained = [level.concurrency for level in levels if level.sustained]
    failure = next((level for level in levels if not level.sustained), None)
    below = [n for n in sustained if failure is None or n < failure.concurrency]
    summary = {
        "ceiling": max(below, default=0),
        "first_failing_level": None
        if failure is None
        else {
            "concurrency": failure.concurrency,
            "why": failure.failed_because,
            "endpoint_cpu_percent": failure.endpoint_cpu_percent,
            "foreign_cpu_share": failure.foreign_cpu_share,
            "other_benchmarks": failure.other_benchmarks,
        },
        "ceiling_found": failure is not None,
        "highest_sustained_concurrency": max(sustained, default=0),
        "criteria": (
            "no call failed in SIPp, none failed or lost its log row or recording in the "
            f"endpoint, every call's RTP captured, gap p99 <= {GAP_GOAL_MS:g} ms"
        ),
        "goal_concurrency": GOAL_CALLS,
    }
    result = {
        "benchmark": "sip_load",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **context,
        "configuration": {
            **{k: v for k, v in asdict(config).items() if k != "results"},
            "target": f"{HOST} (loopback)",
            "redis": REDIS_URL,
            "database_location": (
                "SQLite in a temporary data directory"
                if config.database == "sqlite"
                else f"PostgreSQL 127.0.0.1:5432, schema {POSTGRES_SCHEMA}"
            ),
            "ivr_flow": "built-in hotline, business hours widened to 00:00-24:00",
            "caller": "PCMU 20 ms audio, RFC 2833 key 0 at 2 s (to the queue), BYE at the end",
            "gap_goal_ms": GAP_GOAL_MS,
        },
        "levels": [asdict(level) for level in levels],
        "summary": summary,
    }
    config.results.parent.mkdir(parents=True, exist_ok=True)
    config.results.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"written to {config.results}")


def parse_args() -> tuple[Config, float]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--levels",
        default="20,40,60,70,80,90,100,120",
        help="concurrent calls per level, rising",
    )
    parser.add_argument(
        "--step",
        type=int,
        default=20,
        help="past the listed levels, step up by this many calls until a level fails (0: stop)",
    )
    parser.add_argument("--max-level", type=int, default=240, help="never above this level")
    parser.add_argument("--call-seconds", type=float, default=20.0, help="length of each call")
    parser.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    parser.add_argument(
        "--rtp-ports", default="24000-24998", help="the endpoint's RTP range (away from others)"
    )
    parser.add_argument(
        "--settle", type=float, default=20.0, help="max seconds for threads to go after a level"
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=1,
        help="stop after this many levels in a row failed (1: at the first: the ceiling)",
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the endpoint's database (postgresql: 127.0.0.1:5432/test, own schema)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="runs again of a level that missed the goal while other processes were busy",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=15.0,
        help="minutes to wait at most for busy cores to calm down (0: do not wait)",
    )
    args = parser.parse_args()
    levels = tuple(sorted(int(n) for n in args.levels.split(",")))
    low, high = (int(p) for p in args.rtp_ports.split("-"))
    top = max(levels[-1], args.max_level) if args.step > 0 else levels[-1]
    if not levels or levels[0] < 1 or top > 400:
        parser.error("levels (and --max-level) must be between 1 and 400 calls")
    if not 5 <= args.call_seconds <= 90:
        parser.error("--call-seconds must be between 5 and 90 (re-REGISTER every 115 s)")
    if (high - low) // 2 < top * 2:
        parser.error("--rtp-ports is too small for the highest level")
    return Config(
        levels=levels,
        step=args.step,
        max_level=args.max_level,
        call_seconds=args.call_seconds,
        rate=args.rate,
        rtp_ports=(low, high),
        settle_seconds=args.settle,
        stop_after_failures=args.stop_after,
        database=args.database,
        retries=args.retries,
        results=args.results,
    ), args.wait


@contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as work:
        yield Path(work)


def main() -> None:
    config, wait_minutes = parse_args()
    sipp_version = require_tools()
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    busy = wait_for_idle_cores(wait_minutes * 60) if wait_minutes > 0 else cpu_busy()
    others = other_benchmarks()
    if others:
        print(f"note: other benchmarks are running: {others}", flush=True)
    context: dict[str, object] = {
        "load_generator": {"tool": sipp_version, "target": f"{HOST} (loopback)"},
        "libraries": {name: version(name) for name in ("pyVoIP", "psutil")},
        "code": code_version(),
        "before": {
            "load_average": os.getloadavg(),
            "cpu_busy_share": busy,
            "other_benchmarks": others,
        },
    }
    processes = Processes()
    levels: list[Level] = []
    flush_redis()
    with workspace() as work, database(config.database):
        bench = Bench(config=config, work=work, processes=processes)
        bench.sip_port = free_udp_port()
        bench.endpoint_port = free_udp_port()
        bench.media_port = free_udp_port(even=True, also=2)
        (work / "registrar.xml").write_text(REGISTRAR_XML)
        audio = caller_pcap(work / "caller.pcap", config.call_seconds + 1)
        caller = CALLER_XML.format(
            user=USERNAME,
            host=HOST,
            caller=CALLER,
            audio=audio,
            call_ms=int(config.call_seconds * 1000),
        )
        (work / "caller.xml").write_text(caller)
        capture = RtpCapture(config.rtp_ports)
        monitor: Monitor | None = None
        try:
            bench.start_endpoint()
            monitor = Monitor(bench.endpoint.pid)
            monitor.start()
            print(HEADER, flush=True)
            misses = 0
            for concurrency in levels_to_run(config):
                level = bench.level(concurrency, capture, monitor)
                for attempt in range(2, config.retries + 2):
                    if level.sustained or level.foreign_cpu_share <= FOREIGN_LIMIT:
                        break
                    print_level(level)
                    print(
                        f"other processes took {level.foreign_cpu_share:.0%} of the cores: "
                        "waiting for quieter cores, then again",
                        flush=True,
                    )
                    wait_for_idle_cores(5 * 60)
                    earlier = [*level.earlier_attempts, asdict(level)]
                    level = bench.level(concurrency, capture, monitor)
                    level.attempt, level.earlier_attempts = attempt, earlier
                    for figures in earlier:
                        figures.pop("earlier_attempts", None)
                levels.append(level)
                print_level(level)
                misses = 0 if level.sustained else misses + 1
                if bench.endpoint.poll() is not None:
                    print("the endpoint exited; stopping", flush=True)
                    break
                if misses >= config.stop_after_failures:
                    break
            context["endpoint_log_tail"] = bench.endpoint_log.read_text(errors="replace")[-2000:]
        finally:
            if monitor is not None:
                monitor.stop()
            capture.close()
            if bench.endpoint is not None:
                processes.stop(bench.endpoint, grace=15)
            processes.stop_all()
            flush_redis()
    context["after"] = {"load_average": os.getloadavg()}
    report(config, context, levels)


if __name__ == "__main__":
    main()
