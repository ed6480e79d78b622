"""ClickHouse migrations: numbered, append-only ``.sql`` files in ``schemas/clickhouse/``, each applied once.

Applied versions are recorded with a checksum in ``beacon.schema_migrations``; editing an applied file is an
error, because the databases that already ran it would silently differ from new ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from clickhouse_connect.driver.client import Client

DATABASE = "beacon"
MIGRATIONS_TABLE = f"{DATABASE}.schema_migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";\s*(?:\n|\Z)")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The file's statements, split at semicolons that end a line; comment-only chunks dropped."""
        chunks = (chunk.strip() for chunk in _STATEMENT_END.split(self.sql))
        return [chunk for chunk in chunks if _without_comments(chunk)]


def migrations_directory() -> Path:
    return Path(str(files("schemas").joinpath("clickhouse")))


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read the migration files in version order; versions must be unique and start at 1 without gaps."""
    migrations = []
    for path in sorted((directory or migrations_directory()).glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_case.sql")
        migrations.append(Migration(int(match.group("version")), match.group("name"), path.read_text()))
    versions = [migration.version for migration in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise MigrationError(f"migration versions must run 1..N without gaps or repeats, found {versions}")
    return migrations


def apply_migrations(client: Client, migrations: list[Migration]) -> list[Migration]:
    """Apply the migrations not yet recorded, in order; return those applied now."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, checksum String,"
        " applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
    )
    recorded = {
        int(version): checksum
        for version, checksum in client.query(f"SELECT version, checksum FROM {MIGRATIONS_TABLE}").result_rows
    }
    applied = []
    for migration in migrations:
        if migration.version in recorded:
            if recorded[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
                    "migrations are append-only: add a new file instead"
                )
            continue
        for statement in migration.statements():
            client.command(statement)
        client.insert(
            MIGRATIONS_TABLE,
            [(migration.version, migration.name, migration.checksum)],
            column_names=["version", "name", "checksum"],
        )
        applied.append(migration)
    return applied


def _without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()
