"""The layering of DESIGN.md, checked on every run: dependencies point one way, from the
composition root down to the kernel, and nothing imports the root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "core",
    "orders",
    "callbacks",
    "recordings",
    "ivr",
    "telephony",
    "agent_console",
    "migrations",
    "callcenter",
)


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_import_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_domain_package_importing_the_root_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: the same contracts over a copy where `orders` reaches up into
    the composition root."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    (tmp_path / "orders" / "reaches_up.py").write_text(
        "from callcenter.settings import Settings\n\nSETTINGS = Settings\n"
    )

    result = _lint_imports(tmp_path)

    assert result.returncode != 0, result.stdout
    assert "orders.reaches_up -> callcenter.settings" in result.stdout
