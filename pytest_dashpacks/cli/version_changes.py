"""The ``changes:`` that turn a connector's newest version into what a warehouse scan found.

Added and dropped tables and columns, retyped columns and changed enum values come from a plain diff;
a dropped and an added column of one table with the same type and similar names are proposed as a
``rename_column`` whose note says it was inferred. Kinds and keys are exactly those connector.yml accepts.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import Any

from ..load.connectors import table_id
from ..model import ColumnSpec, ConnectorVersion, TableSpec
from .warehouse_catalogs import Scan, ScannedColumn, ScannedTable

RENAME_RATIO = 0.6  # difflib ratio from which two column names count as similar


@dataclass(frozen=True)
class ProposedChange:
    """One entry of ``changes:``: ``{kind: params}`` plus its note."""

    kind: str
    params: dict[str, Any]
    note: str
    inferred: bool = False  # a guess (a rename), not something the scan showed


def table_key(table: ScannedTable, default_schema: str) -> str:
    """How connector.yml names the table: bare in the connector's schema, qualified in any other."""
    return table.name if table.schema.lower() == default_schema.lower() else f"{table.schema}.{table.name}"


def column_params(column: ScannedColumn) -> dict[str, Any]:
    """A scanned column as connector.yml column keys (type first, description last)."""
    params: dict[str, Any] = {"type": column.type}
    if column.primary_key:
        params["primary_key"] = True
    if not column.nullable:
        params["nullable"] = False
    if column.values:
        params["values"] = list(column.values)
    params["description"] = column.description
    return params


@functools.lru_cache(maxsize=512)
def canonical_type(type_name: str) -> str:
    """A type as DuckDB spells it, so ``int`` equals ``INTEGER`` and ``timestamptz`` ``TIMESTAMP WITH TIME ZONE``."""
    import duckdb

    try:
        return str(duckdb.sqltype(type_name))
    except (duckdb.Error, RuntimeError, ValueError):
        return " ".join(type_name.upper().split())


def changes_since(newest: ConnectorVersion, scan: Scan, default_schema: str) -> list[ProposedChange]:
    """The changes from ``newest`` to the scan, in an order that loads: per existing table its renames,
    drops, adds and retypes, then new tables, then dropped ones (only in the schemas the scan covered)."""
    scanned = {".".join(table_id(table_key(t, default_schema), default_schema)).lower(): t for t in scan.tables}
    covered = {s.lower() for s in scan.schemas}
    out: list[ProposedChange] = []
    for key, table in newest.tables.items():
        found = scanned.get(key)
        if found is not None:
            out += _table_changes(table, found, scan.label)
    for key, table in scanned.items():
        if key not in newest.tables:
            columns = {c.name: column_params(c) for c in table.columns}
            out.append(ProposedChange("add_table", {"table": table_key(table, default_schema), "columns": columns},
                                      f"found by dashpacks scaffold: new in {scan.label}"))
    for key, table in newest.tables.items():
        if key not in scanned and table.schema.lower() in covered:
            out.append(ProposedChange("drop_table", {"table": table.key}, f"found by dashpacks scaffold: not in {scan.label}"))
    return out


def _table_changes(table: TableSpec, scanned: ScannedTable, label: str) -> list[ProposedChange]:
    old = {c.name.lower(): c for c in table.columns}
    new = {c.name.lower(): c for c in scanned.columns}
    dropped = [c for name, c in old.items() if name not in new]
    added = [c for name, c in new.items() if name not in old]
    renames = likely_renames(dropped, added)
    renamed_old = {o.name for o, _, _ in renames}
    renamed_new = {n.name for _, n, _ in renames}
    out = [
        ProposedChange(
            "rename_column", {"table": table.key, "from": o.name, "to": n.name},
            f"inferred by dashpacks scaffold, not declared: {o.name} is not in {label} and {n.name} is, with the same type "
            f"{n.type} and a similar name ({ratio:.0%} alike); check it before relying on it",
            inferred=True,
        )
        for o, n, ratio in renames
    ]
    out += [ProposedChange("drop_column", {"table": table.key, "column": c.name}, f"found by dashpacks scaffold: not in {label}")
            for c in dropped if c.name not in renamed_old]
    out += [ProposedChange("add_column", {"table": table.key, "column": c.name, **column_params(c)},
                           f"found by dashpacks scaffold: new in {label}")
            for c in added if c.name not in renamed_new]
    for name, column in old.items():
        other = new.get(name)
        if other is None:
            continue
        if canonical_type(column.type) != canonical_type(other.type):
            out.append(ProposedChange("change_type", {"table": table.key, "column": column.name, "to": other.type},
                                      f"found by dashpacks scaffold: {other.description} (was {column.type})"))
        if other.values is not None and tuple(map(str, column.values or ())) != other.values:
            out.append(ProposedChange("change_values", {"table": table.key, "column": column.name, "values": list(other.values)},
                                      f"found by dashpacks scaffold: the enum labels in {label}"))
    return out


def likely_renames(dropped: list[ColumnSpec], added: list[ScannedColumn]) -> list[tuple[ColumnSpec, ScannedColumn, float]]:
    """Pairs (old, new, name similarity) of one type whose names are alike (difflib ratio >= 0.6, or one
    name inside the other), most alike first; each column in at most one pair."""
    candidates = []
    for old in dropped:
        for new in added:
            if canonical_type(old.type) != canonical_type(new.type):
                continue
            a, b = old.name.lower(), new.name.lower()
            ratio = difflib.SequenceMatcher(None, a, b).ratio()
            if ratio >= RENAME_RATIO or a in b or b in a:
                candidates.append((ratio, old, new))
    candidates.sort(key=lambda c: -c[0])
    used_old: set[str] = set()
    used_new: set[str] = set()
    out = []
    for ratio, old, new in candidates:
        if old.name in used_old or new.name in used_new:
            continue
        used_old.add(old.name)
        used_new.add(new.name)
        out.append((old, new, ratio))
    return out
