"""What values a column type holds: one per-type spec that drives rows, large-table SQL and Hypothesis."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import BOOLEAN_TYPES

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


def decimal_ceiling(kind: ColumnKind) -> int:
    """The largest number of scale units a money column gets (stays inside the declared precision)."""
    whole_digits = max(kind.precision - kind.scale, 0)
    return min(100_000, 10 ** (whole_digits + kind.scale) - 1)


