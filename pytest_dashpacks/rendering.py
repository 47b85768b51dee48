"""Rendering board SQL (SPEC section 5) in a sandboxed Jinja environment.

Variables render as SQL literals, except inside a quoted SQL literal
(``'{{ start }}'``), where they render their bare value. ``ref()`` names a
fixture model, ``source()`` a connector table, ``{{ queries.other }}`` expands
another query of the board, and ``filter()`` / ``filter_date_range()`` build
predicates that collapse to ``TRUE`` when the variable is unset.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import RenderError

MODEL_SCHEMA = "models"  # ref('x') renders as models.x; fixture databases create the views there

# Table names that are reserved words in some warehouse and must be quoted.
_RESERVED = {"order", "group", "user", "table", "select", "from", "where", "limit", "to", "case", "end", "all", "grant", "check"}
_BACKTICK_DIALECTS = {"bigquery", "databricks", "spark", "spark2", "hive", "mysql", "doris", "starrocks", "clickhouse"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OPERATORS = {"=", "!=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "ilike", "not like"}
_GLOBALS = {"ref", "source", "filter", "filter_date_range", "queries", "variables"}

# Rendering budgets (SPEC section 9): one query's rendering, with every query it expands, may produce at most
# MAX_OUTPUT characters, hold no single value longer than that, run at most MAX_ITERATIONS loop iterations,
# nest calls at most MAX_CALL_DEPTH deep and take at most MAX_SECONDS. A board query is a page of SQL; these
# leave generous room for real templates and stop a hostile one before it costs memory or minutes.
MAX_OUTPUT = 2_000_000
MAX_ITERATIONS = 1_000_000
MAX_CALL_DEPTH = 64
MAX_SECONDS = 10.0
_MAX_POWER_BITS = 4096


class _Budget:
    """What one top-level render has spent; shared by the queries it expands."""

    def __init__(self) -> None:
        self.output = 0
        self.iterations = 0
        self.depth = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.expanded: dict[str, str] = {}  # query name -> its rendering, so a query pasted twice renders once

    def spend(self, iterations: int = 1) -> None:
        self.iterations += iterations
        if self.iterations > MAX_ITERATIONS:
            raise RenderError(f"the template runs more than {MAX_ITERATIONS:,} loop iterations (the rendering budget)")
        if self.iterations % 1024 == 0 and time.monotonic() > self.deadline:
            raise RenderError(f"the template took more than {MAX_SECONDS:g} s to render (the rendering budget)")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("dashpacks_render_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:  # a template rendered outside render_sql (tests, tools) still gets a budget
        budget = _Budget()
        _BUDGET.set(budget)
    return budget


def _sized(value: Any, what: str) -> Any:
    """``value`` unchanged, unless it is a string or sequence longer than the output budget."""
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_OUTPUT:
        raise RenderError(f"{what} is {len(value):,} long; the rendering budget allows {MAX_OUTPUT:,} characters or items")
    return value


class _CountedRange:
    """``range()`` in a template: at most MAX_ITERATIONS long, and every step spends the loop budget."""

    def __init__(self, *args: int) -> None:
        try:
            self._range = range(*args)
            length = len(self._range)
        except OverflowError:
            length = MAX_ITERATIONS + 1
        if length > MAX_ITERATIONS:
            raise RenderError(f"range{args!r} has more than {MAX_ITERATIONS:,} items (the rendering budget)")

    def __iter__(self) -> Any:
        budget = _budget()
        for value in self._range:
            budget.spend()
            yield value

    def __reversed__(self) -> Any:
        budget = _budget()
        for value in reversed(self._range):
            budget.spend()
            yield value

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __contains__(self, value: Any) -> bool:
        return value in self._range


def _bounded_namespace() -> type:
    from jinja2.utils import Namespace

    class BoundedNamespace(Namespace):
        """``namespace()`` whose attributes obey the size budget (``{% set ns.s = ns.s ~ ns.s %}`` in a loop)."""

        def __setitem__(self, name: str, value: Any) -> None:
            _budget().spend()
            Namespace.__setitem__(self, name, _sized(value, f"namespace attribute {name!r}"))

    return BoundedNamespace


def _bounded_filter(name: str, function: Any) -> Any:
    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        return _sized(function(*args, **kwargs), f"the result of filter {name!r}")

    return bounded


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
        return not _unset(self.raw)


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


def _bare(value: Any) -> str:
    raw = value.raw if isinstance(value, SqlValue) else value
    if isinstance(raw, (list, tuple)):
        return ", ".join(_bare(v) for v in raw)
    return "" if raw is None else str(raw).replace("'", "''")


def _unset(value: Any) -> bool:
    value = value.raw if isinstance(value, SqlValue) else value
    return value is None or value == "" or (isinstance(value, (list, tuple)) and not any(v not in (None, "") for v in value))


def _finalize(value: Any) -> Any:
    return sql_literal(value.raw) if isinstance(value, SqlValue) else value


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class NoFiles(BaseLoader):
        def get_source(self, environment: Any, template: str) -> Any:
            raise TemplateNotFound(
                template,
                f"{template!r}: a board query cannot include, import or extend another file; "
                "paste another query of the board with {{ queries.<name> }}",
            )

    class BudgetedEnvironment(ImmutableSandboxedEnvironment):
        """The sandbox, plus the rendering budgets: sizes, loop iterations, call depth and time."""

        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            if op == "*":
                for text, times in ((left, right), (right, left)):
                    if isinstance(text, (str, list, tuple)) and isinstance(times, int) and len(text) * max(times, 0) > MAX_OUTPUT:
                        raise RenderError(
                            f"{type(text).__name__} * {times:,} would be {len(text) * times:,} long; "
                            f"the rendering budget allows {MAX_OUTPUT:,}"
                        )
            if op == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                if right * abs(left).bit_length() > _MAX_POWER_BITS:
                    raise RenderError(f"{left} ** {right} is larger than the rendering budget allows")
            if op == "%" and isinstance(left, str) and re.search(r"%[-+ #0]*(\*|\d{7,})", left):
                raise RenderError("a %-format width that is computed or longer than six digits is outside the rendering budget")
            return _sized(self.binop_table[op](left, right), f"the result of {op!r}")

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's own signature)
            budget = _budget()
            for value in (*args, *kwargs.values()):
                _sized(value, "an argument")
            budget.spend()
            budget.depth += 1
            try:
                if budget.depth > MAX_CALL_DEPTH:
                    raise RenderError(f"calls nest more than {MAX_CALL_DEPTH} deep (the rendering budget; a macro that calls itself?)")
                return _sized(super().call(__context, __obj, *args, **kwargs), "a call's result")
            finally:
                budget.depth -= 1

    env = BudgetedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize, loader=NoFiles()
    )
    env.filters = {name: _bounded_filter(name, function) for name, function in env.filters.items()}
    env.filters["bare"] = _bare
    env.filters["literal"] = sql_literal
    env.globals["range"] = _CountedRange
    env.globals["namespace"] = _bounded_namespace()
    return env


@functools.lru_cache(maxsize=4096)
def _compile(template: str) -> Any:
    return _environment().from_string(quote_aware(template))


def quote_aware(template: str) -> str:
    """Rewrite ``{{ x }}`` written inside a quoted SQL literal to ``{{ (x) | bare }}``."""
    out: list[str] = []
    i, n, in_quote = 0, len(template), False
    while i < n:
        two = template[i : i + 2]
        if two in ("{{", "{%", "{#"):
            close = {"{{": "}}", "{%": "%}", "{#": "#}"}[two]
            end = template.find(close, i + 2)
            end = n if end < 0 else end + 2
            block = template[i:end]
            if two == "{{" and in_quote and end <= n and block.endswith("}}"):
                inner = block[2:-2].strip("-").strip()
                block = "{{ (" + inner + ") | bare }}"
            out.append(block)
            i = end
            continue
        char = template[i]
        if not in_quote and two == "--":
            end = template.find("\n", i)
            end = n if end < 0 else end
            out.append(template[i:end])
            i = end
            continue
        if not in_quote and two == "/*":
            end = template.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(template[i:end])
            i = end
            continue
        if char == "'":
            in_quote = not in_quote
        out.append(char)
        i += 1
    return "".join(out)


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
    if _unset(raw):
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
    if _unset(raw):
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
        expanded = _budget().expanded
        if name not in expanded:
            expanded[name] = render_sql(self._ctx.queries[name], self._ctx, self._stack + (name,))
        return expanded[name]


def render_sql(template: str, ctx: RenderContext, stack: tuple[str, ...] = ()) -> str:
    """Render one query template; raises :class:`RenderError` with the template line."""
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
    from jinja2.exceptions import SecurityError, UndefinedError

    values = {name: SqlValue(value) for name, value in ctx.values.items()}
    context = dict(values)
    context.update(
        ref=lambda name: _ref(ctx, name),
        source=lambda source_name, table: _source(ctx, source_name, table),
        filter=_filter,
        filter_date_range=_filter_date_range,
        queries=_Queries(ctx, stack),
        variables=values,
    )
    token = _BUDGET.set(_Budget()) if len(stack) <= 1 else None  # expanded queries share their caller's budget
    try:
        return _render_within_budget(_compile(template), context)
    except TemplateSyntaxError as exc:
        raise RenderError(f"Jinja syntax error: {exc.message}", sql=_at(template, exc.lineno)) from None
    except SecurityError as exc:
        raise RenderError(f"template reaches for Python internals, refused by the sandbox: {exc}", sql=_at(template, _template_line(exc, template, "__"))) from None
    except UndefinedError as exc:
        name = _undefined_name(str(exc))
        hint = f" (variables: {', '.join(sorted(ctx.values)) or 'none'})"
        raise RenderError(f"undefined name in template: {exc}{hint}", sql=_at(template, _template_line(exc, template, name))) from None
    except RenderError as exc:
        if exc.sql is None:
            exc.sql = _at(template, _template_line(exc, template, None))
        raise
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
            _BUDGET.reset(token)


def _render_within_budget(template: Any, context: dict[str, Any]) -> str:
    """Render chunk by chunk, stopping as soon as the output (counting expanded queries) passes MAX_OUTPUT."""
    budget = _budget()
    chunks: list[str] = []
    for chunk in template.generate(context):
        budget.output += len(chunk)
        if budget.output > MAX_OUTPUT:
            raise RenderError(f"the rendered SQL passes {MAX_OUTPUT:,} characters (the rendering budget)")
        chunks.append(chunk)
    return "".join(chunks)


def _at(template: str, line: int | None) -> Any:
    from .errors import SqlExcerpt

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


def template_names(template: str) -> set[str]:
    """Names a template reads from its context, minus the helpers every query has."""
    from jinja2 import meta

    return set(meta.find_undeclared_variables(_environment().parse(quote_aware(template)))) - _GLOBALS


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
