"""Generated connector data: boundary instants, clock instants, rows for the oracle and the volume cases.

Rows are dicts keyed by column name holding Python values; timestamps are naive
datetimes in the column's stored zone (``ColumnSpec.timezone`` or UTC). The
same rules (types, nullability, accepted values, unique keys, references) drive
the deterministic rows, the SQL that fills large tables and the Hypothesis
strategy.
"""

from __future__ import annotations

import calendar
import datetime
import json
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .fixturedb import quote
from .model import BOOLEAN_TYPES, ColumnSpec, ConnectorVersion, TableSpec
from .rendering import sql_literal

Row = dict[str, Any]

UTC = datetime.timezone.utc
ONE_SECOND = datetime.timedelta(seconds=1)
ONE_DAY = datetime.timedelta(days=1)

CLOCK_INSTANTS: tuple[str, ...] = (
    "local_midnight",
    "utc_midnight",
    "dst_spring_forward",
    "dst_fall_back",
    "month_end",
    "year_end",
    "leap_day",
)

MAX_CHILDREN = 3
NULL_SHARE = 1 / 6
SECONDS_IN_2024 = 366 * 86400


# --- instants ---------------------------------------------------------------------


def offset_changes(zone: str, year: int) -> list[datetime.datetime]:
    """Aware UTC instants in ``year`` at which ``zone``'s UTC offset changes (the first second of the new offset)."""
    tz = ZoneInfo(zone)

    def offset(instant: datetime.datetime) -> datetime.timedelta | None:
        return instant.astimezone(tz).utcoffset()

    changes = []
    day = datetime.datetime(year, 1, 1, tzinfo=UTC)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + ONE_DAY
        if offset(day) != offset(following):
            low, high = day, following  # offset(low) is the old one, offset(high) the new one
            while high - low > ONE_SECOND:
                middle = low + (high - low) // 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            changes.append(high)
        day = following
    return changes


def local_day_start(day: datetime.date, zone: str) -> datetime.datetime:
    """The aware UTC instant at which ``day`` begins in ``zone`` (the switch itself when midnight is skipped)."""
    return datetime.datetime.combine(day, datetime.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _boundary_days(zone: str, year: int) -> set[datetime.date]:
    days: set[datetime.date] = set()
    for month in range(1, 13):
        first = datetime.date(year, month, 1)
        days.update((first - datetime.timedelta(days=1), first, first + datetime.timedelta(days=1)))
    new_year = datetime.date(year + 1, 1, 1)
    days.update((new_year - datetime.timedelta(days=1), new_year, new_year + datetime.timedelta(days=1)))
    if calendar.isleap(year):
        days.update((datetime.date(year, 2, 28), datetime.date(year, 2, 29), datetime.date(year, 3, 1)))
    tz = ZoneInfo(zone)
    for switch in offset_changes(zone, year):
        local_day = switch.astimezone(tz).date()
        days.update(local_day + datetime.timedelta(days=n) for n in range(3))
    return days


def boundary_instants(zone: str, years: Sequence[int]) -> list[datetime.datetime]:
    """Naive UTC instants one second either side of the reporting zone's calendar edges.

    Edges: local midnights around every month start (last and first day), Dec 31/Jan 1,
    Feb 28/29/Mar 1 of leap years, the day of and the day after each DST switch, plus
    the switches themselves. Sorted and unique.
    """
    edges: set[datetime.datetime] = set()
    for year in years:
        for day in _boundary_days(zone, year):
            start = local_day_start(day, zone)
            edges.update((start - ONE_SECOND, start + ONE_SECOND))
        for switch in offset_changes(zone, year):
            edges.update((switch - ONE_SECOND, switch + ONE_SECOND))
    return sorted(edge.replace(tzinfo=None) for edge in edges)


def _local(zone: str, year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _switch(zone: str, year: int, forward: bool) -> datetime.datetime | None:
    tz = ZoneInfo(zone)
    for switch in offset_changes(zone, year):
        before = (switch - ONE_SECOND).astimezone(tz).utcoffset()
        after = switch.astimezone(tz).utcoffset()
        if before is not None and after is not None and (after > before) == forward:
            return switch
    return None


def clock_instant(name: str, zone: str, year: int = 2024) -> datetime.datetime:
    """The aware UTC datetime of a SPEC clock instant (``CLOCK_INSTANTS``) computed in ``zone``.

    ``dst_*`` fall back to ``local_midnight`` in zones without DST; ``leap_day`` uses the
    first leap year from ``year`` on.
    """
    local_midnight = _local(zone, year, 1, 15, 0, 0, 30)
    if name == "local_midnight":
        return local_midnight
    if name == "utc_midnight":
        return datetime.datetime(year, 6, 15, 0, 0, 30, tzinfo=UTC)
    if name in ("dst_spring_forward", "dst_fall_back"):
        # One minute past the switch is already in the new offset: the second pass of a repeated hour.
        switch = _switch(zone, year, forward=name == "dst_spring_forward")
        return local_midnight if switch is None else switch + datetime.timedelta(minutes=1)
    if name == "month_end":
        return _local(zone, year, 1, 31, 23, 59, 30)
    if name == "year_end":
        return _local(zone, year, 12, 31, 23, 59, 30)
    if name == "leap_day":
        leap_year = next(y for y in range(year, year + 8) if calendar.isleap(y))
        return _local(zone, leap_year, 2, 29, 0, 0, 30)
    raise ValueError(f"unknown clock instant {name!r}; known: {', '.join(CLOCK_INSTANTS)}")


def as_naive_utc(instant: datetime.datetime) -> datetime.datetime:
    """An instant as a naive UTC datetime (naive input is taken to be UTC already)."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


def stored_value(instant: datetime.datetime, column: ColumnSpec) -> datetime.datetime:
    """A naive UTC instant as the naive wall time of the column's stored zone."""
    zone = column.timezone or "UTC"
    if zone.upper() == "UTC":
        return instant
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


# --- column kinds -----------------------------------------------------------------

_INT_LIMITS = {
    "tinyint": 100,
    "int1": 100,
    "utinyint": 200,
    "smallint": 10_000,
    "int2": 10_000,
    "usmallint": 10_000,
}
_INT_NAMES = {
    "tinyint", "int1", "utinyint", "smallint", "int2", "short", "usmallint", "integer", "int", "int4", "signed",
    "uinteger", "bigint", "int8", "long", "ubigint", "hugeint", "uhugeint", "varint",
}  # fmt: skip
_FLOAT_NAMES = {"double", "float", "float4", "float8", "real", "double precision"}
_TIMESTAMP_NAMES = {"timestamp", "datetime", "timestamp without time zone", "timestamp_s", "timestamp_ms", "timestamp_us", "timestamp_ns"}
_TIMESTAMPTZ_NAMES = {"timestamptz", "timestamp with time zone"}
_STRING_NAMES = {"varchar", "text", "string", "char", "bpchar", "nvarchar"}


@dataclass(frozen=True)
class ColumnKind:
    """What Python values a DuckDB type takes: ``kind`` plus the bounds that matter for it."""

    kind: str  # int, decimal, float, bool, timestamp, timestamptz, date, time, json, uuid, interval, str
    int_limit: int = 10_000
    precision: int = 18
    scale: int = 3


def column_kind(type_name: str) -> ColumnKind:
    """Classify a DuckDB type name (case-insensitive, precision allowed); unknown types are ``str``."""
    text = " ".join(type_name.lower().split())
    base = re.sub(r"\s*\(.*\)\s*", "", text).strip()
    if base in _INT_NAMES:
        return ColumnKind("int", int_limit=_INT_LIMITS.get(base, 10_000))
    if base in ("decimal", "numeric", "dec"):
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        precision = numbers[0] if numbers else 18
        scale = numbers[1] if len(numbers) > 1 else (3 if not numbers else 0)
        return ColumnKind("decimal", precision=precision, scale=scale)
    if base in _FLOAT_NAMES:
        return ColumnKind("float")
    if base in BOOLEAN_TYPES:
        return ColumnKind("bool")
    if base in _TIMESTAMPTZ_NAMES:
        return ColumnKind("timestamptz")
    if base in _TIMESTAMP_NAMES:
        return ColumnKind("timestamp")
    if base == "date":
        return ColumnKind("date")
    if base in ("time", "time without time zone"):
        return ColumnKind("time")
    if base == "json":
        return ColumnKind("json")
    if base == "uuid":
        return ColumnKind("uuid")
    if base == "interval":
        return ColumnKind("interval")
    return ColumnKind("str")


def _decimal_ceiling(kind: ColumnKind) -> int:
    """The largest number of scale units a money column gets (stays inside the declared precision)."""
    whole_digits = max(kind.precision - kind.scale, 0)
    return min(100_000, 10 ** (whole_digits + kind.scale) - 1)


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


# --- deterministic rows -------------------------------------------------------------


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
        units = 0 if zero else rng.randint(1, _decimal_ceiling(kind))
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
            trial[column.name] = _reference_values(version, table, column, kinds[column.name], count, rng, instants, generated, columns, trial_dropped, single_key=keys == [column])
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


def _reference_values(
    version: ConnectorVersion,
    table: TableSpec,
    column: ColumnSpec,
    kind: ColumnKind,
    count: int,
    rng: random.Random,
    instants: Sequence[datetime.datetime],
    generated: dict[str, list[Row]],
    columns: dict[str, list[Any]],
    dropped: set[int],
    single_key: bool,
) -> list[Any]:
    """Values for a reference column; rows that need a parent and find none are added to ``dropped``."""
    assert column.references is not None
    parent = referenced_table(version, table, column.references)
    parent_name = referenced_column(column.references)
    nullable = column.nullable and not column.primary_key
    nulls = {i for i in range(count) if nullable and rng.random() < NULL_SHARE}
    if parent is table:
        return _self_reference_values(table, column, kind, count, rng, instants, columns, nulls, nullable, dropped)
    parent_column = parent.column(parent_name) if parent is not None else None
    if parent is None or parent_column is None or parent.key not in generated:
        values = [None if i in nulls else _random_reference(table, column, kind, rng, instants) for i in range(count)]
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


def _self_reference_values(
    table: TableSpec,
    column: ColumnSpec,
    kind: ColumnKind,
    count: int,
    rng: random.Random,
    instants: Sequence[datetime.datetime],
    columns: dict[str, list[Any]],
    nulls: set[int],
    nullable: bool,
    dropped: set[int],
) -> list[Any]:
    """A reference into the same table points at an earlier row only, so hierarchies have no loops."""
    assert column.references is not None
    own = table.column(referenced_column(column.references))
    if own is None or own.name not in columns:
        return [None if i in nulls else _random_reference(table, column, kind, rng, instants) for i in range(count)]
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
        units = pick.format(n=_decimal_ceiling(kind) + 1) if kind.kind == "decimal" else pick.format(n=100_000)
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


# --- hypothesis ----------------------------------------------------------------------


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
            return st.integers(0, _decimal_ceiling(kind)).map(lambda units: Decimal(units).scaleb(-kind.scale))
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
