"""PostgreSQL as a second engine: a throwaway server (or one at a DSN), a database per connector
version loaded with its declared types, and a sandbox that only reads.

The sandbox: queries run as a login role with no superuser rights that may only read the fixture
schemas (so no ``COPY`` to or from files, no ``pg_read_file``, no extensions), each in a read-only
transaction that is rolled back, under ``statement_timeout``. The role logs in itself rather than
being switched to, so a query cannot switch back.

Why not pytest-postgresql's executor: it waits for a TCP port (this server listens on a Unix
socket only), runs ``initdb`` as the invoking user (refused as root) and registers its own pytest
plugin and options in every run that has it installed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckFailure, SqlExcerpt, first_line
from ..model import Connector, ConnectorVersion, TableSpec
from .duckdb import SandboxViolation, value_text
from .results import QueryResult

READER = "dashpacks_reader"  # + the engine's suffix: each worker and run has its own role and password
ADMIN = "dashpacks_admin"


class EngineUnavailable(Exception):
    """The configured engine cannot be started or reached; the reason is shown on every item that needs it."""


def find_bindir() -> Path | None:
    """PostgreSQL's server binaries: ``$DASHPACKS_PG_BIN``, Debian's newest ``/usr/lib/postgresql/*/bin``, else PATH."""
    candidates = [Path(os.environ["DASHPACKS_PG_BIN"])] if os.environ.get("DASHPACKS_PG_BIN") else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


class ThrowawayServer:
    """``initdb`` in a temporary directory and ``pg_ctl start`` on a Unix socket there: no TCP port,
    trust authentication, durability off (the data is rebuilt every run)."""

    def __init__(self) -> None:
        self.directory: Path | None = None

    def start(self) -> str:
        bindir = find_bindir()
        if bindir is None:
            raise EngineUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) found; set DASHPACKS_PG_BIN or use a postgresql:// DSN")
        self.directory = Path(tempfile.mkdtemp(prefix="dashpacks-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            if shutil.which("runuser") is None:
                raise EngineUnavailable("running as root without runuser: cannot start PostgreSQL as the postgres user")
            shutil.chown(self.directory, "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        data, socket = self.directory / "data", self.directory
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{socket}' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=40"
        )
        steps = [
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", ADMIN, "-E", "UTF8", "--locale=C", "--no-sync"],
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.directory / "server.log"), "-o", options, "-w", "-t", "60", "start"],
        ]
        for step in steps:
            done = subprocess.run(as_user + step, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise EngineUnavailable(f"{Path(step[0]).name} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        return f"host={socket} dbname=postgres user={ADMIN}"

    def stop(self) -> None:
        if self.directory is None:
            return
        bindir = find_bindir()
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if bindir is not None:
            subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None


@dataclass
class PostgresEngine:
    """The ``--dashpacks-engine postgres`` (throwaway server) or ``postgresql://...`` (existing server) engine."""

    setting: str
    timeout: float
    max_rows: int
    suffix: str  # keeps xdist workers (and concurrent runs on one server) in their own databases
    name: str = "postgres"

    def __post_init__(self) -> None:
        self._server: ThrowawayServer | None = None
        self._admin: str | None = None
        self._failure: str | None = None
        self._password = secrets.token_hex(16)
        self.reader = re.sub(r"[^a-z0-9_]+", "_", f"{READER}_{self.suffix}".lower())[:63]
        self._databases: list[PostgresDatabase] = []

    def admin_conninfo(self) -> str:
        """How to reach the server as a role that may create databases and roles (started on first use)."""
        if self._failure is not None:
            raise EngineUnavailable(self._failure)
        if self._admin is None:
            try:
                if self.setting.startswith(("postgresql://", "postgres://")):
                    self._admin = self.setting
                else:
                    self._server = ThrowawayServer()
                    self._admin = self._server.start()
                self._ensure_reader()
            except (EngineUnavailable, OSError, subprocess.SubprocessError) as exc:
                self._failure = f"PostgreSQL engine unavailable: {exc}"
                raise EngineUnavailable(self._failure) from None
            except _psycopg_error() as exc:
                self._failure = f"PostgreSQL engine unavailable: {first_line(exc)}"
                raise EngineUnavailable(self._failure) from None
        return self._admin

    def _ensure_reader(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._admin, autocommit=True) as con:
            exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.reader,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            con.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}").format(
                sql.Identifier(self.reader), sql.Literal(self._password)))
            con.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(self.reader)))

    def database(self, connector: Connector, version: ConnectorVersion, rows: dict[str, list[dict[str, Any]]],
                 models: Iterable[tuple[str, str]]) -> PostgresDatabase:
        """A database holding ``version``'s tables (declared types), ``rows`` and the models as views."""
        admin = self.admin_conninfo()
        name = re.sub(r"[^a-z0-9_]+", "_", f"dashpacks_{connector.name}_{version.name}_{self.suffix}".lower())[:63]
        database = PostgresDatabase(admin, name, self.reader, self._password, self.timeout, self.max_rows)
        self._databases.append(database)  # dropped at the end even when loading fails half-way
        try:
            database.load(connector, version, rows, models)
        except _psycopg_error() as exc:  # a type or value PostgreSQL does not take: the items say so and skip
            raise EngineUnavailable(f"cannot load {version.label} into PostgreSQL: {first_line(exc)}") from None
        return database

    def close(self) -> None:
        for database in self._databases:
            database.drop()
        self._databases.clear()
        if self._admin is not None and self._server is None:  # on a shared server, leave no role behind
            import psycopg
            from psycopg import sql

            try:
                with psycopg.connect(self._admin, autocommit=True) as con:
                    con.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.reader)))
            except psycopg.Error:
                pass  # a server already gone takes its roles with it
        if self._server is not None:
            self._server.stop()
            self._server = None


def _psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error


def postgres_type(duckdb_type: str) -> str:
    """A connector column's declared (DuckDB) type as PostgreSQL writes it."""
    from sqlglot import exp

    return exp.DataType.build(duckdb_type, dialect="duckdb").sql("postgres")


class PostgresDatabase:
    """One connector version in its own database; queries run as the read-only role."""

    def __init__(self, admin: str, name: str, reader: str, password: str, timeout: float, max_rows: int) -> None:
        self.admin, self.name, self.reader, self.password = admin, name, reader, password
        self.timeout, self.max_rows = timeout, max_rows
        self.model_errors: dict[str, str] = {}  # model -> why it is not a view here
        self.default_schema = "public"
        self._reader: Any = None

    def _conninfo(self, user: str | None = None) -> str:
        from psycopg.conninfo import make_conninfo

        extra = {"user": user, "password": self.password} if user else {}
        return make_conninfo(self.admin, dbname=self.name, options="-c TimeZone=UTC", **extra)

    def load(self, connector: Connector, version: ConnectorVersion, rows: dict[str, list[dict[str, Any]]],
             models: Iterable[tuple[str, str]]) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin, autocommit=True) as con:
            con.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(self.name)))
            con.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(self.name)))
        self.default_schema = connector.schema
        with psycopg.connect(self._conninfo(), autocommit=True) as con:
            con.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            con.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(self.name)))
            schemas = sorted({t.schema for t in version.tables.values()} | {"models"})
            for schema in schemas:
                con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            for table in version.tables.values():
                _create_and_fill(con, table, rows.get(table.key, []))
            for model, duckdb_sql in models:
                self._create_view(con, model, duckdb_sql)
            for schema in schemas:
                con.execute(sql.SQL("GRANT USAGE ON SCHEMA {0} TO {1}; GRANT SELECT ON ALL TABLES IN SCHEMA {0} TO {1}").format(
                    sql.Identifier(schema), sql.Identifier(self.reader)))
            con.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(self.name), sql.Identifier(self.reader)))
            # Bare table names resolve in the connector's schema, as in DuckDB and the static checks.
            con.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = {}").format(
                sql.Identifier(self.reader), sql.Identifier(self.name), sql.Identifier(connector.schema)))

    def _create_view(self, con: Any, model: str, duckdb_sql: str) -> None:
        import psycopg
        import sqlglot
        from psycopg import sql

        try:
            text = sqlglot.transpile(duckdb_sql, read="duckdb", write="postgres")[0]
            con.execute(sql.SQL("CREATE VIEW models.{} AS ").format(sql.Identifier(model)) + sql.SQL(text))  # type: ignore[operator]
        except (psycopg.Error, sqlglot.errors.SqlglotError) as exc:
            self.model_errors[model] = first_line(exc)

    def run(self, sql_text: str) -> QueryResult:
        """Run one SELECT as the read-only role in a transaction that is rolled back."""
        import psycopg

        if self._reader is None:
            self._reader = psycopg.connect(self._conninfo(self.reader), autocommit=False)
        con = self._reader
        try:
            with con.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                cur.execute(f"SET LOCAL statement_timeout = {max(1, int(self.timeout * 1000))}")
                cur.execute(sql_text.encode())  # a second statement would run read-only too
                rows = cur.fetchmany(self.max_rows + 1) if cur.description else []
                names = tuple(d.name for d in cur.description or ())
                types = tuple(_type_name(con, d.type_code) for d in cur.description or ())
        except psycopg.errors.QueryCanceled:
            con.rollback()
            raise SandboxViolation(
                f"the query did not finish within {self.timeout:g} s on PostgreSQL (statement_timeout) and was cancelled",
                sql=SqlExcerpt(sql_text), defect_class="volume",
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            con.rollback()
            raise SandboxViolation(f"refused by the PostgreSQL sandbox: {first_line(exc)}", sql=_located(sql_text, exc),
                                   defect_class="rendering") from None
        except psycopg.Error as exc:
            con.rollback()
            raise CheckFailure(f"PostgreSQL: {first_line(exc)}", sql=_located(sql_text, exc), defect_class="rendering") from None
        con.rollback()
        if len(rows) > self.max_rows:
            raise SandboxViolation(f"the query returns more than {self.max_rows:,} rows (dashpacks_max_rows)", sql=SqlExcerpt(sql_text),
                                   defect_class="volume")
        return QueryResult(names, types, tuple(tuple(row) for row in rows))

    def drop(self) -> None:
        import psycopg
        from psycopg import sql

        if self._reader is not None:
            self._reader.close()
            self._reader = None
        try:
            with psycopg.connect(self.admin, autocommit=True) as con:
                con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
        except psycopg.Error:
            pass  # a server already gone takes its databases with it


def _create_and_fill(con: Any, table: TableSpec, rows: list[dict[str, Any]]) -> None:
    from psycopg import sql

    columns = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(postgres_type(c.type))) for c in table.columns]
    target = sql.Identifier(table.schema, table.name)
    con.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(columns)))
    if not rows:
        return
    names = [c.name for c in table.columns]
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(target, sql.SQL(", ").join(sql.Identifier(n) for n in names))
    with con.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            # COPY text: the server parses each value into the declared type, as the DuckDB loader's cast does.
            copy.write_row([None if row.get(name) is None else value_text(row.get(name)) for name in names])


def _type_name(con: Any, oid: int) -> str:
    info = con.adapters.types.get(oid)
    return info.name if info is not None else str(oid)


def _located(sql_text: str, exc: Any) -> SqlExcerpt:
    """PostgreSQL's own error position (1-based characters) as a line and column with a caret."""
    position = getattr(getattr(exc, "diag", None), "statement_position", None)
    if not position:
        return SqlExcerpt(sql_text)
    before = sql_text[: int(position) - 1]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return SqlExcerpt(sql_text, line, column)
