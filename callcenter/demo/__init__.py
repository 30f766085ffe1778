"""`callcenter demo`: seeded data for newcomers, and simulated callers ringing in."""
