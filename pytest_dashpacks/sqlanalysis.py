"""SQL analysis with sqlglot: parsing, resolving tables and columns against a
connector version, type and accepted-value checks, output columns, transpiling.

Rules are pure functions named after what they return; every function that
changes an AST works on a copy.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Iterable

from .errors import RenderError, SqlExcerpt
from .model import Change, ConnectorVersion, TableSpec
from .rendering import MODEL_SCHEMA

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


@dataclass(frozen=True)
class ModelOutput:
    """A connector model's output columns in one version, or why it does not build."""

    name: str
    columns: dict[str, str]  # lower-cased name -> SQL type
    problem: Problem | None = None
    lineage: dict[str, tuple[TableSpec, str]] | None = None  # output column -> connector column it passes through


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


# --- schemas ---------------------------------------------------------------------------


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
    from sqlglot.optimizer.scope import Scope, traverse_scope

    problems: list[Problem] = []
    reported: set[str] = set()
    try:
        scopes = traverse_scope(ast)
    except Exception as exc:  # sqlglot cannot build scopes for some exotic SQL
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
    hint = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return Problem(
        f"column {column.name} does not exist in any table of this query in {version.label}",
        excerpt_at(sql, column),
        hint=f"did you mean {hint[0]}?" if hint else "",
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
        if change.kind == "rename_table" and _last(p["from"]) == name:
            cause = change
            hint = f"use {p['to']}"
            break
        if change.kind == "drop_table" and _last(p["table"]) == name:
            cause, hint = change, ""
            break
    else:
        names = sorted({t.name.lower() for t in version.tables.values() if t.schema.lower() == schema})
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"did you mean {schema}.{close[0]}?" if close else ""
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
        close = difflib.get_close_matches(name, list(source.columns or {}), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else ""
    return Problem(f"column {owner}.{column.name} does not exist in {version.label}", excerpt_at(sql, column), cause, hint)


def _last(key: str) -> str:
    return str(key).rpartition(".")[2].lower()


def _column_history(table: TableSpec, column: str, version: ConnectorVersion) -> tuple[Change | None, str]:
    """The change that removed ``table.column`` and where the column went, if anywhere."""
    names = {table.name.lower()}
    for change in version.lineage:  # a table renamed later still answers to its old name
        if change.kind == "rename_table" and _last(change.params["to"]) in names:
            names.add(_last(change.params["from"]))
    for change in reversed(version.lineage):
        p = change.params
        if change.kind == "rename_column" and _last(p["table"]) in names and str(p["from"]).lower() == column:
            return change, f"renamed to {p['to']}: use {p['to']}"
        if change.kind == "drop_column" and _last(p["table"]) in names and str(p["column"]).lower() == column:
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


# --- types and accepted values ----------------------------------------------------------


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
            base = _trace(scope, column.table, column.name, version, default_schema, models, 0)
            if base is not None:
                out[id(column)] = base
    return out


def _trace(
    scope: Any, alias: str, name: str, version: ConnectorVersion, default_schema: str, models: dict[str, ModelOutput], depth: int
) -> tuple[TableSpec, str] | None:
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
                    return _trace(source, inner.table, inner.name, version, default_schema, models, depth + 1)
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
            if c.kind == "change_values" and _last(c.params["table"]) == table.name.lower() and str(c.params["column"]).lower() == name.lower()
        ),
        None,
    )
    same_letters = [v for v in accepted if v.lower() == literal.this.lower()]
    close = difflib.get_close_matches(literal.this, accepted, n=1, cutoff=0.5)
    if same_letters:
        hint = f"values are case-sensitive: use {same_letters[0]!r}"
    else:
        hint = f"did you mean {close[0]!r}?" if close else ""
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
                    if c.kind == "change_type" and _last(c.params["table"]) == table.name.lower() and str(c.params["column"]).lower() == name.lower()
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
                base = _trace(root, inner.table, inner.name, version, default_schema, built, 0)
                if base is not None:
                    lineage[select.alias_or_name.lower()] = base
    return ModelOutput(name, columns, lineage=lineage)


# --- transpiling ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def known_functions(dialect: str) -> frozenset[str] | None:
    """The target's built-in function names (shipped catalogs), or None when we have none."""
    path = resources.files("pytest_dashpacks.function_catalogs").joinpath(f"{dialect}.txt")
    if not path.is_file():
        return None
    names = (line.strip().upper() for line in path.read_text("utf-8").splitlines())
    return frozenset(n for n in names if n and not n.startswith("#"))


# Words that precede "(" in generated SQL without being function calls.
_WEEKDAYS = {"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"}
_NOT_CALLS = {
    "IN", "OVER", "AS", "VALUES", "EXISTS", "ON", "USING", "AND", "OR", "NOT", "FROM", "JOIN", "WHERE", "SELECT",
    "WITH", "FILTER", "WITHIN", "GROUP", "BY", "INTERVAL", "ROW", "TABLE", "LATERAL", "THEN", "ELSE", "WHEN",
    "CASE", "RETURNS", "PARTITION", "ORDER", "HAVING", "QUALIFY", "UNION", "ALL", "ANY", "SOME", "IS", "LIKE",
    "ILIKE", "BETWEEN", "DISTINCT", "RECURSIVE", "WINDOW", "ROWS", "RANGE", "LIMIT", "INTERSECT", "EXCEPT",
    "PIVOT", "UNPIVOT", "FOR", "TABLESAMPLE", "MATCH_RECOGNIZE", "RESPECT", "IGNORE", "NULLS", "CUBE", "ROLLUP",
    "SETS", "GROUPING",
}


def transpile(ast: exp.Query, target: str, *, copy: bool = True) -> str:
    """The query as ``target`` SQL; raises sqlglot's UnsupportedError where it knows it cannot.

    With ``copy=False`` the generator may rewrite ``ast``: pass a fresh parse, which costs
    less than the deep copy sqlglot otherwise makes.
    """
    from sqlglot.errors import ErrorLevel

    return ast.sql(dialect=target, unsupported_level=ErrorLevel.RAISE, copy=copy)


def parse_back(sql: str, target: str) -> tuple[exp.Query, list[Any]]:
    """Parse transpiled SQL in the target dialect, returning the tree and its tokens."""
    from sqlglot.dialects.dialect import Dialect

    dialect = Dialect.get_or_raise(target)
    tokens = dialect.tokenize(sql)
    return dialect.parser().parse(tokens, sql)[0], tokens


def called_functions(sql: str, dialect: str, tokens: list[Any] | None = None) -> list[tuple[str, int, int]]:
    """(NAME, line, column) of every call in ``sql`` as the dialect tokenizes it."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    if tokens is None:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    type_tokens = _type_tokens()
    calls = []
    for i, token in enumerate(tokens[:-1]):
        if tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        # DECIMAL(18, 2) after AS or :: is a cast target; TIMESTAMP(x) elsewhere is a call.
        if token.token_type in type_tokens and i and tokens[i - 1].token_type in (TokenType.ALIAS, TokenType.DCOLON):
            continue
        if token.token_type in (TokenType.IDENTIFIER, TokenType.STRING, TokenType.R_PAREN, TokenType.L_PAREN):
            continue
        name = token.text.upper()
        if name in _NOT_CALLS or not name[:1].isalpha() and name[:1] != "_":
            continue
        if name == "WEEK" and i + 2 < len(tokens) and tokens[i + 2].text.upper() in _WEEKDAYS:
            continue  # BigQuery's date part WEEK(MONDAY), not a call
        j = i
        while j >= 2 and tokens[j - 1].token_type == TokenType.DOT and tokens[j - 2].token_type == TokenType.VAR:
            name = tokens[j - 2].text.upper() + "." + name
            j -= 2
        previous = tokens[j - 1].token_type if j >= 1 else None
        # "t AS alias(a, b)" and "WITH cte(a, b) AS (...)" are column lists, not calls.
        if previous == TokenType.ALIAS or (previous in (TokenType.WITH, TokenType.COMMA) and _opens_cte_body(tokens, i + 1)):
            continue
        calls.append((name, token.line, token.col - len(token.text) + 1))
    return calls


def _opens_cte_body(tokens: list[Any], open_index: int) -> bool:
    """True when the parenthesis at ``open_index`` closes right before ``AS (``."""
    from sqlglot.tokens import TokenType

    depth = 0
    for index in range(open_index, len(tokens)):
        kind = tokens[index].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                following = [t.token_type for t in tokens[index + 1 : index + 3]]
                return following == [TokenType.ALIAS, TokenType.L_PAREN]
    return False


@functools.lru_cache(maxsize=1)
def _type_tokens() -> frozenset[Any]:
    from sqlglot.parser import Parser

    return frozenset(Parser.TYPE_TOKENS)


def unknown_functions(
    target_sql: str, target: str, back: exp.Query, tokens: list[Any] | None = None
) -> list[tuple[str, int, int]]:
    """Calls in the target SQL that the target warehouse does not have."""
    from sqlglot import exp

    known = known_functions(target)
    calls = called_functions(target_sql, target, tokens)
    if known is None:  # no catalog: only what sqlglot itself does not know
        anonymous = {f.name.upper() for f in back.find_all(exp.Anonymous)}
        return [c for c in calls if c[0] in anonymous]
    return [c for c in calls if c[0] not in known and c[0].rpartition(".")[2] not in known]


# Syntax that sqlglot passes through unchanged to warehouses that reject it.
_UNSUPPORTED_SYNTAX: dict[str, tuple[tuple[str, str], ...]] = {
    "redshift": (("Filter", "aggregate FILTER (WHERE ...)"), ("Lambda", "lambda expressions (x -> ...)")),
    "mysql": (("Filter", "aggregate FILTER (WHERE ...)"), ("Lambda", "lambda expressions (x -> ...)")),
    "postgres": (("Lambda", "lambda expressions (x -> ...)"),),
    "bigquery": (("Lambda", "lambda expressions (x -> ...)"),),
}


def unsupported_syntax(back: exp.Query, target: str) -> list[str]:
    """Constructs in the transpiled query that ``target`` cannot run."""
    from sqlglot import exp

    found = []
    for class_name, description in _UNSUPPORTED_SYNTAX.get(target, ()):
        if back.find(getattr(exp, class_name)) is not None:
            found.append(description)
    return found
