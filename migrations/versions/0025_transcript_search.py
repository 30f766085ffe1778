"""transcript search: trigram indexes over the segments' text, which serve substring search
in Chinese (no word segmentation needed): SQLite an FTS5 ``trigram`` table over
transcript_segment kept in step by triggers, PostgreSQL ``pg_trgm`` and a GIN index

SQLite's batch mode rebuilds a table it alters, which drops its triggers: a later
migration that alters transcript_segment in batch mode must create them again.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "transcript_segment_fts"
TRIGRAM_INDEX = "ix_transcript_segment_text_trgm"
_EXTENSION_LOCK = 0x7067_7472_676D  # "pgtrgm": any fixed key shared by all who install it


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER {FTS}_{trigger}")
        op.execute(f"DROP TABLE {FTS}")
    else:
        # The extension stays: other schemas of the database may use it.
        op.execute(f"DROP INDEX {TRIGRAM_INDEX}")


def _upgrade_sqlite() -> None:
    # External content: the text is stored once, in transcript_segment; the FTS table holds
    # only the index, keyed by the segment's id.
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, content='transcript_segment', "
        "content_rowid='id', tokenize='trigram')"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON transcript_segment BEGIN "
        f"INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON transcript_segment BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF text ON transcript_segment BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text); "
        f"INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text); END"
    )
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def _upgrade_postgresql() -> None:
    bind = op.get_bind()
    # The extension belongs to the database, not to a schema's tables: processes migrating
    # side by side (schemas of one test database, a rolling deploy) would race to create it.
    op.execute(f"SELECT pg_advisory_xact_lock({_EXTENSION_LOCK})")
    # In public, not in the first schema of the search path: dropping that schema would
    # drop the extension, and with it every other schema's trigram index.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    schema = bind.exec_driver_sql(
        "SELECT nspname FROM pg_extension JOIN pg_namespace ON pg_namespace.oid = extnamespace "
        "WHERE extname = 'pg_trgm'"
    ).scalar_one()
    # Qualified, since the schema of the extension need not be on the search path.
    operators = f"{bind.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops"
    op.execute(f"CREATE INDEX {TRIGRAM_INDEX} ON transcript_segment USING gin (text {operators})")
