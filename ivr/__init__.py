"""The IVR: what callers hear and what their keys and words lead to, on any channel."""
