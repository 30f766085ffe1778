"""The migrations build the schema the models describe, on both databases: a column or
table added to a model without its migration (or the other way round) fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

import callcenter.app  # noqa: F401  (imports every package's tables)
from recordings.search import FTS_TABLE, TRIGRAM_INDEX


def _modelled(name: str | None, kind: str, _parent: dict[str, Any]) -> bool:
    """Search indexes no model can describe: SQLite's FTS5 table with its shadow tables,
    PostgreSQL's trigram index (migration 0025)."""
    if kind == "table":
        return not (name or "").startswith(FTS_TABLE)
    return not (kind == "index" and name == TRIGRAM_INDEX)


def test_the_migrated_schema_is_the_models_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": _modelled})
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []
