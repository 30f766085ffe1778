"""The error tree is written down once, in core/errors.py, and stays true: every error
class of the service sits there under its parent, with the status it answers with."""

from __future__ import annotations

import gc
import importlib
import pkgutil
import re

import core.errors
from core.errors import CallCenterError

PACKAGES = ("core", "orders", "callbacks", "recordings", "ivr", "telephony", "agent_console")
_ROW = re.compile(r"^(?P<branch>[│├└─ ]*)(?P<name>[\w.]+) +(?P<status>\d{3})\b")


def _label(error: type[CallCenterError]) -> str:
    """Where the error is imported from: its package's public API when it is there."""
    module = error.__module__
    if module == "core.errors":
        return error.__name__
    home = re.sub(r"\.(exceptions|errors)$", "", module)
    return f"{home}.{error.__name__}"


def _rows(error: type[CallCenterError], prefix: str = "", last: bool = True) -> list[str]:
    branch = "" if error is CallCenterError else prefix + ("└── " if last else "├── ")
    rows = [f"{branch}{_label(error)} {error.status_code}"]
    below = sorted(error.__subclasses__(), key=lambda e: (e.__module__ != "core.errors", _label(e)))
    inner = "" if error is CallCenterError else prefix + ("    " if last else "│   ")
    for index, child in enumerate(below):
        rows += _rows(child, inner, index == len(below) - 1)
    return rows


def _written_down() -> list[str]:
    lines = (core.errors.__doc__ or "").splitlines()
    found = (_ROW.match(line) for line in lines)
    return [f"{m['branch']}{m['name']} {m['status']}" for m in found if m]


def test_the_error_tree_in_core_errors_is_the_code_s() -> None:
    for package in PACKAGES:
        for module in pkgutil.walk_packages(
            importlib.import_module(package).__path__, f"{package}."
        ):
            importlib.import_module(module.name)
    assert _written_down() == _rows(CallCenterError)


def test_a_tree_missing_an_error_is_found() -> None:
    """The check can fail: an error the tree does not list."""

    class Unlisted(CallCenterError):
        status_code = 418

    try:
        rows = _rows(CallCenterError)
        assert [row for row in rows if "Unlisted" in row] == [f"└── {__name__}.Unlisted 418"]
        assert _written_down() != rows
    finally:
        del Unlisted
        gc.collect()  # out of CallCenterError.__subclasses__() for the tests after this one
