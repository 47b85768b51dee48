"""What a query returned; comparing results without regard to row order or float noise; values as messages and YAML show them."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from ..kpi.oracle import as_date


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

# --- comparing results ---------------------------------------------------------------------


def normalized(value: Any, digits: int = 6) -> Any:
    """A value in a form that compares across runs: floats rounded, -0.0 as 0.0, NaN as the string 'nan'."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # One instant, whichever session zone shows it (an ambiguous local hour at a DST fall-back
        # never compares equal across zones otherwise).
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        rounded = round(value, digits)
        return 0.0 if rounded == 0 else rounded
    return value


def row_multiset(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows normalized and sorted, so results compare without regard to order."""
    return sorted((tuple(normalized(v) for v in row) for row in rows), key=lambda r: tuple((v is None, str(v)) for v in r))


def has_non_finite(row: tuple[Any, ...]) -> bool:
    """Whether a row holds a float NaN or infinity (what :func:`bad_numbers` reports)."""
    return any(isinstance(value, float) and not math.isfinite(value) for value in row)


def bad_numbers(result: QueryResult, columns: Iterable[str]) -> list[str]:
    """NaN or infinite values in the given output columns, described with their row."""
    index = {name.lower(): i for i, name in enumerate(result.columns)}
    problems = []
    for name in columns:
        i = index.get(name.lower())
        if i is None:
            continue
        for row in result.rows:
            value = row[i]
            if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
                problems.append(f"{name} = {value} in row {dict(zip(result.columns, row))}")
    return problems


# --- values as messages and YAML show them ---------------------------------------------


def plain(value: Any) -> Any:
    """A value as a message shows it: dates as ISO text, Decimal as float (NaN stays nan, never None)."""
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value


def native(value: Any) -> Any:
    """A value as its YAML type: numbers, booleans and null stay themselves (NaN is .nan); dates and times are ISO text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return float(value)
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    if isinstance(value, (list, tuple)):
        return [native(v) for v in value]
    if isinstance(value, dict):
        return {str(k): native(v) for k, v in value.items()}
    return str(value)


# --- comparing expected rows ------------------------------------------------------------


def _same(expected: Any, actual: Any, tolerance: float) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(expected).lower() == str(actual).lower()
    if isinstance(actual, (int, float, Decimal)) and not isinstance(actual, bool):
        try:
            e, a = float(expected), float(actual)
        except (TypeError, ValueError):
            return False
        if math.isnan(e) or math.isnan(a):
            return math.isnan(e) and math.isnan(a)
        if math.isinf(e) or math.isinf(a):  # inf - inf is nan, never within tolerance
            return e == a
        return abs(e - a) <= tolerance * max(1.0, abs(e))
    if hasattr(actual, "isoformat"):
        if hasattr(actual, "hour"):
            text = str(expected).replace("T", " ")
            if len(text) == 10 and actual.time() == actual.min.time():  # a date bucket DuckDB returns as midnight
                return text == actual.date().isoformat()
            return text == actual.isoformat(sep=" ")
        return as_date(expected) == actual
    return str(expected) == str(actual)


def _shown(row: dict[str, Any] | None) -> str:
    if row is None:
        return "nothing"
    return str({k: plain(v) for k, v in row.items()})


def row_diff(expected: list[dict[str, Any]], actual: list[dict[str, Any]], *, ordered: bool, tolerance: float) -> list[str]:
    """Lines describing how ``actual`` differs from ``expected`` (empty when they match).

    Only the columns the expected rows name are compared; rows match in any order unless ``ordered``.
    """
    columns = list(dict.fromkeys(k for row in expected for k in row))
    lowered = [{k.lower(): v for k, v in row.items()} for row in actual]
    projected = [{c: row.get(c.lower()) for c in columns} for row in lowered]
    missing_columns = [c for c in columns if actual and c.lower() not in lowered[0]]
    if missing_columns:
        return [f"the query returns no column {', '.join(missing_columns)} (it returns {', '.join(actual[0])})"]
    lines: list[str] = []
    if ordered:
        for i in range(max(len(expected), len(projected))):
            e = expected[i] if i < len(expected) else None
            a = projected[i] if i < len(projected) else None
            if e is None or a is None or not all(_same(e.get(c), a.get(c), tolerance) for c in columns):
                lines.append(f"row {i + 1}: expected {_shown(e)}, got {_shown(a)}")
        return lines
    unmatched = list(projected)
    for row in expected:
        match = next((a for a in unmatched if all(_same(row.get(c), a.get(c), tolerance) for c in columns)), None)
        if match is None:
            lines.append(f"- expected, missing: {_shown(row)}")
        else:
            unmatched.remove(match)
    lines.extend(f"+ returned, not expected: {_shown(row)}" for row in unmatched)
    return lines
