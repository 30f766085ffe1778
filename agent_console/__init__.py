"""The agents' and supervisors' console: the websocket gateway, screen pop, live wall.

The names below are the package's public API; the routes and the gateway are wired by the
composition root.
"""

from agent_console.config import ConsoleConfig
from agent_console.enums import CallOutcome
from agent_console.exceptions import RecordingNotFound
from agent_console.models import CallNote
from agent_console.pop import pop_presenter

__all__ = ["CallNote", "CallOutcome", "ConsoleConfig", "RecordingNotFound", "pop_presenter"]
