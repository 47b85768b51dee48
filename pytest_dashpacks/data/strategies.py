"""The Hypothesis strategy of connector datasets, by the same rules as the deterministic rows."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from ..model import ColumnSpec, ConnectorVersion, TableSpec
from .calendar import boundary_instants, stored_value
from .kinds import column_kind, decimal_ceiling
from .rows import MAX_CHILDREN, Row, generation_order, referenced_column, referenced_table


def dataset_strategy(version: ConnectorVersion, tables: Sequence[str], zone: str, *, max_rows: int = 6) -> Any:
    """A Hypothesis strategy of ``{table key: [row, ...]}`` for the table keys in ``tables``.

    Same rules as :func:`generate_rows`; references point into drawn parent rows when the
    parent is among ``tables``; timestamps mostly sit on ``zone``'s 2023-2024 boundaries.
    """
    from hypothesis import strategies as st

    wanted = list(tables)
    unknown = [key for key in wanted if key not in {t.key for t in version.tables.values()}]
    if unknown:
        known = ", ".join(t.key for t in version.tables.values())
        raise ValueError(f"{version.label} has no table {', '.join(unknown)} (tables: {known})")
    order = generation_order(version, wanted)
    position = {table.key: index for index, table in enumerate(order)}
    boundaries = boundary_instants(zone, [2023, 2024])
    instants = st.one_of(
        st.sampled_from(boundaries),
        st.sampled_from(boundaries),
        st.sampled_from(boundaries),
        st.datetimes(min_value=datetime.datetime(2023, 1, 1), max_value=datetime.datetime(2024, 12, 31, 23, 59, 59)),
    )

    def plain(table: TableSpec, column: ColumnSpec) -> Any:
        kind = column_kind(column.type)
        if column.values:
            return st.sampled_from(column.values)
        if column.effective_role is not None:
            return st.booleans()
        if kind.kind == "int":
            return st.integers(0, kind.int_limit)
        if kind.kind == "decimal":
            return st.integers(0, decimal_ceiling(kind)).map(lambda units: Decimal(units).scaleb(-kind.scale))
        if kind.kind == "float":
            return st.one_of(st.just(0.0), st.floats(0, 1000, allow_nan=False, allow_infinity=False))
        if kind.kind == "bool":
            return st.booleans()
        if kind.kind in ("timestamp", "timestamptz"):
            return instants.map(lambda moment: stored_value(moment, column))
        if kind.kind == "date":
            return instants.map(lambda moment: stored_value(moment, column).date())
        if kind.kind == "time":
            return instants.map(lambda moment: stored_value(moment, column).time())
        if kind.kind == "uuid":
            return st.uuids().map(str)
        if kind.kind == "json":
            return st.integers(0, 100).map(lambda n: json.dumps({column.name: n}))
        if kind.kind == "interval":
            return st.integers(0, 86400).map(lambda s: datetime.timedelta(seconds=s))
        return st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_ -'é", max_size=12)

    def key_part(table: TableSpec, column: ColumnSpec) -> Any:
        kind = column_kind(column.type)
        if kind.kind == "str" and not column.values:
            return st.integers(1, 10_000).map(lambda n: f"{table.name}_{n}")
        if kind.kind == "int" and not column.values:
            return st.integers(1, 10**6)
        return plain(table, column)

    def linked(table: TableSpec, column: ColumnSpec) -> bool:
        """Whether the column takes its values from rows drawn earlier (its own table's, or a parent's)."""
        parent = referenced_table(version, table, column.references) if column.references else None
        if parent is None or parent.key not in position:
            return False
        return parent is table or position[parent.key] < position[table.key]

    def fixed_columns(table: TableSpec) -> Any:
        """One strategy for the columns of a row that do not point at other rows."""
        fixed = {}
        for column in table.columns:
            if linked(table, column):
                continue
            nullable = column.nullable and not column.primary_key
            if column.primary_key:
                fixed[column.name] = key_part(table, column)
            elif nullable and column.effective_role is None:  # role flags are always true or false
                fixed[column.name] = st.one_of(plain(table, column), st.none())
            else:
                fixed[column.name] = plain(table, column)
        return st.fixed_dictionaries(fixed)

    row_strategies = {table.key: fixed_columns(table) for table in order}

    @st.composite
    def datasets(draw: Callable[[Any], Any]) -> dict[str, list[Row]]:
        drawn: dict[str, list[Row]] = {}
        for table in order:
            drawn[table.key] = draw_table(draw, table, drawn)
        return {key: drawn[key] for key in wanted}

    def draw_reference(draw: Callable[[Any], Any], free: list[Any], nullable: bool, fallback: Any) -> Any:
        if nullable and (not free or draw(st.integers(0, 5)) == 0):
            return None
        return free[draw(st.integers(0, len(free) - 1))] if free else fallback

    def draw_table(draw: Callable[[Any], Any], table: TableSpec, drawn: dict[str, list[Row]]) -> list[Row]:
        keys = [c for c in table.columns if c.primary_key]
        parents: dict[str, list[Any]] = {}  # reference column -> parent values drawn
        own: dict[str, str] = {}  # reference column -> the column of this table it points at
        for column in table.columns:
            if not column.references or not linked(table, column):
                continue
            parent = referenced_table(version, table, column.references)
            assert parent is not None
            target = parent.column(referenced_column(column.references))
            if target is None:
                parents[column.name] = []  # a column the parent lacks: nothing can match
            elif parent is table:
                own[column.name] = target.name
            else:
                values = {row[target.name]: None for row in drawn[parent.key] if row[target.name] is not None}
                parents[column.name] = list(values)
        used: dict[str, dict[Any, int]] = {name: {} for name in [*parents, *own]}
        seen_keys: set[tuple[Any, ...]] = set()
        rows: list[Row] = []
        for _ in range(draw(st.integers(0, max_rows))):
            values = draw(row_strategies[table.key])
            for column in table.columns:
                nullable = column.nullable and not column.primary_key
                if column.name in own:
                    # An earlier row of the same table (or the row itself for a required first one).
                    earlier = list({r[own[column.name]]: None for r in rows if r[own[column.name]] is not None})
                    free = [v for v in earlier if used[column.name].get(v, 0) < MAX_CHILDREN]
                    values[column.name] = draw_reference(draw, free, nullable, _OWN)
                elif column.name in parents:
                    free = [v for v in parents[column.name] if used[column.name].get(v, 0) < MAX_CHILDREN]
                    values[column.name] = draw_reference(draw, free, nullable, _MISSING)
            row = {column.name: values[column.name] for column in table.columns}
            for name, target in own.items():
                if row[name] is _OWN:
                    row[name] = row[target]
            key = tuple(row[c.name] for c in keys)
            if any(value is _MISSING for value in row.values()) or (keys and key in seen_keys):
                continue  # no parent left, or a repeated key: leave the row out
            seen_keys.add(key)
            for name in [*parents, *own]:
                if row[name] is not None:
                    used[name][row[name]] = used[name].get(row[name], 0) + 1
            rows.append(row)
        return rows

    return datasets()


_MISSING = object()
_OWN = object()
