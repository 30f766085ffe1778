"""Alembic migration scripts (run through callcenter.migrate)."""
