"""The sandboxed Jinja environment board SQL renders in, and its rendering budgets (SPEC section 9)."""

from __future__ import annotations

import contextvars
import functools
import re
import time
from typing import Any

from ..errors import RenderError
from .literals import bare_value, finalize_value, sql_literal

# Rendering budgets (SPEC section 9): one query's rendering, with every query it expands, may produce at most
# MAX_OUTPUT characters, hold no single value longer than that, run at most MAX_ITERATIONS loop iterations,
# nest calls at most MAX_CALL_DEPTH deep and take at most MAX_SECONDS. A board query is a page of SQL; these
# leave generous room for real templates and stop a hostile one before it costs memory or minutes.
MAX_OUTPUT = 2_000_000
MAX_ITERATIONS = 1_000_000
MAX_CALL_DEPTH = 64
MAX_SECONDS = 10.0
_MAX_POWER_BITS = 4096


class RenderBudget:
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


RENDER_BUDGET: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar("dashpacks_render_budget", default=None)


def current_budget() -> RenderBudget:
    budget = RENDER_BUDGET.get()
    if budget is None:  # a template rendered outside render_sql (tests, tools) still gets a budget
        budget = RenderBudget()
        RENDER_BUDGET.set(budget)
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
        budget = current_budget()
        for value in self._range:
            budget.spend()
            yield value

    def __reversed__(self) -> Any:
        budget = current_budget()
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
            current_budget().spend()
            Namespace.__setitem__(self, name, _sized(value, f"namespace attribute {name!r}"))

    return BoundedNamespace


def _bounded_filter(name: str, function: Any) -> Any:
    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        return _sized(function(*args, **kwargs), f"the result of filter {name!r}")

    return bounded


@functools.lru_cache(maxsize=1)
def sandboxed_environment() -> Any:
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
            budget = current_budget()
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
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=finalize_value, loader=NoFiles()
    )
    env.filters = {name: _bounded_filter(name, function) for name, function in env.filters.items()}
    env.filters["bare"] = bare_value
    env.filters["literal"] = sql_literal
    env.globals["range"] = _CountedRange
    env.globals["namespace"] = _bounded_namespace()
    return env


@functools.lru_cache(maxsize=4096)
def compiled_template(template: str) -> Any:
    return sandboxed_environment().from_string(quote_aware(template))


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


def render_within_budget(template: Any, context: dict[str, Any]) -> str:
    """Render chunk by chunk, stopping as soon as the output (counting expanded queries) passes MAX_OUTPUT."""
    return "".join(spend_output(chunk) for chunk in template.generate(context))


def spend_output(text: str) -> str:
    """``text``, counted against the output budget of the current render (RenderError past MAX_OUTPUT)."""
    budget = current_budget()
    budget.output += len(text)
    if budget.output > MAX_OUTPUT:
        raise RenderError(f"the rendered SQL passes {MAX_OUTPUT:,} characters (the rendering budget)")
    return text


