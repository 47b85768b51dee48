"""What a query returned, and comparing results without regard to row order or float noise."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable


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
