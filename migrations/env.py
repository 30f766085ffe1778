"""Alembic environment over SQLModel's metadata of every domain package."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine
from sqlmodel import SQLModel

import agent_console.models  # noqa: F401
import billing.models  # noqa: F401
import callbacks.models  # noqa: F401
import orders.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import parts.models  # noqa: F401
import recordings.models  # noqa: F401
import telephony.models  # noqa: F401
from core.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    connectable = config.attributes.get("connection") or make_engine(url)
    if isinstance(connectable, Engine):
        with connectable.connect() as connection:
            _run(connection)
        connectable.dispose()
    else:
        _run(connectable)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
