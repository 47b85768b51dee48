"""Seed CSVs (SPEC section 4): read as rows of text, and checked against the columns they fill.

A seed is written for a connector's first version. Every header must name a column of its table,
and every value must cast to the column's declared type, in the first version and through each
later ``change_type``: otherwise the fixture database would fail to build with a DuckDB traceback,
or (a misspelled header) leave a column NULL without a word. Problems are ConfigErrors naming the
seed file, line and column, raised when the connector loads, so ``pack.yml::load`` reports them.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, SourceSpan, first_line
from .yaml import closest, read_text

if TYPE_CHECKING:
    from ..model import Connector, TableSpec

MAX_PROBLEMS = 8  # one error, with up to seven more as details


@dataclass(frozen=True)
class SeedRow:
    line: int  # 1-based line the row starts on
    text: str  # that line, to point at a field
    values: dict[str, str | None]  # empty fields are NULL


@dataclass(frozen=True)
class SeedFile:
    header: list[str]
    header_text: str  # the header line as written, to point at a name
    rows: list[SeedRow]


def read_seed(path: Path) -> list[dict[str, Any]]:
    """A seed CSV as rows of strings; empty fields are NULL."""
    return [row.values for row in seed_table(path).rows]


def seed_table(path: Path) -> SeedFile:
    """The header and rows of a seed CSV; a non-UTF-8 byte, a duplicate header or a row with more
    fields than the header is a located ConfigError."""
    text = read_text(path)
    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in seen:
            raise ConfigError(f"column {name!r} appears twice in the header", SourceSpan(path, 1, field_column(lines[0], index)))
        seen[name] = index
    rows: list[SeedRow] = []
    start = reader.line_num + 1
    for fields in reader:
        line_text = lines[start - 1] if start - 1 < len(lines) else ""
        if fields and len(fields) > len(header):
            raise ConfigError(
                f"row has {len(fields)} fields, the header {len(header)}",
                SourceSpan(path, start, field_column(line_text, len(header))),
            )
        if fields:
            rows.append(SeedRow(start, line_text, {name: (v if v != "" else None) for name, v in zip(header, fields)}))
        start = reader.line_num + 1
    return SeedFile(header, lines[0] if lines else "", rows)


def field_column(line: str, index: int) -> int:
    """1-based column where field ``index`` of a CSV line starts."""
    position, field = 0, 0
    while field < index and position < len(line):
        if line[position] == '"':
            position += 1
            while position < len(line) and not (line[position] == '"' and line[position + 1 : position + 2] != '"'):
                position += 2 if line[position] == '"' else 1
            position += 1
        while position < len(line) and line[position] != ",":
            position += 1
        position += 1
        field += 1
    return min(position, len(line)) + 1


@functools.lru_cache(maxsize=256)
def type_error(type_name: str) -> str | None:
    """Why DuckDB does not know ``type_name`` as a type (parsed as a type, never pasted into SQL); None when it does."""
    import duckdb

    try:
        duckdb.sqltype(type_name)
    except (duckdb.Error, RuntimeError, ValueError) as exc:
        return first_line(exc)
    return None


def check_seeds(connector: Connector) -> None:
    """Every seed names a table of the first version, its header names that table's columns, and
    its values cast to their types, then and after each later ``change_type``."""
    first = connector.versions[0]
    problems: list[ConfigError] = []
    tables = {table.key: table for table in first.tables.values()}
    parsed: dict[str, SeedFile] = {}
    for key, path in connector.seeds.items():
        if key not in tables:
            hint = closest(key, tables)
            suggestion = f" (did you mean {hint}.csv?)" if hint else f"; tables: {', '.join(sorted(tables))}"
            problems.append(ConfigError(f"version {first.name} has no table {key!r} for this seed{suggestion}", SourceSpan(path, 1, 1)))
            continue
        try:
            seed = seed_table(path)
        except ConfigError as exc:
            problems.append(exc)
            continue
        problems.extend(_header_problems(path, seed, tables[key]))
        parsed[key] = seed
    if not problems:
        import duckdb

        con = duckdb.connect(":memory:", config={"enable_external_access": False})  # one for every cast check: a connect costs 20 ms
        try:
            for key, seed in parsed.items():
                problems.extend(_value_problems(connector.seeds[key], tables[key], seed.header, seed.rows, con))
            if not problems:
                problems.extend(_retype_problems(connector, con))
        finally:
            con.close()
    if problems:
        first_problem = problems[0]
        details = tuple(f"{p.span.location() if p.span else ''}: {p.message}" for p in problems[1:MAX_PROBLEMS])
        raise ConfigError(first_problem.message, first_problem.span, details=details)


def _header_problems(path: Path, seed: SeedFile, table: TableSpec) -> list[ConfigError]:
    names = [c.name for c in table.columns]
    lowered = {n.lower() for n in names}
    out = []
    for index, name in enumerate(seed.header):
        if name.lower() in lowered:
            continue
        hint = closest(name, names)
        suggestion = f" (did you mean {hint!r}?)" if hint else f"; columns: {', '.join(names)}"
        out.append(ConfigError(
            f"{name!r} is not a column of {table.key}; its values would be dropped{suggestion}",
            SourceSpan(path, 1, field_column(seed.header_text, index)),
        ))
    return out


def _value_problems(path: Path, table: TableSpec, header: list[str], rows: list[SeedRow], con: Any) -> list[ConfigError]:
    """The first value of each column that does not cast to the column's type."""
    out = []
    for column, index in first_uncastable(table, [row.values for row in rows], con):
        row, name = rows[index], _header_name(header, column.name)
        out.append(ConfigError(
            f"{row.values[name]!r} in column {column.name} is not a {column.type}",
            SourceSpan(path, row.line, field_column(row.text, header.index(name))),
        ))
    return out


def _retype_problems(connector: Connector, con: Any) -> list[ConfigError]:
    """Seed values a later ``change_type`` cannot cast: located at that change."""
    from ..engines.duckdb import seed_rows

    out: list[ConfigError] = []
    checked: set[tuple[str, str]] = set()
    for version in connector.versions[1:]:
        for change in version.lineage:
            if change.kind != "change_type" or change.version != version.name or (change.version, str(change.span)) in checked:
                continue
            checked.add((change.version, str(change.span)))
            table = next((t for t in version.tables.values() if t.key.lower() == str(change.params["table"]).lower()), None)
            column = table.column(str(change.params["column"])) if table is not None else None
            if table is None or column is None or column.type != str(change.params["to"]):
                continue  # renamed or retyped again later in this version: the later change is checked instead
            rows = seed_rows(connector, version).get(table.key, [])
            single = type(table)(table.key, table.schema, table.name, (column,))
            for _, index in first_uncastable(single, rows, con):
                out.append(ConfigError(
                    f"change_type {table.key}.{column.name} to {column.type}: the seed value {rows[index].get(column.name)!r} "
                    f"(row {index + 1} of {table.key}.csv) does not cast to {column.type}",
                    change.span,
                ))
    return out


def _header_name(header: list[str], column: str) -> str:
    return next(h for h in header if h.lower() == column.lower())


def first_uncastable(table: TableSpec, rows: list[dict[str, Any]], con: Any = None) -> list[tuple[Any, int]]:
    """(column, index of the first row whose value does not cast) per column, by DuckDB's own casts
    (on ``con``, a DuckDB connection, else on a connection of its own)."""
    import duckdb

    from ..engines.duckdb import varchar_literal

    columns = [c for c in table.columns if any(_value(row, c.name) is not None for row in rows)]
    if not columns:
        return []
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    # Types were parsed by DuckDB when the connector loaded (never SQL text): pasting the parsed form is safe.
    checks = ", ".join(
        f"MIN(n) FILTER (WHERE c{i} IS NOT NULL AND TRY_CAST(c{i} AS {duckdb.sqltype(c.type)}) IS NULL)" for i, c in enumerate(columns)
    )
    values = ",\n".join(
        f"({index}, " + ", ".join(varchar_literal(_value(row, c.name)) for c in columns) + ")" for index, row in enumerate(rows)
    )
    own = con is None
    if own:
        con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        firsts = con.execute(f"SELECT {checks} FROM (VALUES {values}) AS v(n, {aliases})").fetchone() or ()
    finally:
        if own:
            con.close()
    return [(column, first) for column, first in zip(columns, firsts) if first is not None]


def _value(row: dict[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    return next((v for k, v in row.items() if isinstance(k, str) and k.lower() == name.lower()), None)
