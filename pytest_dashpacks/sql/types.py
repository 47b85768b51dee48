"""Type and accepted-value checks: comparisons between categories that cannot match, literals no row can hold."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..load.yaml import closest
from ..model import ConnectorVersion, TableSpec
from .render import MODEL_SCHEMA

if TYPE_CHECKING:
    from sqlglot import exp
from .parse import Problem, excerpt_at
from .schema import ModelOutput, table_name_of

# --- types and accepted values ----------------------------------------------------------


_COMPARISONS = ("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ")


def compares_expressions(tree: exp.Query) -> bool:
    """Whether any comparison has two non-literal sides (only those need types)."""
    from sqlglot import exp

    literal = (exp.Literal, exp.Null, exp.Boolean, exp.Placeholder)
    for node in tree.find_all(*(getattr(exp, name) for name in _COMPARISONS)):
        if not isinstance(node.left.unnest(), literal) and not isinstance(node.right.unnest(), literal):
            return True
    return False


_CATEGORIES = ("text", "number", "boolean", "temporal")


def type_category(data_type: Any) -> str | None:
    from sqlglot import exp

    if data_type is None:
        return None
    t = data_type.this
    if t in exp.DataType.TEXT_TYPES:
        return "text"
    if t in exp.DataType.NUMERIC_TYPES:
        return "number"
    if t == exp.DataType.Type.BOOLEAN:
        return "boolean"
    if t in exp.DataType.TEMPORAL_TYPES:
        return "temporal"
    return None


def _base_columns(
    tree: exp.Query, version: ConnectorVersion, default_schema: str, models: dict[str, ModelOutput]
) -> dict[int, tuple[TableSpec, str]]:
    """id(column node) -> (table, column) for columns that pass a connector column through unchanged,
    directly or via CTEs, subqueries and models."""
    from sqlglot.optimizer.scope import traverse_scope

    out: dict[int, tuple[TableSpec, str]] = {}
    for scope in traverse_scope(tree):
        for column in scope.columns:
            base = trace_column(scope, column.table, column.name, version, default_schema, models, 0)
            if base is not None:
                out[id(column)] = base
    return out


def trace_column(
    scope: Any, alias: str, name: str, version: ConnectorVersion, default_schema: str, models: dict[str, ModelOutput], depth: int
) -> tuple[TableSpec, str] | None:
    """The connector column ``alias.name`` passes through unchanged in ``scope``, following subqueries and models."""
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

    source = scope.sources.get(alias)
    if isinstance(source, exp.Table):
        schema = (source.db or default_schema).lower()
        if schema == MODEL_SCHEMA:
            model = models.get(source.name.lower())
            return (model.lineage or {}).get(name.lower()) if model else None
        spec = version.table(schema, source.name.lower())
        return (spec, name) if spec is not None and spec.column(name) is not None else None
    if isinstance(source, Scope) and isinstance(source.expression, exp.Select) and depth < 32:
        for select in source.expression.selects:
            if select.alias_or_name.lower() == name.lower():
                inner = select.unalias()
                if isinstance(inner, exp.Column):
                    return trace_column(source, inner.table, inner.name, version, default_schema, models, depth + 1)
                return None
    return None


def type_and_value_problems(
    tree: exp.Query, sql: str, version: ConnectorVersion, default_schema: str, models: dict[str, ModelOutput]
) -> list[Problem]:
    """Compared or joined columns of incompatible types; literals outside accepted ``values``.

    ``tree`` is the query as :func:`qualified` returns it.
    """
    from sqlglot import exp

    bases = _base_columns(tree, version, default_schema, models)
    problems: list[Problem] = []
    comparisons = tuple(getattr(exp, name) for name in _COMPARISONS)
    for node in tree.find_all(*comparisons, exp.In):
        if isinstance(node, exp.In):
            left, rights = node.this, list(node.expressions)
        else:
            left, rights = node.left, [node.right]
        for a, b in [(left, r) for r in rights] + [(r, left) for r in rights]:
            problem = _value_problem(a, b, bases, sql, version)
            if problem:
                problems.append(problem)
        if not isinstance(node, exp.In):
            problem = _type_problem(node, bases, sql, version)
            if problem:
                problems.append(problem)
    return problems


def _value_problem(column: Any, literal: Any, bases: dict[int, tuple[TableSpec, str]], sql: str, version: ConnectorVersion) -> Problem | None:
    from sqlglot import exp

    if not isinstance(column, exp.Column) or not isinstance(literal, exp.Literal) or not literal.is_string:
        return None
    base = bases.get(id(column))
    if base is None:
        return None
    table, name = base
    spec = table.column(name)
    if spec is None or spec.values is None:
        return None
    accepted = [str(v) for v in spec.values]
    if literal.this in accepted:
        return None
    cause = next(
        (
            c for c in reversed(version.lineage)
            if c.kind == "change_values" and table_name_of(c.params["table"]) == table.name.lower() and str(c.params["column"]).lower() == name.lower()
        ),
        None,
    )
    same_letters = [v for v in accepted if v.lower() == literal.this.lower()]
    close = closest(literal.this, accepted)
    if same_letters:
        hint = f"values are case-sensitive: use {same_letters[0]!r}"
    else:
        hint = f"did you mean {close!r}?" if close else ""
    return Problem(
        f"{table.schema}.{table.name}.{spec.name} is compared with {literal.this!r}, which {version.label} never emits "
        f"(accepted values: {', '.join(accepted)})",
        excerpt_at(sql, column),
        cause,
        hint,
        still_runs=True,
    )


def _type_problem(node: Any, bases: dict[int, tuple[TableSpec, str]], sql: str, version: ConnectorVersion) -> Problem | None:
    from sqlglot import exp

    left, right = node.left, node.right
    if any(isinstance(side.unnest(), (exp.Literal, exp.Null, exp.Boolean, exp.Placeholder)) for side in (left, right)):
        return None
    a, b = type_category(left.type), type_category(right.type)
    if a is None or b is None or a == b:
        return None
    role = "joins" if node.find_ancestor(exp.Join) is not None else "compares"
    cause = None
    for side in (left, right):
        for column in side.find_all(exp.Column):
            base = bases.get(id(column))
            if base is None:
                continue
            table, name = base
            cause = cause or next(
                (
                    c for c in reversed(version.lineage)
                    if c.kind == "change_type" and table_name_of(c.params["table"]) == table.name.lower() and str(c.params["column"]).lower() == name.lower()
                ),
                None,
            )
    return Problem(
        f"{role} {left.sql()} ({left.type.sql().upper()}) with {right.sql()} ({right.type.sql().upper()}) in {version.label}: "
        f"Redshift and Postgres refuse to compare {a} with {b}",
        excerpt_at(sql, left),
        cause,
        "cast one side explicitly (CAST(x AS VARCHAR)) so every warehouse compares the same way",
    )


