"""Migration files: numbered without gaps, split into statements, checksummed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.warehouse_rows import WAREHOUSE_TABLES
from stack.migrations import Migration, MigrationError, load_migrations


def test_the_shipped_migrations_load_in_order() -> None:
    migrations = load_migrations()
    assert [migration.version for migration in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "events"


def test_every_table_the_writer_fills_is_created_by_a_migration() -> None:
    ddl = "\n".join(migration.sql for migration in load_migrations())
    for table in WAREHOUSE_TABLES:
        assert f"CREATE TABLE IF NOT EXISTS {table.table}" in ddl
        for column in table.columns:
            declared = re.search(rf"(^\s+|ADD COLUMN IF NOT EXISTS ){column}\s+[A-Z]", ddl, re.MULTILINE)
            assert declared, f"{table.table}.{column} missing from the migrations"


def test_a_gap_in_versions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="gaps"):
        load_migrations(tmp_path)


def test_a_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_a.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_snake_case"):
        load_migrations(tmp_path)


def test_statements_are_split_at_line_ending_semicolons_and_comments_dropped() -> None:
    sql = (
        "-- first\nCREATE TABLE a (s String DEFAULT ';') ENGINE = Memory;\n\n"
        "-- only a comment;\n"
        "ALTER TABLE a ADD COLUMN b UInt8;\n"
    )
    migration = Migration(1, "x", sql)
    assert migration.statements() == [
        "-- first\nCREATE TABLE a (s String DEFAULT ';') ENGINE = Memory",
        "ALTER TABLE a ADD COLUMN b UInt8",
    ]
    assert migration.checksum == Migration(1, "x", migration.sql).checksum


def test_the_analyst_guide_documents_every_column_the_writer_fills() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "analysts.md").read_text()
    for table in WAREHOUSE_TABLES:
        section = guide.split(f"## `{table.table}`", 1)[1].split("\n## ", 1)[0]
        for column in table.columns:
            assert f"| `{column}` |" in section, f"{table.table}.{column} is not in docs/analysts.md"
