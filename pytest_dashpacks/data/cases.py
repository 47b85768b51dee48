"""The datasets of the volume and narrative cases, derived from seed or generated rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model import ConnectorVersion, TableSpec
from .calendar import boundary_instants
from .kinds import column_kind
from .rows import Rows, generate_rows

VOLUME_CASES = ("empty", "single_row", "nulls", "zero", "soft_deleted", "history", "large")
NARRATIVE_CASES = ("seed", "empty", "nulls", "zero")


def copied(rows: Rows) -> Rows:
    return {key: [dict(row) for row in table] for key, table in rows.items()}


def _numeric(type_name: str) -> bool:
    return column_kind(type_name).kind in ("int", "decimal", "float")


def nulls_case(version: ConnectorVersion, rows: Rows) -> Rows:
    """Every nullable column NULL."""
    out = copied(rows)
    for table in version.tables.values():
        nullable = [c.name for c in table.columns if c.nullable and not c.primary_key]
        for row in out.get(table.key, []):
            for name in nullable:
                row[name] = None
    return out


def zero_case(version: ConnectorVersion, rows: Rows) -> Rows:
    """Every numeric, non-key column zero: denominators, quantities and amounts."""
    out = copied(rows)
    for table in version.tables.values():
        numeric = [c.name for c in table.columns if _numeric(c.type) and not c.primary_key and not c.references]
        for row in out.get(table.key, []):
            for name in numeric:
                row[name] = 0
    return out


def _duplicate(table: TableSpec, row: dict[str, Any], n: int) -> dict[str, Any]:
    copy = dict(row)
    for column in table.columns:
        if column.primary_key and copy.get(column.name) is not None:
            value = copy[column.name]
            # Seed values are text: the column's type decides how a new key looks.
            copy[column.name] = int(value) + 10_000_000 * n if _numeric(column.type) else f"{value}_dup{n}"
    return copy


def soft_deleted_case(version: ConnectorVersion, rows: Rows) -> Rows:
    """The rows plus a soft-deleted copy of each (new keys) per ``role: deleted`` column, as a connector delivers deletes.

    Each copy is deleted by one flag only, so a query that filters ``_fivetran_deleted``
    but not the source's own ``is_deleted`` still counts some of them.
    """
    out = copied(rows)
    for table in version.tables.values():
        flags = [c.name for c in table.role_columns("deleted")]
        extra = []
        for n, flag in enumerate(flags, 1):
            for row in rows.get(table.key, []):
                copy = _duplicate(table, row, n)
                for other in flags:
                    copy[other] = other == flag
                extra.append(copy)
        if extra:
            out[table.key] = out.get(table.key, []) + extra
    return out


def history_case(version: ConnectorVersion, rows: Rows) -> Rows:
    """The rows plus an older, inactive version of each (``role: active`` columns false), as Fivetran history mode keeps them."""
    out = copied(rows)
    for table in version.tables.values():
        flags = [c.name for c in table.role_columns("active")]
        if not flags:
            continue
        names = {c.name.lower(): c.name for c in table.columns}
        extra = []
        for row in rows.get(table.key, []):
            copy = dict(row)  # history mode repeats the primary key: that is what makes it dangerous
            for flag in flags:
                copy[flag] = False
            if "_fivetran_end" in names:
                copy[names["_fivetran_end"]] = "2024-01-01 00:00:00"
            extra.append(copy)
        out[table.key] = out.get(table.key, []) + extra
    return out


def single_row_case(rows: Rows) -> Rows:
    return {key: table[:1] for key, table in rows.items()}


@dataclass(frozen=True)
class CaseInputs:
    """What a dataset is derived from; ``generated`` is memoized by the caller, since several cases share it."""

    version: ConnectorVersion
    zone: str
    seed: Rows
    generated: Callable[[], Rows]


def _boundary_case(inputs: CaseInputs) -> Rows:
    """The seed plus rows at every edge of the reporting zone's 2024 calendar."""
    instants = boundary_instants(inputs.zone, [2024])
    extra = generate_rows(inputs.version, inputs.zone, rows_per_table=len(instants), seed=11, instants=instants)
    return with_rows(inputs.seed, extra)


def clock_case(version: ConnectorVersion, zone: str, seed: Rows, instant: dt.datetime) -> Rows:
    """The seed plus rows on both sides of a frozen instant (aware UTC): a second to a month away."""
    utc = instant.astimezone(dt.timezone.utc).replace(tzinfo=None)
    offsets = [dt.timedelta(seconds=s) for s in (1, 60, 3600, 86400, 7 * 86400, 31 * 86400)]
    instants = sorted({utc + sign * o for o in offsets for sign in (1, -1)})
    return with_rows(seed, generate_rows(version, zone, rows_per_table=len(instants), seed=5, instants=instants))


def with_rows(rows: Rows, extra: Rows) -> Rows:
    """``rows`` with ``extra``'s rows appended, table by table."""
    return {key: rows.get(key, []) + extra.get(key, []) for key in dict.fromkeys([*rows, *extra])}


DATASETS: dict[str, Callable[[CaseInputs], Rows]] = {
    "seed": lambda inputs: inputs.seed,
    "empty": lambda inputs: {},
    "generated": lambda inputs: generate_rows(inputs.version, inputs.zone, rows_per_table=6, seed=7),
    "single_row": lambda inputs: single_row_case(inputs.generated()),
    "nulls": lambda inputs: nulls_case(inputs.version, inputs.generated()),
    "zero": lambda inputs: zero_case(inputs.version, inputs.generated()),
    "soft_deleted": lambda inputs: soft_deleted_case(inputs.version, inputs.seed),
    "history": lambda inputs: history_case(inputs.version, inputs.seed),
    "boundary": _boundary_case,
}


def dataset(case: str, inputs: CaseInputs) -> Rows:
    """The rows of the named data case (every case but ``large``, which is filled in SQL)."""
    if case not in DATASETS:
        raise ValueError(f"unknown data case {case!r}")
    return DATASETS[case](inputs)
