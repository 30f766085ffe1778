"""Callbacks: requests from callers, campaigns, agent calendars, the dialer."""
