"""``differential[postgres@<version>]``: the query runs on PostgreSQL itself, on the rows of
``execute[<connector>@<version>]``, and gives the answer DuckDB gives.

The SQL is the query as written when the pack's dialect is ``postgres``, else sqlglot's
transpilation to PostgreSQL (when ``postgres`` or ``redshift`` is a target). A failure names the
likely construct: integer division, NULL ordering, an implicit cast, interval syntax or an output-column
alias in WHERE/HAVING.
"""

from __future__ import annotations

from typing import Any

from ..engines.postgres import EngineUnavailable
from ..engines.results import QueryResult, normalized, row_multiset
from ..errors import CheckFailure, CheckSkipped, SqlExcerpt
from . import CheckContext, register
from .prerequisites import require_resolved, require_runs
from .sandboxed import run

ROWS_SHOWN = 5


@register("differential", "rendering")
def check_differential(ctx: CheckContext) -> None:
    assert ctx.board is not None and ctx.query is not None and ctx.version is not None
    session, pack, version = ctx.session, ctx.pack, ctx.version
    require_resolved(session, pack, ctx.board, ctx.query, version)
    parsed = session.queries.parsed(pack, ctx.board, ctx.query)
    _require_dialect_rules(ctx, parsed)
    if pack.dialect == "postgres":
        pg_sql = parsed.sql
    else:
        from sqlglot.errors import ErrorLevel, SqlglotError

        try:
            pg_sql = _case_folded(parsed.ast, pack.dialect).sql("postgres", unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as exc:
            raise CheckSkipped(f"sqlglot cannot write this query for PostgreSQL: {exc}") from None
    try:
        database = session.databases.postgres(pack, version)
    except EngineUnavailable as exc:
        raise CheckSkipped(str(exc)) from None
    missing = sorted(m for m in database.model_errors if f"models.{m}" in pg_sql.replace('"', ""))
    if missing:
        raise CheckSkipped(f"connector model {missing[0]} does not translate to PostgreSQL ({database.model_errors[missing[0]]})")
    try:
        theirs = database.run(pg_sql)
    except CheckFailure as exc:
        construct = _construct_of_error(exc.message, pg_sql)
        raise CheckFailure(
            f"PostgreSQL rejects the query{construct}: {exc.message.removeprefix('PostgreSQL: ')}",
            session.queries.yaml_span(pack, ctx.board, ctx.query, exc.sql.line if exc.sql else 0) if pack.dialect == "postgres" else ctx.query.span,
            sql=exc.sql, defect_class="rendering",
        ) from None
    require_runs(session, pack, ctx.board, ctx.query, version)
    ours = run(ctx, session.databases.sandbox(pack, version, "seed"), session.queries.runnable(pack, ctx.board, ctx.query, version))
    _compare(ctx, ours, theirs, pg_sql)


def _case_folded(ast: Any, dialect: str) -> Any:
    """The tree with quoted all-uppercase identifiers lower-cased when the pack's dialect folds unquoted
    names to uppercase (Snowflake: ``"USER"`` is ``user``), since the fixture tables are lower-case."""
    from sqlglot import exp

    tree = ast.copy()
    if dialect in ("snowflake", "oracle"):
        for identifier in tree.find_all(exp.Identifier):
            if identifier.quoted and identifier.this.isupper():
                identifier.set("this", identifier.this.lower())
    return tree


def _comparable(rows: tuple[tuple[Any, ...], ...]) -> tuple[tuple[Any, ...], ...]:
    """Rows with a midnight timestamp read as its date: a date bucket is a DATE in one warehouse and a
    TIMESTAMP at midnight in another (DATE_TRUNC on PostgreSQL), the same answer on a chart."""
    import datetime as dt

    def value(v: Any) -> Any:
        if isinstance(v, dt.datetime):
            utc = v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo is not None else v
            return utc.date() if utc.time() == dt.time(0) else utc
        return v

    return tuple(tuple(value(v) for v in row) for row in rows)


def _compare(ctx: CheckContext, duckdb: QueryResult, postgres: QueryResult, pg_sql: str) -> None:
    assert ctx.query is not None
    duck_rows, pg_rows = _comparable(duckdb.rows), _comparable(postgres.rows)
    duckdb, postgres = QueryResult(duckdb.columns, duckdb.types, duck_rows), QueryResult(postgres.columns, postgres.types, pg_rows)
    left, right = row_multiset(duck_rows), row_multiset(pg_rows)
    keys = _order_keys(pg_sql, postgres.columns)
    if left == right and (not keys or _keys_of(duck_rows, keys) == _keys_of(pg_rows, keys)):
        return
    construct = _construct_of_difference(ctx, pg_sql, duckdb, postgres, same_rows=left == right)
    if left == right:
        lines = ["the same rows come back in a different order:",
                 *(f"  DuckDB row {i + 1}: {a}   PostgreSQL row {i + 1}: {b}" for i, (a, b) in enumerate(zip(duckdb.rows, postgres.rows)) if a != b)]
    else:
        only_duck = _minus(left, right)
        only_pg = _minus(right, left)
        lines = [f"rows only DuckDB returns ({len(only_duck)}):", *(f"  {row}" for row in only_duck[:ROWS_SHOWN]),
                 f"rows only PostgreSQL returns ({len(only_pg)}):", *(f"  {row}" for row in only_pg[:ROWS_SHOWN])]
    raise CheckFailure(
        f"PostgreSQL and DuckDB answer differently on {ctx.version.label if ctx.version else 'the seed'}{construct}",
        ctx.query.span, details=(f"columns: {', '.join(postgres.columns)}", *lines), sql=SqlExcerpt(pg_sql), defect_class="rendering",
    )


def _require_dialect_rules(ctx: CheckContext, parsed: Any) -> None:
    """What the ``syntax`` item's dialect rules find (an unquoted INTERVAL amount ...) is reported there, once."""
    from ..sql.dialect_rules import dialect_violations
    from .prerequisites import blocked

    assert ctx.query is not None
    problems = dialect_violations(parsed.sql, ctx.pack.dialect, list(parsed.tokens) or None)
    if problems:
        raise blocked(f"{ctx.session.library.query_nodeid(ctx.query)}::syntax", problems[0].message)


def _minus(rows: list[tuple[Any, ...]], other: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    rest = list(other)
    out = []
    for row in rows:
        if row in rest:
            rest.remove(row)
        else:
            out.append(row)
    return out


def _order_keys(pg_sql: str, columns: tuple[str, ...]) -> list[int]:
    """Result positions of the top-level ORDER BY keys (empty when there is none, or one is not a result
    column): rows that tie on them may come back in any order on either engine."""
    import sqlglot
    from sqlglot import exp

    order = sqlglot.parse_one(pg_sql, read="postgres").args.get("order")
    if order is None:
        return []
    names = [c.lower() for c in columns]
    keys = []
    for ordered in order.expressions:
        key = ordered.this
        if isinstance(key, exp.Literal) and key.is_int and 0 < int(key.this) <= len(names):
            keys.append(int(key.this) - 1)
        elif isinstance(key, exp.Column) and key.name.lower() in names:
            keys.append(names.index(key.name.lower()))
        else:
            return []
    return keys


def _keys_of(rows: tuple[tuple[Any, ...], ...], keys: list[int]) -> list[tuple[Any, ...]]:
    return [tuple(normalized(row[k]) for k in keys) for row in rows]


def _construct_of_error(message: str, pg_sql: str) -> str:
    import re

    import sqlglot
    from sqlglot import exp

    text = message.lower()
    missing = re.search(r'column "([^"]+)" does not exist', message)
    if missing:
        tree = sqlglot.parse_one(pg_sql, read="postgres")
        aliases = {a.alias.lower() for a in tree.find_all(exp.Alias) if a.alias}
        if missing.group(1).lower() in aliases:
            return (f" (an output-column alias used in WHERE, GROUP BY or HAVING: {missing.group(1)!r} is a SELECT alias, which "
                    "DuckDB resolves there and PostgreSQL does not; repeat the expression)")
    if re.search(r"\binterval\s+[-+]?\d", pg_sql, re.IGNORECASE) or "interval" in text:
        return " (interval syntax: PostgreSQL writes INTERVAL '90 days', with the unit inside the quotes)"
    if "operator does not exist" in text or "invalid input syntax for type" in text or "cannot be matched" in text:
        return " (an implicit cast DuckDB makes and PostgreSQL does not: cast the operand explicitly)"
    return ""


def _construct_of_difference(ctx: CheckContext, pg_sql: str, duckdb: QueryResult, postgres: QueryResult, *, same_rows: bool) -> str:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(pg_sql, read="postgres")
    if same_rows or any(isinstance(o, exp.Ordered) and o.args.get("desc") for o in tree.find_all(exp.Ordered)):
        if any(None in row for row in duckdb.rows + postgres.rows) or same_rows:
            return " (NULL ordering: PostgreSQL sorts NULLs first in DESC order, DuckDB last; write NULLS FIRST or NULLS LAST)"
    assert ctx.board is not None and ctx.query is not None and ctx.version is not None
    typed = ctx.session.queries.typed(ctx.pack, ctx.board, ctx.query, ctx.version)
    for div in typed.find_all(exp.Div):
        left, right = div.this.type, div.expression.type
        if left is not None and right is not None and left.is_type(*exp.DataType.INTEGER_TYPES) and right.is_type(*exp.DataType.INTEGER_TYPES):
            return f" (integer division: {div.sql('postgres')} divides two integers, which PostgreSQL truncates; cast one side to numeric)"
    if any(isinstance(d, exp.Div) for d in tree.find_all(exp.Div)):
        return " (integer division? PostgreSQL truncates a division of two integers; cast one side to numeric)"
    return ""
