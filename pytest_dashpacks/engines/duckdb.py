"""Fixture databases: one connector version in a sandboxed, in-memory DuckDB.

Each :class:`FixtureDatabase` knows a version's tables and models. Every call
to :meth:`FixtureDatabase.open` builds a fresh in-memory database holding the
rows it is given (the version's seed by default), so no item sees another
item's rows. The connection is locked down before any pack SQL runs: no file
or network access, no extension install or autoload, a memory limit, a locked
configuration, and a per-query timeout that interrupts the query.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from ..data.rows import Rows
from ..errors import CheckFailure, SqlExcerpt, first_line
from ..load.seeds import read_seed
from ..model import Connector, ConnectorVersion, TableSpec
from ..sql.render import MODEL_SCHEMA
from .results import QueryResult


class SandboxViolation(CheckFailure):
    """The query tried something the sandbox refuses, or ran out of time or memory."""


# --- seeds --------------------------------------------------------------------------


def seed_rows(connector: Connector, version: ConnectorVersion) -> Rows:
    """The connector's seed (written for its first version) transformed by ``version``'s changes."""
    first = connector.versions[0]
    rows: Rows = {table.key: read_seed(connector.seeds[table.key]) if table.key in connector.seeds else [] for table in first.tables.values()}
    keys = {_id(connector.schema, key): key for key in rows}  # "schema.table" -> current key
    for change in version.lineage:
        p = change.params
        if change.kind == "add_table":
            rows[str(p["table"])] = []
            keys[_id(connector.schema, str(p["table"]))] = str(p["table"])
            continue
        key = keys.get(_id(connector.schema, str(p.get("table", p.get("from")))))
        if key is None:
            continue
        if change.kind == "drop_table":
            del rows[key]
        elif change.kind == "rename_table":
            rows[str(p["to"])] = rows.pop(key)
            keys[_id(connector.schema, str(p["to"]))] = str(p["to"])
        elif change.kind == "rename_column":
            for row in rows[key]:
                row[str(p["to"])] = row.pop(str(p["from"]), None)
        elif change.kind == "drop_column":
            for row in rows[key]:
                row.pop(str(p["column"]), None)
        elif change.kind == "add_column":
            for row in rows[key]:
                row[str(p["column"])] = None
        elif change.kind == "change_values":
            # A connector that upper-cases an enum delivers the old rows upper-cased too.
            new = {str(v).lower(): v for v in p["values"]}
            for row in rows[key]:
                value = row.get(str(p["column"]))
                if isinstance(value, str) and value not in p["values"] and value.lower() in new:
                    row[str(p["column"])] = new[value.lower()]
        # change_type: the values are cast when they are loaded into the new type
    return rows


def _id(schema: str, key: str) -> str:
    table_schema, _, name = key.rpartition(".")
    return f"{table_schema or schema}.{name}".lower()


# --- databases ------------------------------------------------------------------------


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_sql(table: TableSpec) -> str:
    return f"{quote(table.schema)}.{quote(table.name)}"


# What DuckDB may hold of a database kept in a file; the rest stays on disk until a query reads it.
ON_DISK_MEMORY_LIMIT = "256MB"


@dataclass
class FixtureDatabase:
    """One connector version: its tables, seed and models, ready to open sandboxed copies."""

    connector: Connector
    version: ConnectorVersion
    models: list[tuple[str, str]]  # (name, rendered DuckDB SQL), in dependency order
    memory_limit: str = "1GB"
    timeout: float = 10.0
    max_rows: int = 2_000_000
    _seed: Rows | None = field(default=None, repr=False)

    @property
    def seed(self) -> Rows:
        if self._seed is None:
            self._seed = seed_rows(self.connector, self.version)
        return self._seed

    def open(
        self, rows: Rows | None = None, *, timezone: str = "UTC", zones: tuple[str, ...] = (), on_disk: str | None = None
    ) -> Sandbox:
        """A fresh database with ``rows`` (default: the seed).

        ``timezone`` is the session zone of :meth:`Sandbox.run`; each of ``zones`` gets its own session
        on the same data (TimeZone is a per-connection setting), made before the configuration is locked.
        ``on_disk`` is a directory the plugin owns: the database lives in a file there and DuckDB keeps
        only ``memory_limit`` of it in memory (for tables too large to hold); else it is in memory.
        """
        import duckdb

        config = {
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": ON_DISK_MEMORY_LIMIT if on_disk else self.memory_limit,
            "temp_directory": on_disk or "",  # in memory: never spill, a fixture database writes no file
        }
        con = duckdb.connect(f"{on_disk}/fixture.duckdb" if on_disk else ":memory:", config=config)
        data = self.seed if rows is None else rows
        for schema in sorted({t.schema for t in self.version.tables.values()} | {MODEL_SCHEMA}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for table in self.version.tables.values():
            columns = ", ".join(f"{quote(c.name)} {c.type}" for c in table.columns)
            con.execute(f"CREATE TABLE {table_sql(table)} ({columns})")
            _insert(con, table, data.get(table.key, []))
        for name, sql in self.models:
            try:
                statements = con.extract_statements(sql)
                if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                    continue  # a model is one SELECT: anything else is never run (the schema items say why)
                con.execute(f"CREATE VIEW {quote(MODEL_SCHEMA)}.{quote(name)} AS {sql}")
            except duckdb.Error:
                pass  # a model that does not build on this version: queries using it fail with DuckDB's message
        sessions = {timezone: _session(con, timezone, self.connector.schema)}
        for zone in zones:
            if zone not in sessions:
                sessions[zone] = _session(con.cursor(), zone, self.connector.schema)
        con.execute("SET lock_configuration = true")
        return Sandbox(sessions, timezone, self.timeout, tuple(self.version.tables.values()), self.max_rows, on_disk)


_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-/]*")


def _session(con: Any, zone: str, default_schema: str) -> Any:
    """A connection in ``zone`` whose bare table names resolve in the connector's schema, as the
    static checks resolve them (a warehouse's search_path or default dataset)."""
    if not _ZONE_NAME.fullmatch(zone):  # zones are checked when their file loads; never paste anything else
        raise ValueError(f"not a time zone name: {zone!r}")
    con.execute(f"SET TimeZone = '{zone}'")
    path = f"{default_schema},main".replace("'", "''")
    con.execute(f"SET search_path = '{path}'")
    return con


def _insert(con: Any, table: TableSpec, rows: list[dict[str, Any]], chunk: int = 2000) -> None:
    """Insert rows as literal VALUES batches (far faster than executemany), cast to the column types
    the way a warehouse loader casts text."""
    if not rows:
        return
    names = [c.name for c in table.columns]
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    casts = ", ".join(f"CAST(c{i} AS {c.type})" for i, c in enumerate(table.columns))
    for start in range(0, len(rows), chunk):
        values = ",\n".join(
            "(" + ", ".join(varchar_literal(row.get(name)) for name in names) + ")" for row in rows[start : start + chunk]
        )
        con.execute(f"INSERT INTO {table_sql(table)} SELECT {casts} FROM (VALUES {values}) AS v({aliases})")


def value_text(value: Any) -> str:
    """A row value as the text an engine casts to the column's declared type (seed values are text already)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def varchar_literal(value: Any) -> str:
    """A value as VARCHAR SQL text (NULL stays NULL); the cast to the column type follows."""
    if value is None:
        return "NULL::VARCHAR"
    return "'" + value_text(value).replace("'", "''") + "'"


_CHUNK = 10_000  # rows per fetch when a result is streamed


class Sandbox:
    """A locked-down DuckDB database that runs one SELECT at a time under a timeout,
    in one of the session zones it was opened with."""

    def __init__(
        self, sessions: dict[str, Any], default_zone: str, timeout: float, tables: tuple[TableSpec, ...] = (), max_rows: int = 2_000_000,
        directory: str | None = None,
    ) -> None:
        self._sessions, self._zone, self._timeout, self._max_rows = sessions, default_zone, timeout, max_rows
        self._directory = directory  # the database file's directory, removed at close
        self._con = sessions[default_zone]
        self._tables = tables
        self._filled: set[str] = set()
        # Queries run on this one worker while the main thread waits: the wait is where Ctrl-C lands
        # (inside DuckDB's own call, SIGINT is sometimes swallowed until the query ends).
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashpacks-query")

    def fill(self, tables: dict[str, str]) -> None:
        """Fill each empty table of ``tables`` (key -> the plugin's own SELECT producing its rows), one
        table at a time: a large dataset holds only the tables some query has read."""
        for table in self._tables:
            if table.key in tables and table.key not in self._filled:
                self._con.execute(f"INSERT INTO {table_sql(table)} {tables[table.key]}")
                self._con.execute("CHECKPOINT")  # on disk the rows leave memory; in memory this is cheap
                self._filled.add(table.key)

    def replace_rows(self, rows: Rows) -> None:
        """Swap in a new dataset (the plugin's own statements, never pack SQL): far cheaper than a new database."""
        for table in self._tables:
            if table.key in rows or table.key in self._filled:
                self._con.execute(f"DELETE FROM {table_sql(table)}")
                _insert(self._con, table, rows.get(table.key, []))
        self._filled = {key for key, table_rows in rows.items() if table_rows}

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        for session in self._sessions.values():
            session.close()
        if self._directory is not None:
            import shutil

            shutil.rmtree(self._directory, ignore_errors=True)

    def run(self, sql: str, zone: str | None = None, keep: Callable[[tuple[Any, ...]], bool] | None = None) -> QueryResult:
        """Run one query; timeouts, sandbox refusals, too many rows and DuckDB errors become readable failures.

        At most ``max_rows`` rows are fetched: DuckDB streams the result, so a query that returns
        hundreds of millions of rows costs no more Python memory than one that returns ``max_rows``.
        With ``keep``, the rows are read in chunks and only those it accepts are returned (a large
        result is checked without being held). Ctrl-C interrupts the query at once and stops the run."""
        import duckdb

        con = self._sessions[zone or self._zone]
        # Every query runs in a transaction that is rolled back: whatever slips past the syntax
        # item's read-only rule, no item sees another's writes.
        con.execute("BEGIN TRANSACTION")
        try:
            rows, description, count = self._on_worker(con, sql, keep)
            if count > self._max_rows:
                del rows
                raise SandboxViolation(
                    f"the query returns more than {self._max_rows:,} rows (dashpacks_max_rows); only the first "
                    f"{self._max_rows:,} were read. A board query aggregates: check for a missing GROUP BY or join key",
                    sql=SqlExcerpt(sql), defect_class="volume",
                )
        except duckdb.InterruptException:
            raise SandboxViolation(
                f"the query did not finish within {self._timeout:g} s (dashpacks_query_timeout) and was interrupted",
                sql=SqlExcerpt(sql), defect_class="volume",
            ) from None
        except duckdb.PermissionException as exc:
            raise SandboxViolation(
                f"refused by the sandbox: {first_line(exc)}", sql=SqlExcerpt(sql), defect_class="rendering"
            ) from None
        except duckdb.OutOfMemoryException as exc:
            raise SandboxViolation(f"the query ran out of memory: {first_line(exc)}", sql=SqlExcerpt(sql), defect_class="volume") from None
        except duckdb.Error as exc:
            raise CheckFailure(f"DuckDB: {first_line(exc)}", sql=SqlExcerpt(sql), defect_class="schema_drift") from None
        finally:
            con.execute("ROLLBACK")
        return QueryResult(tuple(d[0] for d in description), tuple(str(d[1]) for d in description), tuple(rows))

    def _on_worker(
        self, con: Any, sql: str, keep: Callable[[tuple[Any, ...]], bool] | None = None
    ) -> tuple[list[tuple[Any, ...]], list[Any], int]:
        """Fetch at most ``max_rows + 1`` rows on the worker thread while this one waits out the timeout:
        the rows (those ``keep`` accepts, with it), the description and how many were read.
        At the timeout the query is interrupted until it stops (an interrupt that lands before DuckDB
        has started the query is lost, so it is repeated), and DuckDB raises InterruptException. Ctrl-C
        interrupts it the same way and is raised here at once, so the run stops (and records no history)."""
        from concurrent.futures import TimeoutError as Timeout

        def fetch() -> tuple[list[tuple[Any, ...]], list[Any], int]:
            relation = con.execute(sql)
            if keep is None:
                rows = relation.fetchmany(self._max_rows + 1)
                return rows, relation.description or [], len(rows)
            kept: list[tuple[Any, ...]] = []
            count = 0
            while count <= self._max_rows and (chunk := relation.fetchmany(min(_CHUNK, self._max_rows + 1 - count))):
                count += len(chunk)
                kept.extend(row for row in chunk if keep(row))
            return kept, relation.description or [], count

        future = self._worker.submit(fetch)
        try:
            try:
                return future.result(timeout=self._timeout)
            except Timeout:
                _interrupt_until_done(con, future)
                return future.result()
        except KeyboardInterrupt:
            _interrupt_until_done(con, future)
            raise


def _interrupt_until_done(con: Any, future: Any) -> None:
    while not future.done():
        con.interrupt()
        wait_for([future], timeout=0.05)


