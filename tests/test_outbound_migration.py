"""Callbacks booked before the outbound engine are not lost by its migration: each becomes
an outbound task, to be placed in the agents' calendars."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from callcenter.migrate import upgrade
from core.db import make_engine


def test_booked_callbacks_become_tasks_and_the_old_table_goes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    upgrade(url, "0020")
    engine = make_engine(url)
    booked = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    with engine.begin() as connection:
        for status, band in (("requested", "12:00-18:00"), ("done", "09:00-12:00")):
            connection.execute(
                text(
                    "INSERT INTO callback_request (customer_id, phone, call_id, band, status,"
                    " requested_at) VALUES (NULL, '+8613800138000', 'c1', :band, :status, :at)"
                ),
                {"band": band, "status": status, "at": booked.isoformat()},
            )

    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT purpose, phone, call_id, status, assignee_kind, note, deadline_at"
                " FROM outbound_task"
            )
        ).all()
        tables = connection.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'callback_request'")
        ).all()
    engine.dispose()

    assert [tuple(row[:6]) for row in rows] == [
        ("booked_callback", "+8613800138000", "c1", "pending", "team", "booked for 12:00-18:00")
    ]
    assert str(rows[0][6]).startswith("2026-11-21 14:30")
    assert tables == []
