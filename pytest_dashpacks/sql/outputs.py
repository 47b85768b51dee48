"""The columns a query or connector model returns, and each model's output in one connector version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import RenderError
from ..model import ConnectorVersion, TableSpec
from .render import MODEL_SCHEMA

if TYPE_CHECKING:
    from sqlglot import exp
from .parse import Problem, parse_query
from .schema import ModelOutput, mapping_schema, qualified, schema_problems, sqlglot_schema
from .types import trace_column, type_category

# --- output columns -------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputColumn:
    name: str
    category: str | None  # text, number, boolean, temporal, or None when unknown


def output_columns(ast: exp.Query, tree: exp.Query | None) -> list[OutputColumn] | None:
    """The columns the query returns with their type category; None if they cannot be known.

    ``tree`` is the query as :func:`qualified` returns it, or None when it could not be qualified.
    """
    from sqlglot import exp

    if tree is None:
        if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star) for s in ast.selects):
            return None
        return [OutputColumn(name, None) for name in ast.named_selects]
    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star) for s in tree.selects):
        return None
    return [OutputColumn(s.alias_or_name, type_category(s.type)) for s in tree.selects]


# --- models --------------------------------------------------------------------------------


def model_outputs(
    models: list[tuple[str, str]], version: ConnectorVersion, default_schema: str
) -> dict[str, ModelOutput]:
    """Build each rendered model (name, sql) on ``version``, in dependency order."""
    out: dict[str, ModelOutput] = {}
    pending = dict(models)
    while pending:
        progressed = False
        for name, sql in list(pending.items()):
            deps = [m for m in pending if m != name and f"{MODEL_SCHEMA}.{m}" in sql]
            if deps:
                continue
            out[name] = _model_output(name, sql, version, out, default_schema)
            del pending[name]
            progressed = True
        if not progressed:  # a ref cycle: report each remaining model
            for name in pending:
                out[name] = ModelOutput(name, {}, Problem(f"models reference each other in a cycle: {', '.join(pending)}", None))
            break
    return out


def _model_output(name: str, sql: str, version: ConnectorVersion, built: dict[str, ModelOutput], default_schema: str) -> ModelOutput:
    try:
        ast = parse_query(sql, "duckdb")
    except RenderError as exc:
        return ModelOutput(name, {}, Problem(exc.message, exc.sql))
    problems = schema_problems(ast, sql, version, built, default_schema)
    if problems:
        return ModelOutput(name, {}, problems[0])
    from sqlglot import exp
    from sqlglot.optimizer.scope import build_scope

    schema = sqlglot_schema(mapping_schema(version, built), "duckdb")
    tree = qualified(ast, schema, "duckdb")
    columns = {s.alias_or_name.lower(): s.type.sql("duckdb") if s.type else "" for s in tree.selects}
    root = build_scope(tree)
    lineage: dict[str, tuple[TableSpec, str]] = {}
    if root is not None and isinstance(tree, exp.Select):
        for select in tree.selects:
            inner = select.unalias()
            if isinstance(inner, exp.Column):
                base = trace_column(root, inner.table, inner.name, version, default_schema, built, 0)
                if base is not None:
                    lineage[select.alias_or_name.lower()] = base
    return ModelOutput(name, columns, lineage=lineage)


