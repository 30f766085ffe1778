"""One clock: the service reads the wall clock in one place, and every piece is given it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "agent_console",
    "callbacks",
    "callcenter",
    "core",
    "ivr",
    "orders",
    "recordings",
    "telephony",
    # Tests too: a test that reads the wall clock passes today and fails on another day.
    "tests",
)
THE_CLOCK = ROOT / "core" / "clock.py"
WALL_CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
}


def _wall_clock_reads(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in WALL_CLOCK_READS
        ):
            found.append(
                f"{path.relative_to(root)}:{node.lineno} {node.func.value.id}.{node.func.attr}()"
            )
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            names = {alias.name for alias in node.names}
            if names & {"time", "time_ns", "localtime", "gmtime"}:
                found.append(f"{path.relative_to(root)}:{node.lineno} from time import ...")
    return found


def test_only_the_kernels_clock_reads_the_wall_clock() -> None:
    sources = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    assert len(sources) > 50
    offenders = [hit for p in sources if p != THE_CLOCK for hit in _wall_clock_reads(p)]
    assert offenders == []
    assert _wall_clock_reads(THE_CLOCK), "the clock module itself must read the wall clock"


def test_the_check_finds_a_wall_clock_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import time\nfrom datetime import datetime\n\nSTAMP = datetime.now()\nT = time.time()\n"
    )
    assert _wall_clock_reads(sample, tmp_path) == [
        "sample.py:4 datetime.now()",
        "sample.py:5 time.time()",
    ]
