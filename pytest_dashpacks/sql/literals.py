"""Variable values in SQL: a literal every target dialect parses, or the bare value inside quotes."""

from __future__ import annotations

from typing import Any


class SqlValue:
    """A variable's value: renders as a SQL literal, or bare inside quotes."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __str__(self) -> str:
        return sql_literal(self.raw)

    def __iter__(self) -> Any:
        return iter(self.raw if isinstance(self.raw, (list, tuple)) else [self.raw])

    def __bool__(self) -> bool:
        return not is_unset(self.raw)


def sql_literal(value: Any) -> str:
    """A Python value as a SQL literal that every target dialect parses."""
    if isinstance(value, SqlValue):
        value = value.raw
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(sql_literal(v) for v in value) + ")"
    return "'" + str(value).replace("'", "''") + "'"


def bare_value(value: Any) -> str:
    raw = value.raw if isinstance(value, SqlValue) else value
    if isinstance(raw, (list, tuple)):
        return ", ".join(bare_value(v) for v in raw)
    return "" if raw is None else str(raw).replace("'", "''")


def is_unset(value: Any) -> bool:
    value = value.raw if isinstance(value, SqlValue) else value
    return value is None or value == "" or (isinstance(value, (list, tuple)) and not any(v not in (None, "") for v in value))


def finalize_value(value: Any) -> Any:
    return sql_literal(value.raw) if isinstance(value, SqlValue) else value


