"""Parsing a rendered query in its dialect: one read-only SELECT, and problems located in its SQL."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import RenderError, SqlExcerpt
from ..model import Change

if TYPE_CHECKING:
    from sqlglot import exp

@dataclass(frozen=True)
class Problem:
    """One thing wrong with a query, located in the rendered SQL."""

    message: str
    sql: SqlExcerpt | None
    cause: Change | None = None
    hint: str = ""
    still_runs: bool = False  # the query runs anyway (a literal no row has): nothing needs to wait on it

# --- parsing -------------------------------------------------------------------------


def excerpt_at(sql: str, node: Any) -> SqlExcerpt:
    """Where ``node`` (or its first identifier with a position) sits in ``sql``."""
    from sqlglot import exp

    for candidate in ([node] if isinstance(node, exp.Identifier) else []) + list(node.find_all(exp.Identifier)):
        meta = candidate.meta
        if "start" in meta:
            start, end = meta["start"], meta["end"]
            line = sql.count("\n", 0, start) + 1
            column = start - (sql.rfind("\n", 0, start) + 1) + 1
            return SqlExcerpt(sql, line, column, end - start + 1)
    return SqlExcerpt(sql, 0, 0)


def parse_query(sql: str, dialect: str, tokens: list[Any] | None = None) -> exp.Query:
    """Parse a board query: exactly one SELECT/WITH statement, else :class:`RenderError`.
    With ``tokens`` (the dialect's tokens of ``sql``), they are parsed instead of tokenizing again."""
    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import ParseError, TokenError

    try:
        reader = Dialect.get_or_raise(dialect)
        if tokens is None:
            tokens = reader.tokenize(sql)
        statements = [s for s in reader.parser().parse(tokens, sql) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, col = first.get("line", 0), first.get("col", 0)
        token = first.get("highlight") or ""
        description = first.get("description") or str(exc).splitlines()[0]
        start = max(1, col - len(token) + 1) if token else col
        raise RenderError(
            f"SQL does not parse as {dialect}: {description}", sql=SqlExcerpt(sql, line, start, max(1, len(token)))
        ) from None
    except TokenError as exc:
        raise RenderError(f"SQL does not tokenize as {dialect}: {exc}", sql=SqlExcerpt(sql, 0, 0)) from None
    if not statements:
        raise RenderError("the query is empty", sql=SqlExcerpt(sql, 0, 0))
    if len(statements) > 1:
        second = statements[1]
        raise RenderError(
            f"a board query must be one statement; found {len(statements)} "
            f"({', '.join(_statement_kind(s) for s in statements)})",
            sql=excerpt_at(sql, second),
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise RenderError(
            f"only a SELECT/WITH statement is a valid board query; found {_statement_kind(statement)}",
            sql=SqlExcerpt(sql, 1, 1, len(sql.lstrip().split(None, 1)[0]) if sql.strip() else 1),
        )
    write = statement.find(*_writes())
    if write is not None:  # WITH d AS (DELETE ... RETURNING ...) SELECT ...: still a write
        raise RenderError(
            f"a board query only reads; found {_statement_kind(write)} inside it (in a CTE or subquery)",
            sql=excerpt_at(sql, write),
        )
    return statement


@functools.lru_cache(maxsize=1)
def _writes() -> tuple[type, ...]:
    """Statements that change data, the catalog or the session, wherever they sit in a query's tree."""
    from sqlglot import exp

    names = ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Copy", "Command", "TruncateTable",
             "Attach", "Detach", "Install", "Set", "Pragma", "Use", "Transaction", "Commit", "Rollback", "LoadData")
    return tuple(getattr(exp, name) for name in names if hasattr(exp, name))


def _statement_kind(statement: Any) -> str:
    from sqlglot import exp

    if isinstance(statement, exp.Query):
        return "SELECT"
    if isinstance(statement, exp.Command):
        return str(statement.this).upper()
    return type(statement).__name__.upper()


