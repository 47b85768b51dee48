"""SQL that fills a large table by the same rules as the deterministic rows, without Python rows."""

from __future__ import annotations

from ..engines.duckdb import quote
from ..model import ColumnSpec, TableSpec
from ..sql.literals import sql_literal
from .kinds import ColumnKind, column_kind, decimal_ceiling

SECONDS_IN_2024 = 366 * 86400


# --- large tables in SQL -------------------------------------------------------------


def _large_expression(table: TableSpec, column: ColumnSpec, rows: int) -> str:
    kind = column_kind(column.type)
    lowered = column.name.lower()
    role = column.effective_role
    digest = f"hash(i, {sql_literal(column.name)})"
    pick = f"({digest} % {{n}})::BIGINT"
    if column.references and column.primary_key:
        expression = _reference_expression(column, kind, "i", rows)
    elif column.references and _is_self_reference(table, column.references):
        # An earlier row only, so hierarchies walked by recursive CTEs end.
        root = "NULL" if column.nullable else "0"
        expression = _reference_expression(column, kind, f"CASE WHEN i = 0 THEN {root} ELSE ({digest} % i)::BIGINT END", rows)
    elif column.references:
        expression = _reference_expression(column, kind, pick.format(n=max(rows, 1)), rows)
    elif role == "deleted":
        return f"{pick.format(n=8)} = 0"
    elif role == "active":
        return f"{pick.format(n=4)} <> 0"
    elif column.values:
        listed = ", ".join(sql_literal(v) for v in column.values)
        offset = "i" if column.primary_key else pick.format(n=len(column.values))
        expression = f"([{listed}])[1 + ({offset}) % {len(column.values)}]"
    elif column.primary_key:
        expression = _key_expression(table.name, kind, "i", rows)
    else:
        units = pick.format(n=decimal_ceiling(kind) + 1) if kind.kind == "decimal" else pick.format(n=100_000)
        expression = {
            "int": f"CASE WHEN {pick.format(n=5)} = 0 THEN 0 ELSE {pick.format(n=kind.int_limit)} END",
            "decimal": f"CASE WHEN {pick.format(n=5)} = 0 THEN 0 ELSE {units} / {10**kind.scale} END",
            "float": f"CASE WHEN {pick.format(n=5)} = 0 THEN 0 ELSE {units} / 100.0 END",
            "bool": f"{pick.format(n=2)} = 0",
            "timestamp": f"TIMESTAMP '2024-01-01 00:00:00' + to_seconds({pick.format(n=SECONDS_IN_2024)})",
            "timestamptz": f"TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds({pick.format(n=SECONDS_IN_2024)})",
            "date": f"DATE '2024-01-01' + {pick.format(n=366)}::INTEGER",
            "time": f"TIME '00:00:00' + to_seconds({pick.format(n=86400)})",
            "uuid": f"md5(i::VARCHAR || {sql_literal(column.name)})::UUID",
            "json": f"to_json({{'n': {pick.format(n=1000)}}})",
            "interval": f"to_seconds({pick.format(n=86400)})",
        }.get(kind.kind, f"{sql_literal(column.name + '_')} || {pick.format(n=1000)}")
        if lowered == "id" and kind.kind == "str":
            expression = f"{sql_literal(table.name + '_')} || (i + 1)"
    if column.nullable and not column.primary_key:
        expression = f"CASE WHEN (hash(i, {sql_literal(column.name + ':null')}) % 6)::BIGINT = 0 THEN NULL ELSE {expression} END"
    return expression


def _is_self_reference(table: TableSpec, reference: str) -> bool:
    table_part = reference.rpartition(".")[0].lower()
    return table_part in (table.key.lower(), f"{table.schema}.{table.name}".lower())


def _key_expression(table_name: str, kind: ColumnKind, row_number: str, rows: int) -> str:
    """The key of row ``row_number`` of a table: a child computes its parent's key with the same formula."""
    spread = f"(({row_number}) * {SECONDS_IN_2024 - 1} // {max(rows, 1)})::BIGINT"
    return {
        "int": f"({row_number}) + 1",
        "decimal": f"({row_number}) + 1",
        "float": f"({row_number}) + 1",
        "bool": f"({row_number}) % 2 = 0",
        "timestamp": f"TIMESTAMP '2024-01-01 00:00:00' + to_seconds({spread})",
        "timestamptz": f"TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds({spread})",
        "date": f"DATE '2024-01-01' + ({row_number})::INTEGER",
        "time": f"TIME '00:00:00' + to_seconds(({row_number}) % 86400)",
        "uuid": f"md5(({row_number})::VARCHAR)::UUID",
        "json": f"to_json({{'id': ({row_number}) + 1}})",
        "interval": f"to_seconds(({row_number}) + 1)",
    }.get(kind.kind, f"{sql_literal(table_name + '_')} || (({row_number}) + 1)")


def _reference_expression(column: ColumnSpec, kind: ColumnKind, row_number: str, rows: int) -> str:
    """The parent's key for parent row ``row_number``."""
    assert column.references is not None
    parent_name = column.references.rpartition(".")[0].rpartition(".")[2]
    return _key_expression(parent_name, kind, row_number, rows)


def large_rows_sql(table: TableSpec, rows: int) -> str:
    """A DuckDB SELECT of ``rows`` rows for ``table`` computed from ``range(rows)``.

    Keys are the row number, references a hash modulo into the parent's row numbers
    (parents filled with the same ``rows`` join), about 1 in 6 values of nullable
    columns NULL, timestamps spread over 2024.
    """
    selected = ",\n  ".join(
        f"CAST({_large_expression(table, c, rows)} AS {c.type}) AS {quote(c.name)}" for c in table.columns
    )
    return f"SELECT\n  {selected}\nFROM range({int(rows)}) AS numbers(i)"


