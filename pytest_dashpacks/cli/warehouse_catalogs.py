"""Tables and columns as a warehouse describes them: a dbt ``catalog.json`` (with ``manifest.json`` to tell
sources from models) or a database's ``information_schema.columns`` (DuckDB file or PostgreSQL DSN)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import CliError
from .warehouse_types import duckdb_type, enum_values, postgres_type

DEFAULT_SCHEMAS = {"duckdb": ("main",), "postgres": ("public",)}


@dataclass(frozen=True)
class ScannedColumn:
    name: str
    type: str  # DuckDB type name
    description: str  # provenance: where the column was read and its type there
    nullable: bool = True
    values: tuple[str, ...] | None = None  # an enum's labels
    primary_key: bool = False


@dataclass(frozen=True)
class ScannedTable:
    schema: str
    name: str
    columns: tuple[ScannedColumn, ...]


@dataclass(frozen=True)
class Scan:
    """What one source described: its tables, the schemas it covered, and a label for messages and notes."""

    tables: tuple[ScannedTable, ...]
    schemas: tuple[str, ...]
    label: str  # "dbt catalog target/catalog.json", "DuckDB warehouse.duckdb"
    skipped: tuple[str, ...] = ()  # catalog entries left out (models, seeds), for the summary


def folded(name: str) -> str:
    """Snowflake upper-cases unquoted names; connector.yml (and board SQL) spell them in lower case."""
    return name.lower() if name.isupper() else name


def _column(name: str, source_type: str, where: str, nullable: bool = True) -> ScannedColumn:
    mapped = duckdb_type(source_type)
    description = f"from {where}, type {source_type}" + ("" if mapped.exact else " (unknown here: read as VARCHAR)")
    return ScannedColumn(folded(name), mapped.duckdb, description, nullable, enum_values(source_type))


# --- dbt catalog ----------------------------------------------------------------------------------


def read_dbt_catalog(catalog: Path, manifest: Path | None, schemas: tuple[str, ...]) -> Scan:
    """The catalog's relations as tables: only sources when the manifest says which entries are sources,
    every node and source otherwise. ``schemas`` (when given) keeps only those schemas."""
    data = _json_object(catalog, "dbt catalog", ("nodes", "sources"))
    kinds = _manifest_kinds(manifest) if manifest is not None else None
    tables: list[ScannedTable] = []
    skipped: list[str] = []
    wanted = {s.lower() for s in schemas}
    for section in ("sources", "nodes"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise CliError(f"{catalog}: {section!r} is not an object of catalog entries")
        for unique_id, entry in entries.items():
            kind = (kinds or {}).get(unique_id) or str(unique_id).split(".", 1)[0]
            if kinds is not None and kind != "source":
                skipped.append(f"{unique_id} ({kind})")
                continue
            table = _catalog_table(catalog, unique_id, entry)
            if wanted and table.schema.lower() not in wanted:
                continue
            tables.append(table)
    if not tables:
        raise CliError(f"{catalog}: no {'source ' if kinds is not None else ''}tables found"
                       + (f" in schemas {', '.join(schemas)}" if schemas else ""))
    covered = tuple(dict.fromkeys(t.schema for t in tables))
    return Scan(tuple(tables), covered, f"dbt catalog {catalog}", tuple(skipped))


def _catalog_table(catalog: Path, unique_id: str, entry: Any) -> ScannedTable:
    metadata = entry.get("metadata") if isinstance(entry, dict) else None
    if not isinstance(metadata, dict) or not metadata.get("name") or not metadata.get("schema"):
        raise CliError(f"{catalog}: entry {unique_id!r} has no metadata.schema and metadata.name")
    raw = entry.get("columns") or {}
    listed = list(raw.values()) if isinstance(raw, dict) else list(raw)  # an object by name; a list in some tools
    columns = []
    for column in sorted(listed, key=lambda c: (c.get("index") is None, c.get("index") or 0)):
        if not isinstance(column, dict) or not column.get("name") or not column.get("type"):
            raise CliError(f"{catalog}: a column of {unique_id!r} has no name or type")
        columns.append(_column(str(column["name"]), str(column["type"]), f"dbt catalog {unique_id}"))
    if not columns:
        raise CliError(f"{catalog}: entry {unique_id!r} has no columns")
    return ScannedTable(folded(str(metadata["schema"])), folded(str(metadata["name"])), tuple(columns))


def _manifest_kinds(manifest: Path) -> dict[str, str]:
    """unique_id -> resource_type (source, model, seed, snapshot ...) from a dbt manifest."""
    data = _json_object(manifest, "dbt manifest", ("nodes", "sources"))
    out: dict[str, str] = {}
    for section in ("nodes", "sources"):
        for unique_id, node in (data.get(section) or {}).items():
            if isinstance(node, dict):
                out[unique_id] = str(node.get("resource_type") or ("source" if section == "sources" else "model"))
    return out


def _json_object(path: Path, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{path} is not a {what} (not JSON: {exc})") from None
    if not isinstance(data, dict) or not any(k in data for k in keys):
        raise CliError(f"{path} is not a {what}: it has no {' or '.join(repr(k) for k in keys)} object")
    return data


# --- databases ------------------------------------------------------------------------------------


def database_kind(dsn: str) -> str:
    """``duckdb`` for a DuckDB file (``*.duckdb``, ``*.db``, ``duckdb:///path``), ``postgres`` for a postgresql:// DSN."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return "postgres"
    if dsn.startswith("duckdb://") or dsn.endswith((".duckdb", ".db")):
        return "duckdb"
    raise CliError(f"--from-db {dsn!r}: not a DuckDB file (.duckdb, .db, duckdb:///path) or a postgresql:// DSN")


def read_database(dsn: str, schemas: tuple[str, ...]) -> Scan:
    """The tables and views of ``schemas`` (default: DuckDB ``main``, Postgres ``public``) from
    information_schema, with NOT NULL and primary keys; a DuckDB or Postgres enum's labels become accepted values."""
    kind = database_kind(dsn)
    chosen = schemas or DEFAULT_SCHEMAS[kind]
    if kind == "duckdb":
        rows, keys = _duckdb_columns(dsn, chosen)
        label = short = f"DuckDB {_duckdb_path(dsn)}"
    else:
        rows, keys = _postgres_columns(dsn, chosen)
        label, short = f"PostgreSQL {_redacted(dsn)}", f"PostgreSQL database {_postgres_database(dsn)}"
    grouped: dict[tuple[str, str], list[ScannedColumn]] = {}
    for schema, table, name, source_type, nullable in rows:
        column = _column(name, source_type, f"{short} {schema}.{table}", nullable)
        if (schema, table, name) in keys:
            column = replace(column, primary_key=True)
        grouped.setdefault((schema, table), []).append(column)
    if not grouped:
        raise CliError(f"{label}: no tables in schema {', '.join(chosen)} (choose others with --schema)")
    tables = tuple(ScannedTable(folded(s), folded(t), tuple(c)) for (s, t), c in grouped.items())
    return Scan(tables, tuple(folded(s) for s in chosen), label)


ColumnRow = tuple[str, str, str, str, bool]  # schema, table, column, type, nullable
_COLUMNS_SQL = """
    SELECT table_schema, table_name, column_name, {type}, is_nullable = 'YES'
    FROM information_schema.columns
    WHERE {schema_filter}
    ORDER BY table_schema, table_name, ordinal_position
"""
_KEYS_SQL = """
    SELECT k.table_schema, k.table_name, k.column_name
    FROM information_schema.table_constraints AS c
    JOIN information_schema.key_column_usage AS k
      ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema AND k.table_name = c.table_name
    WHERE c.constraint_type = 'PRIMARY KEY' AND {schema_filter}
"""
# Postgres names an enum column's type USER-DEFINED; its labels live in pg_enum.
_ENUMS_SQL = """
    SELECT n.nspname, t.typname, e.enumlabel
    FROM pg_enum AS e JOIN pg_type AS t ON t.oid = e.enumtypid JOIN pg_namespace AS n ON n.oid = t.typnamespace
    ORDER BY n.nspname, t.typname, e.enumsortorder
"""


def _duckdb_path(dsn: str) -> str:
    """SQLAlchemy style: ``duckdb:///relative.duckdb``, ``duckdb:////absolute.duckdb``."""
    return dsn.removeprefix("duckdb:///") if dsn.startswith("duckdb:///") else dsn.removeprefix("duckdb://")


def _duckdb_columns(dsn: str, schemas: tuple[str, ...]) -> tuple[list[ColumnRow], set[tuple[str, str, str]]]:
    import duckdb

    path = _duckdb_path(dsn)
    if not Path(path).is_file():
        raise CliError(f"--from-db: DuckDB file {path} does not exist")
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.Error as exc:
        raise CliError(f"cannot open DuckDB file {path}: {exc}") from None
    try:
        columns = _COLUMNS_SQL.format(type="data_type", schema_filter="list_contains($schemas, table_schema)")
        keys = _KEYS_SQL.format(schema_filter="list_contains($schemas, c.table_schema)")
        rows = [tuple(row) for row in con.execute(columns, {"schemas": list(schemas)}).fetchall()]
        return rows, {tuple(row) for row in con.execute(keys, {"schemas": list(schemas)}).fetchall()}  # type: ignore[misc]
    except duckdb.Error as exc:
        raise CliError(f"cannot read information_schema from DuckDB file {path}: {exc}") from None
    finally:
        con.close()


def _postgres_columns(dsn: str, schemas: tuple[str, ...]) -> tuple[list[ColumnRow], set[tuple[str, str, str]]]:
    import psycopg

    columns = _COLUMNS_SQL.format(type="data_type, udt_schema, udt_name, numeric_precision, numeric_scale",
                                  schema_filter="table_schema = ANY(%(schemas)s)")
    keys = _KEYS_SQL.format(schema_filter="c.table_schema = ANY(%(schemas)s)")
    try:
        with psycopg.connect(dsn, connect_timeout=10) as con:
            con.read_only = True
            rows = con.execute(columns, {"schemas": list(schemas)}).fetchall()
            key_rows = {tuple(row) for row in con.execute(keys, {"schemas": list(schemas)}).fetchall()}
            enums: dict[tuple[str, str], list[str]] = {}
            for schema, name, label in con.execute(_ENUMS_SQL).fetchall():
                enums.setdefault((schema, name), []).append(label)
            con.rollback()
    except psycopg.Error as exc:
        raise CliError(f"cannot read information_schema from PostgreSQL {_redacted(dsn)}: {str(exc).strip()}") from None

    def full_type(data_type: str, udt_schema: str, udt_name: str, precision: int | None, scale: int | None) -> str:
        labels = enums.get((udt_schema, udt_name)) if data_type == "USER-DEFINED" else None
        if labels:
            return "ENUM(" + ", ".join("'" + label.replace("'", "''") + "'" for label in labels) + ")"
        return postgres_type(data_type, udt_name, precision, scale)

    return [(s, t, c, full_type(*types), nullable) for s, t, c, *types, nullable in rows], key_rows  # type: ignore[misc]


def _postgres_database(dsn: str) -> str:
    import psycopg

    try:
        return psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "postgres"
    except psycopg.ProgrammingError:
        return "postgres"


def _redacted(dsn: str) -> str:
    """The DSN without its password (in the user part or the query), for messages and files."""
    import re
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1) if parts.password else parts.netloc
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
