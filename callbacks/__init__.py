"""Callbacks: requests from callers, campaigns, agent calendars, the dialer.

The names below are the package's public API; other packages import only these.
"""

from callbacks.models import CallbackRequest
from callbacks.services import request_callback

__all__ = ["CallbackRequest", "request_callback"]
