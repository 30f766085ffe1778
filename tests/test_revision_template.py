"""The template `alembic revision` writes new migrations from: what it renders must import."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.util import format_as_comma, template_to_file

import migrations

TEMPLATE = Path(migrations.__file__).parent / "script.py.mako"


def test_a_new_revision_imports(tmp_path: Path) -> None:
    target = tmp_path / "0999_new_table.py"
    template_to_file(
        TEMPLATE,
        target,
        "utf-8",
        message="a new table",
        up_revision="0999",
        down_revision="0998",
        branch_labels=None,
        depends_on=None,
        create_date="2026-11-23",
        comma=format_as_comma,
        imports="",
        upgrades='op.add_column("call", sa.Column("label", '
        "sqlmodel.sql.sqltypes.AutoString(), nullable=True))",
        downgrades='op.drop_column("call", "label")',
    )
    spec = importlib.util.spec_from_file_location("new_revision", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)

    spec.loader.exec_module(module)

    assert module.revision == "0999"
    assert module.down_revision == "0998"
