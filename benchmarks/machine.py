"""What every benchmark records about the machine it ran on, and its neighbours on it
(other processes that would distort timings on 2 cores)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import suppress
from pathlib import Path

BUSY_LIMIT = 0.15
"""Share of all cores busy above which a machine is too busy to measure on."""


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu(),
        "cores": os.cpu_count() or 1,
        # The machine may be shared; a busy one explains a wide p99.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return pids


def other_benchmarks() -> list[str]:
    """Command lines of benchmarks someone else is running (``benchmarks/x.py`` and
    ``-m benchmarks.x``; this process and its shells excluded)."""
    found = subprocess.run(["pgrep", "-af", r"benchmarks[/.]"], capture_output=True, text=True)
    mine = ancestors()
    return [
        command
        for pid, _, command in (line.partition(" ") for line in found.stdout.splitlines())
        if int(pid) not in mine
    ]


def cpu_busy(sample_s: float = 3.0) -> float:
    """Share of all cores busy over a short sample, from /proc/stat."""

    def totals() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]

    total, idle = totals()
    time.sleep(sample_s)
    total2, idle2 = totals()
    return round(1 - (idle2 - idle) / max(total2 - total, 1), 3)


def wait_for_idle_cores(limit_s: float, poll_s: float = 20) -> float:
    """Busy cores distort timing on 2 cores: wait (bounded) for them to calm down. Returns
    the busy share seen last; the run goes on regardless."""
    deadline = time.monotonic() + limit_s
    while (busy := cpu_busy()) > BUSY_LIMIT and time.monotonic() < deadline:
        print(f"waiting for a quieter machine: cores {busy:.0%} busy", flush=True)
        time.sleep(poll_s)
    return busy


def cpu_ticks() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, user + system clock ticks) of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(entry.name)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]))
    return out


def thread_ticks(pids: set[int]) -> dict[tuple[int, int], int]:
    """(pid, thread id) -> user + system clock ticks of each thread of these processes."""
    out = {}
    for pid in pids:
        with suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with suppress(OSError, ValueError, IndexError):
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                    out[(pid, int(task.name))] = int(fields[11]) + int(fields[12])
    return out


def split_by_thread(
    before: dict[tuple[int, int], int], after: dict[tuple[int, int], int], calls: int
) -> dict[str, float]:
    """CPU ms per call of the processes' main threads (an ASGI worker's event loop) and of
    their other threads (the pool that runs sync routes and blocking work)."""
    spent = {"event_loop": 0, "other_threads": 0}
    for (pid, tid), ticks in after.items():
        spent["event_loop" if tid == pid else "other_threads"] += ticks - before.get((pid, tid), 0)
    per_tick_ms = 1000 / os.sysconf("SC_CLK_TCK") / max(calls, 1)
    return {part: round(ticks * per_tick_ms, 2) for part, ticks in spent.items()}


def foreign_share(
    before: dict[int, tuple[int, str, int]], after: dict[int, tuple[int, str, int]], seconds: float
) -> float:
    """Share of all cores used by processes that are neither this run nor what it measures
    (this process, its children, Redis, PostgreSQL and kernel threads count as ours)."""
    ours = ancestors()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _comm, _ticks) in after.items():
        children[parent].append(pid)
    stack = [os.getpid()]
    while stack:
        pid = stack.pop()
        ours.add(pid)
        stack.extend(children.get(pid, []))
    foreign = 0
    for pid, (parent, comm, ticks) in after.items():
        if pid in ours or parent == 2 or pid == 2 or comm in ("redis-server", "postgres"):
            continue
        foreign += ticks - before.get(pid, (0, "", 0))[2]
    cores = os.cpu_count() or 1
    return round(foreign / os.sysconf("SC_CLK_TCK") / (cores * max(seconds, 1e-3)), 3)


def wait_for_quiet_machine(limit_s: float = 40 * 60, poll_s: float = 30) -> float:
    """Two benchmarks at once would each measure the other: wait for theirs to finish.

    Also waits (within the same limit) while something else keeps the cores busy, since
    on a 2-core machine any neighbour distorts the figures; returns the busy share seen.
    """
    deadline = time.monotonic() + limit_s
    while running := other_benchmarks():
        if time.monotonic() > deadline:
            sys.exit(f"error: other benchmarks still running after {limit_s:.0f} s: {running}")
        print(f"waiting for other benchmarks to finish: {running}", flush=True)
        time.sleep(poll_s)
    return wait_for_idle_cores(deadline - time.monotonic(), poll_s)
