"""Rendering board SQL (SPEC section 5).

Variables render as SQL literals, except inside a quoted SQL literal
(``'{{ start }}'``), where they render their bare value. ``ref()`` names a
fixture model, ``source()`` a connector table, ``{{ queries.other }}`` expands
another query of the board, and ``filter()`` / ``filter_date_range()`` build
predicates that collapse to ``TRUE`` when the variable is unset.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import RenderError
from ..model import Board, Query
from .jinja import RENDER_BUDGET, RenderBudget, compiled_template, current_budget, quote_aware, render_within_budget, sandboxed_environment, spend_output
from .literals import SqlValue, is_unset, sql_literal

MODEL_SCHEMA = "models"  # ref('x') renders as models.x; fixture databases create the views there

# Table names that are reserved words in some warehouse and must be quoted.
_RESERVED = {"order", "group", "user", "table", "select", "from", "where", "limit", "to", "case", "end", "all", "grant", "check"}
_BACKTICK_DIALECTS = {"bigquery", "databricks", "spark", "spark2", "hive", "mysql", "doris", "starrocks", "clickhouse"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OPERATORS = {"=", "!=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "ilike", "not like"}
# What makes a template more than its own text: a Jinja delimiter, or a carriage return (Jinja writes
# every line break as "\n"). Most board SQL has neither, and renders as itself without Jinja.
_NOT_PLAIN = re.compile(r"\{[{%#]|\r")
_GLOBALS = {"ref", "source", "filter", "filter_date_range", "queries", "variables"}
# How a template names another query it pastes and a model it reads, for the rules that read template text.
PASTED_QUERY = re.compile(r"queries\.(\w+)")
REF_CALL = re.compile(r"""ref\(\s*['"]([^'"]+)['"]""")


def pasted_queries(query: Query, board: Board) -> list[Query]:
    """``query`` and every query of ``board`` it pastes, directly or through another, each once.
    ``queries['x']`` pastes by a name the pattern does not see: then every query of the board counts."""
    found, pending, seen = [], [query], {query.name}
    while pending:
        current = pending.pop()
        found.append(current)
        names = [q.name for q in board.queries] if "queries[" in current.sql else PASTED_QUERY.findall(current.sql)
        for name in names:
            pasted = board.query(name)
            if pasted is not None and name not in seen:
                seen.add(name)
                pending.append(pasted)
    return found


@dataclass(frozen=True)
class RenderContext:
    """What a board query may see when it renders."""

    connector: str
    schema: str
    dialect: str
    models: tuple[str, ...]
    values: dict[str, Any]  # variable -> value under test
    queries: dict[str, str] = field(default_factory=dict)  # board query name -> template


def quote_table(name: str, dialect: str) -> str:
    if name.lower() not in _RESERVED:
        return name
    return f"`{name}`" if dialect in _BACKTICK_DIALECTS else f'"{name}"'


def _source(ctx: RenderContext, source_name: str, table: str) -> str:
    schema = ctx.schema if source_name == ctx.connector else source_name
    return f"{schema}.{quote_table(table, ctx.dialect)}"


def _ref(ctx: RenderContext, name: str) -> str:
    if name not in ctx.models:
        known = ", ".join(ctx.models) or "none"
        raise RenderError(f"ref({name!r}): connector {ctx.connector} has no model {name!r} (models: {known})")
    return f"{MODEL_SCHEMA}.{name}"


def _column_arg(column: Any, helper: str) -> str:
    if not isinstance(column, str) or not _IDENTIFIER.match(column):
        raise RenderError(f"{helper}(): column must be an identifier such as 'created' or 't.created', got {column!r}")
    return column


def _filter(column: Any, value: Any = None, operator: str = "=", none: str = "allow") -> str:
    column = _column_arg(column, "filter")
    if operator.lower() not in _OPERATORS:
        raise RenderError(f"filter(): operator {operator!r} is not one of {', '.join(sorted(_OPERATORS))}")
    raw = value.raw if isinstance(value, SqlValue) else value
    if is_unset(raw):
        return "FALSE" if none == "deny" else "TRUE"
    if isinstance(raw, (list, tuple)):
        values = [v for v in raw if v not in (None, "")]
        negate = operator.lower() in ("!=", "<>", "not in")
        return f"{column} {'NOT IN' if negate else 'IN'} {sql_literal(values)}"
    if isinstance(raw, str) and _DATE.match(raw):
        column = f"CAST({column} AS DATE)"
    return f"{column} {operator.upper()} {sql_literal(raw)}"


def _filter_date_range(column: Any, value: Any = None) -> str:
    column = _column_arg(column, "filter_date_range")
    raw = value.raw if isinstance(value, SqlValue) else value
    if isinstance(raw, str) and raw.strip().startswith("["):
        raw = json.loads(raw)
    if isinstance(raw, dict):
        raw = [raw.get("start"), raw.get("end")]
    if is_unset(raw):
        return "TRUE"
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise RenderError(f"filter_date_range(): expected [start, end], got {raw!r}")
    start, end = raw
    target = f"CAST({column} AS DATE)"
    if start in (None, ""):
        return f"{target} <= {sql_literal(end)}"
    if end in (None, ""):
        return f"{target} >= {sql_literal(start)}"
    return f"{target} BETWEEN {sql_literal(start)} AND {sql_literal(end)}"


class _Queries:
    """``{{ queries.other }}``: another query's rendered SQL, guarding against cycles."""

    def __init__(self, ctx: RenderContext, stack: tuple[str, ...]) -> None:
        self._ctx, self._stack = ctx, stack

    def __getattr__(self, name: str) -> str:
        return self[name]

    def __getitem__(self, name: str) -> str:
        if name not in self._ctx.queries:
            raise RenderError(f"queries.{name}: the board has no SQL query named {name!r}")
        if name in self._stack:
            raise RenderError("queries reference each other in a cycle: " + " -> ".join(self._stack + (name,)))
        expanded = current_budget().expanded
        if name not in expanded:
            expanded[name] = render_sql(self._ctx.queries[name], self._ctx, self._stack + (name,))
        return expanded[name]


def render_sql(template: str, ctx: RenderContext, stack: tuple[str, ...] = ()) -> str:
    """Render one query template; raises :class:`RenderError` with the template line."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
    from jinja2.exceptions import SecurityError, UndefinedError

    token = RENDER_BUDGET.set(RenderBudget()) if len(stack) <= 1 else None  # expanded queries share their caller's budget
    try:
        if is_plain(template):  # renders as itself, without Jinja; its length still counts against the budget
            return spend_output(template)
        return render_within_budget(compiled_template(template), _context(ctx, stack))
    except TemplateSyntaxError as exc:
        raise RenderError(f"Jinja syntax error: {exc.message}", sql=_at(template, exc.lineno)) from None
    except SecurityError as exc:
        raise RenderError(f"template reaches for Python internals, refused by the sandbox: {exc}", sql=_at(template, _template_line(exc, template, "__"))) from None
    except UndefinedError as exc:
        name = _undefined_name(str(exc))
        hint = f" (variables: {', '.join(sorted(ctx.values)) or 'none'})"
        raise RenderError(f"undefined name in template: {exc}{hint}", sql=_at(template, _template_line(exc, template, name))) from None
    except RenderError as exc:
        if exc.sql is not None:
            raise
        raise exc.replaced(sql=_at(template, _template_line(exc, template, None))) from None
    except TemplateNotFound as exc:
        raise RenderError(exc.message or str(exc), sql=_at(template, _template_line(exc, template, None))) from None
    except TemplateError as exc:
        raise RenderError(f"template error: {exc}", sql=_at(template, _template_line(exc, template, None))) from None
    except RecursionError as exc:
        raise RenderError(
            "the template recurses deeper than Python allows (the rendering budget)", sql=_at(template, _template_line(exc, template, None))
        ) from None
    except (OverflowError, MemoryError) as exc:
        raise RenderError(f"the template is outside the rendering budget: {exc}", sql=_at(template, _template_line(exc, template, None))) from None
    finally:
        if token is not None:
            RENDER_BUDGET.reset(token)


def _context(ctx: RenderContext, stack: tuple[str, ...]) -> dict[str, Any]:
    """What a template sees: the variables as SQL values, and the helpers."""
    values = {name: SqlValue(value) for name, value in ctx.values.items()}
    return {
        **values,
        "ref": lambda name: _ref(ctx, name),
        "source": lambda source_name, table: _source(ctx, source_name, table),
        "filter": _filter,
        "filter_date_range": _filter_date_range,
        "queries": _Queries(ctx, stack),
        "variables": values,
    }


def _at(template: str, line: int | None) -> Any:
    from ..errors import SqlExcerpt

    return SqlExcerpt(template, line or 0, 0)


def _undefined_name(message: str) -> str | None:
    match = re.search(r"'([^']+)' is undefined", message)
    return match.group(1) if match else None


def _template_line(exc: BaseException, template: str, needle: str | None) -> int:
    """The template line an error came from: Jinja's traceback frame, else a text search."""
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if line:
        return line
    if needle:
        for number, text in enumerate(template.splitlines(), 1):
            if needle in text:
                return number
    return 0


def is_plain(template: str) -> bool:
    """Whether the template is plain text, which renders as itself and reads no name."""
    return not _NOT_PLAIN.search(template)


def template_names(template: str) -> set[str]:
    """Names a template reads from its context, minus the helpers every query has."""
    if is_plain(template):
        return set()
    from jinja2 import meta

    return set(meta.find_undeclared_variables(sandboxed_environment().parse(quote_aware(template)))) - _GLOBALS


def name_line(template: str, name: str) -> int:
    """First template line that mentions ``name`` inside a Jinja block."""
    pattern = re.compile(r"(\{\{|\{%)[^}]*\b" + re.escape(name) + r"\b")
    for number, text in enumerate(template.splitlines(), 1):
        if pattern.search(text):
            return number
    return 0


def render_model(sql: str, connector: str, schema: str, models: tuple[str, ...]) -> str:
    """Render a connector model (``source()`` and ``ref()`` only)."""
    return render_sql(sql, RenderContext(connector, schema, "duckdb", models, {}))
