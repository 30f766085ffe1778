"""Composition root: settings, database, Redis, the app factory and the CLI."""
