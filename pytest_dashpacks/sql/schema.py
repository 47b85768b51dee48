"""Resolving tables and columns against a connector version; a missing one is traced to the change that removed it.

Rules are pure functions named after what they return; every function that
changes an AST works on a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import SqlExcerpt
from ..load.yaml import closest
from ..model import Change, ConnectorVersion, TableSpec
from .render import MODEL_SCHEMA

if TYPE_CHECKING:
    from sqlglot import exp
from .parse import Problem, excerpt_at

# --- schemas ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelOutput:
    """A connector model's output columns in one version, or why it does not build."""

    name: str
    columns: dict[str, str]  # lower-cased name -> SQL type
    problem: Problem | None = None
    lineage: dict[str, tuple[TableSpec, str]] | None = None  # output column -> connector column it passes through


def mapping_schema(version: ConnectorVersion, models: dict[str, ModelOutput]) -> dict[str, dict[str, dict[str, str]]]:
    """{schema: {table: {column: type}}} for sqlglot, models included under the model schema."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for table in version.tables.values():
        out.setdefault(table.schema.lower(), {})[table.name.lower()] = {c.name.lower(): c.type for c in table.columns}
    for model in models.values():
        if model.problem is None:
            out.setdefault(MODEL_SCHEMA, {})[model.name.lower()] = dict(model.columns)
    return out


@dataclass
class _Source:
    """What a FROM item provides: known columns, or None when they cannot be known."""

    columns: dict[str, str] | None
    table: TableSpec | None = None


def schema_problems(
    ast: exp.Query, sql: str, version: ConnectorVersion, models: dict[str, ModelOutput], default_schema: str
) -> list[Problem]:
    """Tables and columns the query names that ``version`` does not have."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.scope import Scope, traverse_scope

    problems: list[Problem] = []
    reported: set[str] = set()
    try:
        scopes = traverse_scope(ast)
    except SqlglotError as exc:  # sqlglot cannot build scopes for some exotic SQL
        return [Problem(f"cannot analyse the query's scopes: {exc}", SqlExcerpt(sql, 0, 0))]
    resolved: dict[int, dict[str, _Source]] = {}

    def table_source(table: exp.Table) -> _Source:
        schema = (table.db or default_schema).lower()
        name = table.name.lower()
        if schema == MODEL_SCHEMA:
            model = models.get(name)
            if model is None:
                _report(f"table:{schema}.{name}", Problem(f"model {name} does not exist", excerpt_at(sql, table)))
                return _Source(None)
            if model.problem is not None:
                _report(
                    f"model:{name}",
                    Problem(
                        f"model {name} does not build on {version.label}: {model.problem.message}",
                        excerpt_at(sql, table),
                        model.problem.cause,
                        model.problem.hint,
                    ),
                )
                return _Source(None)
            return _Source(model.columns)
        spec = version.table(schema, name)
        if spec is None:
            _report(f"table:{schema}.{name}", _missing_table(sql, table, schema, name, version))
            return _Source(None)
        return _Source({c.name.lower(): c.type for c in spec.columns}, spec)

    def _report(key: str, problem: Problem) -> None:
        if key not in reported:
            reported.add(key)
            problems.append(problem)

    for scope in scopes:  # children come first, so derived tables can use their inner sources
        sources: dict[str, _Source] = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and isinstance(source.this, exp.Func):
                sources[alias.lower()] = _Source(None)  # a table function (range, generate_series, ...)
            elif isinstance(source, exp.Table):
                sources[alias.lower()] = table_source(source)
            elif isinstance(source, Scope):
                sources[alias.lower()] = _scope_source(source, resolved)
            else:
                sources[alias.lower()] = _Source(None)
        resolved[id(scope)] = sources
    for scope in scopes:  # a second pass: correlated columns need their outer scope's sources
        sources = resolved[id(scope)]
        if isinstance(scope.expression, exp.SetOperation):
            # ORDER BY after a UNION names the output columns of its first branch.
            aliases = {name.lower() for name in scope.expression.named_selects}
        else:
            aliases = {s.alias.lower() for s in getattr(scope.expression, "selects", []) if isinstance(s, exp.Alias)}
        # sqlglot lists a subquery's unresolved columns in its parent scope too; the subquery's own
        # pass resolves them against its FROM first and only then correlates outward.
        inner = {id(c) for child in scope.subquery_scopes for c in child.columns}
        for column in scope.columns:
            if id(column) in inner:
                continue
            problem = _column_problem(column, scope, sources, aliases, resolved, sql, version)
            if problem is not None:
                _report(f"column:{column.sql()}", problem)
    return problems


def _scope_source(scope: Any, resolved: dict[int, dict[str, _Source]]) -> _Source:
    from sqlglot import exp

    expression = scope.expression
    if not isinstance(expression, exp.Query) or not isinstance(expression, (exp.Select, exp.SetOperation)):
        return _Source(None)
    selects = expression.selects
    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and isinstance(s.this, exp.Star)) for s in selects):
        inner = resolved.get(id(scope), {})
        if len(inner) == 1 and all(isinstance(s, exp.Star) for s in selects):
            return next(iter(inner.values()))
        return _Source(None)
    return _Source({name.lower(): "" for name in expression.named_selects})


def _column_problem(
    column: exp.Column,
    scope: Any,
    sources: dict[str, _Source],
    aliases: set[str],
    resolved: dict[int, dict[str, _Source]],
    sql: str,
    version: ConnectorVersion,
) -> Problem | None:
    name = column.name.lower()
    if not name or column.is_star:
        return None
    qualifier = column.table.lower()
    if qualifier:
        source = sources.get(qualifier) or _outer_source(scope, qualifier, resolved)
        if source is None:
            # `t.s.f`: struct field access; `col.field` where col belongs to a source.
            if column.args.get("db") and column.text("db").lower() in sources:
                return None
            if any(s.columns is None or qualifier in s.columns for s in sources.values()):
                return None
            return Problem(f"unknown table or alias {column.table!r} in {column.sql()}", excerpt_at(sql, column))
        if source.columns is None or name in source.columns:
            return None
        return _missing_column(sql, column, source, version)
    if name in aliases and not _inside_own_alias(column, name):
        return None
    if any(s.columns is None or name in s.columns for s in sources.values()):
        return None
    if any(s.columns is None or name in s.columns or name == alias for alias, s in _outer_sources(scope, resolved)):
        return None
    if name in sources:  # BigQuery: a bare table alias used as a value
        return None
    tables = [s for s in sources.values() if s.table is not None]
    if len(tables) == 1:
        return _missing_column(sql, column, tables[0], version)
    candidates = sorted({c for s in sources.values() for c in (s.columns or {})})
    hint = closest(name, candidates)
    return Problem(
        f"column {column.name} does not exist in any table of this query in {version.label}",
        excerpt_at(sql, column),
        hint=f"did you mean {hint}?" if hint else "",
    )


def _inside_own_alias(column: Any, name: str) -> bool:
    """``COALESCE(status, 'x') AS status``: the inner ``status`` is a column, not the alias."""
    from sqlglot import exp

    alias = column.find_ancestor(exp.Alias)
    return alias is not None and alias.alias.lower() == name


def _outer_sources(scope: Any, resolved: dict[int, dict[str, _Source]]) -> Iterable[tuple[str, _Source]]:
    """Sources a scope may correlate with: only (nested) subqueries and lateral sources see outward."""
    current = scope
    while current.parent is not None and (current.is_subquery or current.is_udtf):
        current = current.parent
        yield from resolved.get(id(current), {}).items()


def _outer_source(scope: Any, qualifier: str, resolved: dict[int, dict[str, _Source]]) -> _Source | None:
    return next((s for alias, s in _outer_sources(scope, resolved) if alias == qualifier), None)


def _missing_table(sql: str, table: exp.Table, schema: str, name: str, version: ConnectorVersion) -> Problem:
    cause = None
    for change in reversed(version.lineage):
        p = change.params
        if change.kind == "rename_table" and table_name_of(p["from"]) == name:
            cause = change
            hint = f"use {p['to']}"
            break
        if change.kind == "drop_table" and table_name_of(p["table"]) == name:
            cause, hint = change, ""
            break
    else:
        names = sorted({t.name.lower() for t in version.tables.values() if t.schema.lower() == schema})
        close = closest(name, names)
        hint = f"did you mean {schema}.{close}?" if close else ""
    where = f"{schema}.{name}"
    return Problem(f"table {where} does not exist in {version.label}", excerpt_at(sql, table), cause, hint)


def _missing_column(sql: str, column: exp.Column, source: _Source, version: ConnectorVersion) -> Problem:
    name = column.name.lower()
    table = source.table
    owner = f"{table.schema}.{table.name}" if table else (column.table or "the source")
    cause, hint = None, ""
    if table is not None:
        cause, hint = _column_history(table, name, version)
    if not hint:
        close = closest(name, source.columns or {})
        hint = f"did you mean {close}?" if close else ""
    return Problem(f"column {owner}.{column.name} does not exist in {version.label}", excerpt_at(sql, column), cause, hint)


def table_name_of(key: str) -> str:
    return str(key).rpartition(".")[2].lower()


def _column_history(table: TableSpec, column: str, version: ConnectorVersion) -> tuple[Change | None, str]:
    """The change that removed ``table.column`` and where the column went, if anywhere."""
    names = {table.name.lower()}
    for change in version.lineage:  # a table renamed later still answers to its old name
        if change.kind == "rename_table" and table_name_of(change.params["to"]) in names:
            names.add(table_name_of(change.params["from"]))
    for change in reversed(version.lineage):
        p = change.params
        if change.kind == "rename_column" and table_name_of(p["table"]) in names and str(p["from"]).lower() == column:
            return change, f"renamed to {p['to']}: use {p['to']}"
        if change.kind == "drop_column" and table_name_of(p["table"]) in names and str(p["column"]).lower() == column:
            moved = [
                c for c in version.lineage
                if c.kind in ("add_column", "add_table") and c.version == change.version and _adds_column(c, column)
            ]
            if moved:
                target = moved[0].params["table"]
                return change, f"moved to {target}.{p['column']}: join {target} to read it"
            return change, ""
    return None, ""


def _adds_column(change: Change, column: str) -> bool:
    if change.kind == "add_column":
        return str(change.params["column"]).lower() == column
    return column in {str(c).lower() for c in change.params.get("columns", {})}


def sqlglot_schema(schema: dict[str, Any], dialect: str, *, duckdb_types: bool = False) -> Any:
    """A sqlglot MappingSchema; build it once per version and dialect (it normalizes every name).

    With ``duckdb_types``, column types keep their DuckDB meaning (a fixture ``timestamp`` is naive,
    where BigQuery would read the name as an instant), as translating to DuckDB needs them.
    """
    from sqlglot import exp
    from sqlglot.schema import MappingSchema

    if duckdb_types:
        schema = {
            db: {table: {column: exp.DataType.build(kind, dialect="duckdb", udt=True) for column, kind in columns.items()}
                 for table, columns in tables.items()}
            for db, tables in schema.items()
        }
    return MappingSchema(schema, dialect=dialect)


def qualified(ast: exp.Query, schema: Any, dialect: str, *, copy: bool = True, types: bool = True) -> exp.Query:
    """``ast`` with qualified columns and expanded stars (a copy unless ``copy=False``);
    with ``types``, every node also carries its type."""
    from sqlglot.optimizer.qualify import qualify

    tree = qualify(
        ast.copy() if copy else ast, schema=schema, dialect=dialect, validate_qualify_columns=False, quote_identifiers=False,
        expand_stars=True,
    )
    return annotated(tree, schema, dialect) if types else tree


def annotated(tree: exp.Query, schema: Any, dialect: str) -> exp.Query:
    """``tree`` (qualified) with types annotated in place."""
    from sqlglot.optimizer.annotate_types import annotate_types

    return annotate_types(tree, schema=schema, dialect=dialect)


