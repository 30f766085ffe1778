"""The suite's own scheduling: the modules it sends to the workers first still exist (a
renamed one would silently fall back to the end of the run)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SLOWEST_FIRST

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_sent_out_first_exists() -> None:
    assert [path for path in SLOWEST_FIRST if not (ROOT / path).is_file()] == []
