"""Shrinking a failing dataset to a small one that still fails the same way.

Delta debugging (Zeller's ddmin) over the rows of every table at once, then
dropping whole columns. The caller's ``fails`` decides what "the same way"
means and charges the :class:`Budget` for each query it runs; when the budget
runs out, the smallest failing dataset found so far is the answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Sequence, TypeVar

from ..data.rows import Rows

T = TypeVar("T")


@dataclass
class Budget:
    """Query runs and seconds allowed, counted from creation."""

    runs: int = 300
    seconds: float = 5.0
    spent: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.runs or time.monotonic() - self.started >= self.seconds

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def ddmin(items: Sequence[T], fails: Callable[[list[T]], bool], budget: Budget) -> list[T]:
    """A subset of ``items`` on which ``fails`` still holds, 1-minimal unless the budget ran out first.

    ``fails(items)`` is assumed true. Delta debugging by complements (Zeller and Hildebrandt, 2002),
    with the chunk size halving from all of ``items`` down to one: each chunk whose removal still
    fails is dropped. About 2k log2(n) tries for k rows that matter among n.
    """
    current = list(items)
    size = len(current)
    while size >= 1 and not budget.exhausted:
        start = 0
        while start < len(current) and not budget.exhausted:
            candidate = current[:start] + current[start + size:]
            if fails(candidate):
                current = candidate
            else:
                start += size
        size = min(size // 2, len(current))
    return current


def shrink_rows(rows: Rows, fails: Callable[[Rows], bool], budget: Budget) -> Rows:
    """ddmin over the rows of all tables together (a failure may need a parent and its children)."""
    tables = list(rows)
    flat = [(table, row) for table in tables for row in rows[table]]

    def rebuild(kept: list[tuple[str, dict[str, Any]]]) -> Rows:
        out: Rows = {table: [] for table in tables}
        for table, row in kept:
            out[table].append(row)
        return out

    return rebuild(ddmin(flat, lambda kept: fails(rebuild(kept)), budget))


def drop_columns(rows: Rows, fails: Callable[[Rows], bool], budget: Budget, keep: Callable[[str, str], bool]) -> Rows:
    """Leave out, one at a time, each column (of every row of its table) that ``keep`` does not protect,
    when the rows still fail without it; a left-out column is NULL."""
    current = {table: [dict(row) for row in table_rows] for table, table_rows in rows.items()}
    for table, table_rows in rows.items():
        columns: Collection[str] = list(dict.fromkeys(column for row in table_rows for column in row))
        for column in columns:
            if keep(table, column) or budget.exhausted:
                continue
            candidate = {**current, table: [{k: v for k, v in row.items() if k != column} for row in current[table]]}
            if fails(candidate):
                current = candidate
    return current
