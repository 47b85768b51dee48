"""``bindings`` items: every column a chart names is returned by its query; y/value are numeric.

A values query's columns and value types come from its YAML rows, so it needs no SQL analysis.
"""

from __future__ import annotations

from typing import NoReturn

from ..errors import CheckFailure, CheckSkipped, DashpacksError
from ..load.yaml import did_you_mean
from ..model import Binding, Board, ValuesQuery
from ..sql.outputs import output_columns
from . import CheckContext, register
from .prerequisites import require_resolved


@register("bindings", "rendering")
def check_bindings(ctx: CheckContext) -> None:
    assert ctx.board is not None and ctx.query is not None
    if isinstance(ctx.query, ValuesQuery):
        check_values_bindings(ctx.board, ctx.query)
        return
    session, pack = ctx.session, ctx.pack
    newest = session.library.versions(pack)[-1]
    # Output columns of a query that does not resolve cannot be trusted (a typo would echo here).
    require_resolved(session, pack, ctx.board, ctx.query, newest)
    parsed = session.queries.parsed(pack, ctx.board, ctx.query)
    numeric = any(b.numeric for b in ctx.board.bindings_of(ctx.query.name))
    from sqlglot.errors import SqlglotError

    try:
        tree = (session.queries.typed if numeric else session.queries.qualified)(pack, ctx.board, ctx.query, newest)
    except (DashpacksError, SqlglotError):  # columns the version lacks: the schema item reports them
        tree = None
    columns = output_columns(parsed.ast, tree)
    if columns is None:
        raise CheckSkipped("the query's output columns cannot be known statically (SELECT * over an unknown source)")
    returned = {c.name.lower(): c for c in columns}
    names = [c.name for c in columns]
    problems = []
    for binding in ctx.board.bindings:
        if binding.query != ctx.query.name:
            continue
        column = returned.get(binding.column.lower())
        if column is None:
            problems.append((binding, f"{binding.describe()} names column {binding.column!r}, "
                             f"which query {ctx.query.name!r} does not return{did_you_mean(binding.column, names)}"))
        elif binding.numeric and column.category not in (None, "number"):
            problems.append((binding, f"{binding.describe()} column {binding.column!r} must be numeric, "
                             f"but the query returns {column.category}"))
    if problems:
        _fail(problems, f"query {ctx.query.name!r} returns: {', '.join(names)}")


def check_values_bindings(board: Board, query: ValuesQuery) -> None:
    """Every column a chart names is a column of the inline rows; y/value columns hold only numbers."""
    names = [c.name for c in query.columns]
    problems = []
    for binding in board.bindings:
        if binding.query != query.name:
            continue
        column = query.column(binding.column)
        if column is None:
            problems.append((binding, f"{binding.describe()} names column {binding.column!r}, "
                             f"which values query {query.name!r} does not provide{did_you_mean(binding.column, names)}"))
        elif binding.numeric and column.first_non_number is not None:
            value, span = column.first_non_number
            problems.append((binding, f"{binding.describe()} column {binding.column!r} must be numeric, "
                             f"but values query {query.name!r} gives it {value!r} on line {span.line} ({column.category})"))
    if problems:
        _fail(problems, f"values query {query.name!r} provides: {', '.join(names)}")


def _fail(problems: list[tuple[Binding, str]], columns: str) -> NoReturn:
    """Fail at the first problem; the columns on offer and the other problems become details."""
    (binding, message), rest = problems[0], problems[1:]
    details = (columns,) + tuple(f"also: {b.span.location()}: {m}" for b, m in rest)
    raise CheckFailure(message, binding.span, details=details, defect_class="rendering")
