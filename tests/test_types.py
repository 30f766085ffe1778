"""The type checker over every package, on every run: mypy with the settings of
pyproject.toml (strict, the pydantic plugin)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mypy(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("mypy")), "--cache-dir", str(cache), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture
def cache(request: pytest.FixtureRequest) -> Path:
    """Kept between runs (beside pytest's own cache): a warm run checks only what changed."""
    return request.config.cache.mkdir("mypy")


def test_the_packages_type_check(cache: Path) -> None:
    result = _mypy(cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_a_wrong_type_fails_the_check(cache: Path, tmp_path: Path) -> None:
    """The check can fail: a caller that hands the phone number normaliser an int."""
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from orders.phones import normalize_phone\n\nnormalize_phone(8613800000000)\n"
    )

    result = _mypy(cache, str(caller))

    assert result.returncode == 1, result.stdout + result.stderr
    assert '"normalize_phone" has incompatible type "int"; expected "str"' in result.stdout
