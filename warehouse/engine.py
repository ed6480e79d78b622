"""The chDB engine behind the HTTP front, safe for concurrent requests.

chDB runs queries from many threads at once on one session, but the session has one current database and one
set of settings. Requests whose database and settings equal the session's current ones (the common case: one
client library sends the same settings every time) run concurrently; a request that needs others runs alone,
after the session was switched to exactly its database and settings. INSERT payloads go through a temporary
file (``INSERT ... FROM INFILE``), because chDB's streaming insert blocks every other query on the session.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from chdb import session as chdb_session

from warehouse.errors import WarehouseError, error_from_engine
from warehouse.http_request import InsertData

DEFAULT_DATABASE = "default"


@dataclass(frozen=True)
class QueryOutcome:
    body: bytes
    read_rows: int
    read_bytes: int
    written_rows: int
    written_bytes: int
    elapsed_seconds: float


class _SharedExclusiveLock:
    """Many shared holders or one exclusive holder; a waiting exclusive request blocks new shared ones."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared_holders = 0
        self._exclusive_held = False
        self._exclusive_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive_held and not self._exclusive_waiting)
            self._shared_holders += 1
        try:
            yield
        finally:
            with self._condition:
                self._shared_holders -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._exclusive_waiting += 1
            self._condition.wait_for(lambda: not self._exclusive_held and self._shared_holders == 0)
            self._exclusive_waiting -= 1
            self._exclusive_held = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive_held = False
                self._condition.notify_all()


class Engine:
    """One chDB session over a data directory; the only object in Beacon that touches chDB."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._spool_dir = data_dir / "insert_spool"
        self._spool_dir.mkdir(exist_ok=True)
        for leftover in self._spool_dir.iterdir():  # payloads of requests cut short by a crash
            leftover.unlink()
        self._session = chdb_session.Session(str(data_dir / "chdb"))
        self._lock = _SharedExclusiveLock()
        # Changed only under the exclusive lock, so a shared holder reads a stable pair.
        self._current_settings: dict[str, str] = {}
        self._current_database = DEFAULT_DATABASE

    def close(self) -> None:
        self._session.close()

    def version(self) -> str:
        return self.run("SELECT version()", "TabSeparated").body.decode().strip()

    def run(
        self,
        sql: str,
        output_format: str,
        *,
        parameters: Mapping[str, str] | None = None,
        settings: Mapping[str, str] | None = None,
        database: str | None = None,
        insert: InsertData | None = None,
    ) -> QueryOutcome:
        """Run one statement (with its INSERT payload, if any) and return the formatted result."""
        wanted_settings = dict(settings or {})
        wanted_database = database or DEFAULT_DATABASE
        # chDB binds query parameters on the shared session, not per query: two parameterized queries at once
        # would see each other's values ("Substitution `s` is not set"), so those run alone.
        with self._lock.shared():
            if (
                not parameters
                and wanted_settings == self._current_settings
                and wanted_database == self._current_database
            ):
                return self._run_statement(sql, output_format, parameters, insert)
        with self._lock.exclusive():
            self._switch_to(wanted_database, wanted_settings)
            return self._run_statement(sql, output_format, parameters, insert)

    def _switch_to(self, database: str, settings: dict[str, str]) -> None:
        """Make the session's database and settings exactly these (settings not named go back to default)."""
        for name in self._current_settings.keys() - settings.keys():
            self._query(f"SET {_identifier(name)} = DEFAULT", "TabSeparated")
            del self._current_settings[name]
        for name, value in settings.items():
            if self._current_settings.get(name) != value:
                self._query(f"SET {_identifier(name)} = {_setting_literal(value)}", "TabSeparated")
                self._current_settings[name] = value
        if database != self._current_database:
            self._query(f"USE {_identifier(database)}", "TabSeparated")
            self._current_database = database

    def _run_statement(
        self,
        sql: str,
        output_format: str,
        parameters: Mapping[str, str] | None,
        insert: InsertData | None,
    ) -> QueryOutcome:
        started = time.perf_counter()
        if insert is None:
            result = self._query(sql, output_format, parameters)
        else:
            with self._spooled(insert.data) as path:
                settings = f" SETTINGS {insert.settings_clause}" if insert.settings_clause else ""
                statement = f"{insert.target} FROM INFILE '{path}'{settings} FORMAT {insert.format}"
                result = self._query(statement, "TabSeparated", parameters)
        return QueryOutcome(
            body=result.bytes() if insert is None else b"",
            read_rows=result.rows_read(),
            read_bytes=result.bytes_read(),
            written_rows=result.rows_written(),
            written_bytes=result.bytes_written(),
            elapsed_seconds=time.perf_counter() - started,
        )

    def _query(self, sql: str, output_format: str, parameters: Mapping[str, str] | None = None) -> _Result:
        try:
            result: _Result = self._session.query(sql, output_format, params=dict(parameters or {}))
        except Exception as error:  # chDB raises several unrelated exception types, all with a message.
            raise error_from_engine(error) from error
        if result.has_error():
            raise error_from_engine(RuntimeError(result.error_message()))
        return result

    @contextmanager
    def _spooled(self, data: bytes | memoryview) -> Iterator[str]:
        descriptor, path = tempfile.mkstemp(dir=self._spool_dir, suffix=".insert")
        try:
            with os.fdopen(descriptor, "wb") as spool:
                spool.write(data)
            yield path
        finally:
            os.unlink(path)


class _Result(Protocol):
    """The parts of chDB's ``query_result`` that the engine reads."""

    def bytes(self) -> bytes: ...
    def has_error(self) -> bool: ...
    def error_message(self) -> str: ...
    def rows_read(self) -> int: ...
    def bytes_read(self) -> int: ...
    def rows_written(self) -> int: ...
    def bytes_written(self) -> int: ...


def _identifier(name: str) -> str:
    if not name.replace("_", "").replace(".", "").isalnum():
        raise WarehouseError(36, f"Invalid identifier: {name!r}")
    return name


def _setting_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
