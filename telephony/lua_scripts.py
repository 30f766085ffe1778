"""The Lua sources of presence's and the ACD's decisions, read from ``telephony/lua``."""

from __future__ import annotations

from importlib.resources import files


def source(*names: str) -> str:
    """The named files of ``telephony/lua`` joined, helpers first: one script's text."""
    scripts = files("telephony").joinpath("lua")
    return "\n".join(scripts.joinpath(name).read_text() for name in names)
