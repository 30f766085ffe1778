#!/usr/bin/env python3
"""Set-up and entry points for a fresh machine with nothing but Python 3.11+.

    python3 dev.py run [callcenter serve options]   run the service on embedded defaults
    python3 dev.py test [pytest options]            install everything and run the suite:
                                                    without options, the date-dependent
                                                    tests a year ahead (the clock check)

Both create ``.venv`` beside this file and install the project into it; the install is
repeated only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
SYSTEM_PACKAGES = {
    "espeak-ng": "espeak-ng",
    "sox": "sox",
    "sipp": "sip-tester",
    "kamailio": "kamailio",
    "chromium": "chromium",
    "fc-list": "fontconfig",
}
"""Programs the tests run (prompt synthesis, test callers' voices, SIP callers and proxy,
the browser for the console), each with its Debian package."""
FONT_PACKAGE = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk")
"""Without CJK fonts Chinese text in browser screenshots renders as empty boxes."""


def _ensure_venv(extras: str) -> None:
    # Without pip, an earlier creation was cut short: start it again.
    if not (BIN / "python").exists() or not (BIN / "pip").exists():
        print(f"creating {VENV}" + (" again (no pip in it)" if VENV.exists() else ""), flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    print(f"installing {target} into {VENV}", flush=True)
    _run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", target])
    stamp.write_text(digest)


def _ensure_system_packages() -> None:
    missing = sorted({pkg for program, pkg in SYSTEM_PACKAGES.items() if not shutil.which(program)})
    if not Path(FONT_PACKAGE[0]).exists():
        missing.append(FONT_PACKAGE[1])
    if not missing:
        return
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"missing {', '.join(missing)}; install as root: {' '.join(install)}", flush=True)
        return
    print(f"installing {', '.join(missing)}: apt-get update, then {' '.join(install)}", flush=True)
    _run(["apt-get", "update"])
    _run(["env", "DEBIAN_FRONTEND=noninteractive", *install])


def _run(command: list[str]) -> None:
    completed = subprocess.run(command, cwd=ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def run(args: list[str]) -> None:
    _ensure_venv("")
    os.execv(str(BIN / "callcenter"), [str(BIN / "callcenter"), "serve", *args])


CLOCK_SHIFT_WEEKS = 52
"""The clock check: the tests that depend on their fixed moments run with every moment a
year ahead (whole weeks keep weekday and time of day), so none passes only near today.
They run only there; the unshifted run holds all the others."""


def test(args: list[str]) -> None:
    _ensure_venv("test")
    _ensure_system_packages()
    _run([str(BIN / "ruff"), "check", "."])
    _run([str(BIN / "ruff"), "format", "--check", "."])
    # Each module runs on one worker, in the order the suite lists them (slowest first).
    pytest = [str(BIN / "python"), "-m", "pytest", "--dist", "loadfile", "--no-loadscope-reorder"]
    # Bytecode is cached even where the environment turns that off: every test worker and
    # every service process the tests start would compile the project again (9 s of each
    # worker's collection, half a second of each start, on a 2-core machine).
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args:
        chosen = subprocess.run([*pytest, "-n", "2", *args], cwd=ROOT, env=cached, check=False)
        sys.exit(chosen.returncode)
    # Three workers on two cores: most of the time goes in waiting (real-time SIP calls,
    # processes starting, pages loading). Each worker has its own SIPp media and hotline
    # RTP port blocks, so a third no longer meets the others' calls.
    runs = (
        ("the tests that do not depend on the date", {"CALLCENTER_TEST_SPLIT": "rest"}, "3"),
        (
            f"the clock check: the date-dependent tests {CLOCK_SHIFT_WEEKS:+d} weeks away",
            {
                "CALLCENTER_TEST_SPLIT": "dated",
                "CALLCENTER_TEST_CLOCK_SHIFT_WEEKS": str(CLOCK_SHIFT_WEEKS),
            },
            "3",
        ),
    )
    for title, env, workers in runs:
        print(title, flush=True)
        completed = subprocess.run(
            [*pytest, "-n", workers], cwd=ROOT, env={**cached, **env}, check=False
        )
        if completed.returncode != 0:
            sys.exit(completed.returncode)
    sys.exit(0)


def main() -> None:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
