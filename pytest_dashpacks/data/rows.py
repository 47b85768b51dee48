"""Deterministic connector rows: types, nullability, accepted values, unique keys and references.

Rows are dicts keyed by column name holding Python values; timestamps are naive
datetimes in the column's stored zone (``ColumnSpec.timezone`` or UTC).
"""

from __future__ import annotations

import datetime
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..model import ColumnSpec, ConnectorVersion, TableSpec
from .calendar import as_naive_utc, boundary_instants, stored_value
from .kinds import ColumnKind, column_kind, decimal_ceiling

Row = dict[str, Any]  # column name -> value
Rows = dict[str, list[Row]]  # table key -> rows

MAX_CHILDREN = 3
NULL_SHARE = 1 / 6
# --- references -------------------------------------------------------------------


def referenced_table(version: ConnectorVersion, child: TableSpec, reference: str) -> TableSpec | None:
    """The table ``references: table.column`` points at: qualified keys by schema, bare keys in the connector schema."""
    table_part = reference.rpartition(".")[0].lower()
    if "." in table_part:
        return version.tables.get(table_part)
    bare = [t for t in version.tables.values() if "." not in t.key and t.key.lower() == table_part]
    if bare:
        return bare[0]
    return version.tables.get(f"{child.schema}.{table_part}".lower())


def referenced_column(reference: str) -> str:
    return reference.rpartition(".")[2]


def generation_order(version: ConnectorVersion, keys: Sequence[str] | None = None) -> list[TableSpec]:
    """Tables with parents before children; a cycle is broken at the first table in file order."""
    tables = [t for t in version.tables.values() if keys is None or t.key in keys]
    chosen = {id(t) for t in tables}
    parents: dict[int, set[int]] = {}
    for table in tables:
        found = set()
        for column in table.columns:
            if column.references:
                parent = referenced_table(version, table, column.references)
                if parent is not None and parent is not table and id(parent) in chosen:
                    found.add(id(parent))
        parents[id(table)] = found
    ordered: list[TableSpec] = []
    done: set[int] = set()
    while len(ordered) < len(tables):
        remaining = [t for t in tables if id(t) not in done]
        ready = next((t for t in remaining if parents[id(t)] <= done), remaining[0])
        ordered.append(ready)
        done.add(id(ready))
    return ordered


def allocate_children(parents: Sequence[Any], slots: int, rng: random.Random, cap: int = MAX_CHILDREN) -> list[Any]:
    """``slots`` parent values, none used more than ``cap`` times; one parent left childless and one given
    two children when there is room. Slots beyond the capacity are None."""
    counts = dict.fromkeys(range(len(parents)), 0)
    open_parents = list(range(len(parents)))
    if len(parents) >= 2 and (len(parents) - 1) * cap >= slots:
        open_parents.remove(rng.choice(open_parents))  # a parent without children
    picks: list[int] = []
    if slots >= 2 and cap >= 2 and open_parents:
        several = rng.choice(open_parents)
        counts[several] = 2
        picks += [several, several]
    while len(picks) < slots:
        free = [p for p in open_parents if counts[p] < cap]
        if not free:
            break
        chosen = rng.choice(free)
        counts[chosen] += 1
        picks.append(chosen)
    rng.shuffle(picks)
    return [parents[p] for p in picks] + [None] * (slots - len(picks))



def _primary_value(table: TableSpec, column: ColumnSpec, kind: ColumnKind, index: int, instants: Sequence[datetime.datetime]) -> Any:
    """A key value that differs for every row index."""
    if column.values:
        return column.values[index % len(column.values)]
    if kind.kind == "int":
        return index + 1
    if kind.kind == "decimal":
        return Decimal(index + 1)
    if kind.kind == "float":
        return float(index + 1)
    if kind.kind == "bool":
        return index % 2 == 0
    if kind.kind == "date":
        return datetime.date(2024, 1, 1) + datetime.timedelta(days=index)
    if kind.kind == "time":
        return (datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=index)).time()
    if kind.kind in ("timestamp", "timestamptz"):
        # Past the end of the cycle a microsecond keeps the key unique.
        base = stored_value(instants[index % len(instants)], column)
        return base + datetime.timedelta(microseconds=index // len(instants))
    if kind.kind == "uuid":
        return str(uuid.UUID(int=index + 1))
    if kind.kind == "json":
        return json.dumps({"id": index + 1})
    if kind.kind == "interval":
        return datetime.timedelta(seconds=index + 1)
    return f"{table.name}_{index + 1}"


def _plain_value(table: TableSpec, column: ColumnSpec, kind: ColumnKind, index: int, rng: random.Random, instants: Sequence[datetime.datetime]) -> Any:
    """A value of the column's type for a column that is neither a key, a reference nor a role flag."""
    if column.values:
        return rng.choice(column.values)
    zero = rng.random() < 0.2
    if kind.kind == "int":
        return 0 if zero else rng.randint(1, kind.int_limit)
    if kind.kind == "decimal":
        units = 0 if zero else rng.randint(1, decimal_ceiling(kind))
        return Decimal(units).scaleb(-kind.scale)
    if kind.kind == "float":
        return 0.0 if zero else round(rng.uniform(0, 1000), 2)
    if kind.kind == "bool":
        return rng.random() < 0.5
    if kind.kind in ("timestamp", "timestamptz", "date", "time"):
        value = stored_value(instants[index % len(instants)], column)
        if kind.kind == "date":
            return value.date()
        if kind.kind == "time":
            return value.time()
        return value
    if kind.kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if kind.kind == "json":
        return json.dumps({column.name: rng.randint(0, 100)})
    if kind.kind == "interval":
        return datetime.timedelta(seconds=rng.randint(0, 86400))
    if column.name.lower() == "id":  # history tables carry the id of the live table without declaring a key
        return f"{table.name}_{index + 1}"
    return f"{column.name}_{rng.randint(1, 999)}"


def _random_reference(table: TableSpec, column: ColumnSpec, kind: ColumnKind, rng: random.Random, instants: Sequence[datetime.datetime]) -> Any:
    """A stand-in for a reference whose parent is missing or not generated yet (cycles)."""
    if kind.kind == "str" and not column.values:
        table_part = column.references.rpartition(".")[0] if column.references else column.name
        return f"{table_part.rpartition('.')[2]}_{rng.randint(1, 999)}"
    return _plain_value(table, column, kind, rng.randrange(len(instants)), rng, instants)


def _flag_rows(count: int, share: float, rng: random.Random) -> set[int]:
    """About ``share`` of the row indices (at least one when there are two rows or more)."""
    if count < 2:
        return set()
    return set(rng.sample(range(count), max(1, round(count * share))))


def _deleted_rows(table: TableSpec, first: set[int], count: int, rng: random.Random) -> dict[str, set[int]]:
    """Row indices each ``role: deleted`` column marks; a second flag marks other rows than the first,
    so a query that filters only one of them miscounts."""
    out: dict[str, set[int]] = {}
    for index, column in enumerate(table.role_columns("deleted")):
        if index == 0:
            out[column.name] = first
            continue
        free = [i for i in range(count) if not any(i in rows for rows in out.values())]
        out[column.name] = set(rng.sample(free, min(len(free), max(1, round(count / 8))))) if count >= 2 else set()
    return out


def _table_rows(
    version: ConnectorVersion,
    table: TableSpec,
    count: int,
    rng: random.Random,
    instants: Sequence[datetime.datetime],
    generated: dict[str, list[Row]],
) -> list[Row]:
    kinds = {c.name: column_kind(c.type) for c in table.columns}
    keys = [c for c in table.columns if c.primary_key]
    deleted = _flag_rows(count, 1 / 8, rng)
    inactive = _flag_rows(count, 1 / 4, rng)
    deleted_by = _deleted_rows(table, deleted, count, rng)
    columns: dict[str, list[Any]] = {}
    later: list[ColumnSpec] = []  # references resolved after the plain columns
    for column in table.columns:
        kind = kinds[column.name]
        if column.references:
            later.append(column)
        elif column.effective_role == "deleted":
            columns[column.name] = [i in deleted_by[column.name] for i in range(count)]
        elif column.effective_role == "active":
            columns[column.name] = [i not in inactive for i in range(count)]
        elif column.primary_key:
            columns[column.name] = [_primary_value(table, column, kind, i, instants) for i in range(count)]
        else:
            columns[column.name] = [
                None if column.nullable and rng.random() < NULL_SHARE else _plain_value(table, column, kind, i, rng, instants)
                for i in range(count)
            ]
    has_active = bool(table.role_columns("active"))
    id_column = table.column("id")
    if has_active and not keys and id_column is not None and not id_column.references and id_column.name in columns:
        # A history table without a key: an inactive row is an earlier version of a live row.
        live = [columns[id_column.name][i] for i in range(count) if i not in inactive and columns[id_column.name][i] is not None]
        for i in sorted(inactive):
            if live:
                columns[id_column.name][i] = rng.choice(live)
    only_references = bool(keys) and all(c.references for c in keys)
    attempts = 20 if only_references and len(keys) > 1 else 1
    best: tuple[int, dict[str, list[Any]], set[int]] | None = None
    for _ in range(attempts):
        trial: dict[str, list[Any]] = {}
        trial_dropped: set[int] = set()
        for column in later:
            draw = _ReferenceDraw(table, column, kinds[column.name], count, rng, instants)
            trial[column.name] = _reference_values(version, draw, generated, columns, trial_dropped, single_key=keys == [column])
        duplicates = _duplicate_keys(keys, {**columns, **trial}, count, trial_dropped)
        if best is None or len(duplicates) < best[0]:
            best = (len(duplicates), trial, trial_dropped)
        if not duplicates:
            break
    assert best is not None
    _, chosen, dropped = best
    columns.update(chosen)
    dropped |= _duplicate_keys(keys, columns, count, dropped)
    _drop_dangling_self_references(version, table, columns, count, dropped)
    return [{c.name: columns[c.name][i] for c in table.columns} for i in range(count) if i not in dropped]


def _drop_dangling_self_references(version: ConnectorVersion, table: TableSpec, columns: dict[str, list[Any]], count: int, dropped: set[int]) -> None:
    """A row left out must not stay the parent of a kept row of the same table."""
    own = [c for c in table.columns if c.references and referenced_table(version, table, c.references) is table]
    changed = bool(own)
    while changed:
        changed = False
        for column in own:
            assert column.references is not None
            target = table.column(referenced_column(column.references))
            if target is None or target.name not in columns:
                continue
            kept = {columns[target.name][i] for i in range(count) if i not in dropped}
            for i in range(count):
                value = columns[column.name][i]
                if i in dropped or value is None or value in kept:
                    continue
                if column.nullable and not column.primary_key:
                    columns[column.name][i] = None
                else:
                    dropped.add(i)
                    changed = True


def _duplicate_keys(keys: list[ColumnSpec], columns: dict[str, list[Any]], count: int, dropped: set[int]) -> set[int]:
    """Row indices whose key repeats an earlier kept row's key."""
    if not keys:
        return set()
    seen: set[tuple[Any, ...]] = set()
    repeated = set()
    for i in range(count):
        if i in dropped:
            continue
        key = tuple(columns[c.name][i] for c in keys)
        if key in seen:
            repeated.add(i)
        seen.add(key)
    return repeated


@dataclass(frozen=True)
class _ReferenceDraw:
    """One reference column of one table being filled: ``count`` values drawn with ``rng``."""

    table: TableSpec
    column: ColumnSpec
    kind: ColumnKind
    count: int
    rng: random.Random
    instants: Sequence[datetime.datetime]

    def unattached(self, nulls: set[int]) -> list[Any]:
        """Values that point at no generated parent (NULL at ``nulls``)."""
        return [
            None if i in nulls else _random_reference(self.table, self.column, self.kind, self.rng, self.instants)
            for i in range(self.count)
        ]


def _reference_values(
    version: ConnectorVersion,
    draw: _ReferenceDraw,
    generated: dict[str, list[Row]],
    columns: dict[str, list[Any]],
    dropped: set[int],
    single_key: bool,
) -> list[Any]:
    """Values for a reference column; rows that need a parent and find none are added to ``dropped``."""
    table, column, count, rng = draw.table, draw.column, draw.count, draw.rng
    assert column.references is not None
    parent = referenced_table(version, table, column.references)
    parent_name = referenced_column(column.references)
    nullable = column.nullable and not column.primary_key
    nulls = {i for i in range(count) if nullable and rng.random() < NULL_SHARE}
    if parent is table:
        return _self_reference_values(draw, columns, nulls, nullable)
    parent_column = parent.column(parent_name) if parent is not None else None
    if parent is None or parent_column is None or parent.key not in generated:
        values = draw.unattached(nulls)
        if column.primary_key:
            values = [f"{v}_{i}" if isinstance(v, str) else v for i, v in enumerate(values)]
        return values
    seen: dict[Any, None] = {}
    for row in generated[parent.key]:
        value = row.get(parent_column.name)
        if value is not None:
            seen.setdefault(value, None)
    slots = [i for i in range(count) if i not in nulls]
    picks = allocate_children(list(seen), len(slots), rng, cap=1 if single_key else MAX_CHILDREN)
    values: list[Any] = [None] * count
    for slot, pick in zip(slots, picks):
        values[slot] = pick
        if pick is None and not nullable:
            dropped.add(slot)
    return values


def _self_reference_values(draw: _ReferenceDraw, columns: dict[str, list[Any]], nulls: set[int], nullable: bool) -> list[Any]:
    """A reference into the same table points at an earlier row only, so hierarchies have no loops."""
    column, count, rng = draw.column, draw.count, draw.rng
    assert column.references is not None
    own = draw.table.column(referenced_column(column.references))
    if own is None or own.name not in columns:
        return draw.unattached(nulls)
    targets = columns[own.name]
    used: dict[int, int] = {}
    values: list[Any] = []
    for i in range(count):
        earlier = [j for j in range(i) if targets[j] is not None and used.get(j, 0) < MAX_CHILDREN]
        if i in nulls or (not earlier and nullable):
            values.append(None)
        elif not earlier:
            values.append(targets[i])  # the first row of a required hierarchy is its own root
        else:
            j = rng.choice(earlier)
            used[j] = used.get(j, 0) + 1
            values.append(targets[j])
    return values


def generate_rows(
    version: ConnectorVersion,
    zone: str,
    *,
    rows_per_table: int = 8,
    seed: int = 0,
    instants: Sequence[datetime.datetime] | None = None,
) -> dict[str, list[Row]]:
    """Deterministic rows for every table of ``version`` keyed by ``TableSpec.key``.

    Keys are unique, references take parent values (0 to 3 children per parent),
    timestamps cycle through ``instants`` (default: 2024 boundaries of ``zone``),
    about 1 in 8 rows is soft-deleted and 1 in 4 history rows inactive.
    """
    rng = random.Random(seed)
    moments = [as_naive_utc(i) for i in (instants if instants is not None else boundary_instants(zone, [2024]))]
    if not moments:
        moments = [datetime.datetime(2024, 1, 1)]
    generated: dict[str, list[Row]] = {}
    for table in generation_order(version):
        generated[table.key] = _table_rows(version, table, rows_per_table, rng, moments, generated)
    return {table.key: generated[table.key] for table in version.tables.values()}


