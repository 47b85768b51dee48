"""``transpile[<target>]`` items: the query transpiles to a warehouse and parses back there.

sqlglot often writes SQL the target cannot run without complaint, so the
output is parsed back in the target dialect and every function it calls is
looked up in the target's built-in function catalog.
"""

from __future__ import annotations

from ..errors import CheckFailure, SqlExcerpt
from . import CheckContext, register
from .prerequisites import require_parsed


@register("transpile", "rendering")
def check_transpile(ctx: CheckContext) -> None:
    from sqlglot.errors import ParseError, SqlglotError, UnsupportedError

    from ..sql.transpile import parse_back, transpile, unknown_functions, unsupported_syntax

    assert ctx.board is not None and ctx.query is not None and ctx.target is not None
    target = ctx.target
    require_parsed(ctx.session, ctx.pack, ctx.board, ctx.query)
    parsed = ctx.session.queries.parsed(ctx.pack, ctx.board, ctx.query)
    fresh = ctx.session.queries.fresh_ast(ctx.pack, ctx.board, ctx.query)
    span = ctx.query.span
    try:
        out = transpile(fresh, target, copy=False)
    except UnsupportedError as exc:
        raise CheckFailure(f"sqlglot cannot express this query in {target}: {exc}", span, sql=SqlExcerpt(parsed.sql),
                           defect_class="rendering") from None
    except SqlglotError as exc:
        raise CheckFailure(f"transpiling to {target} failed: {exc}", span, defect_class="rendering") from None
    try:
        back, tokens = parse_back(out, target)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise CheckFailure(
            f"the {target} SQL sqlglot wrote does not parse back as {target}: {first.get('description', exc)}",
            span, sql=SqlExcerpt(out, first.get("line", 0), first.get("col", 0)), defect_class="rendering",
        ) from None
    syntax = unsupported_syntax(back, target)
    if syntax:
        raise CheckFailure(
            f"{target} does not support {', '.join(syntax)}, which sqlglot left in the transpiled query",
            span, sql=SqlExcerpt(out), defect_class="rendering",
        )
    unknown = unknown_functions(out, target, back, tokens)
    if unknown:
        name, line, column = unknown[0]
        names = ", ".join(sorted({u[0] for u in unknown}))
        raise CheckFailure(
            f"{target} has no function {name}: the transpiled query calls {names}",
            span, sql=SqlExcerpt(out, line, column, len(name)),
            details=("sqlglot kept the call as written; rewrite it with a function every target has, "
                     "or skip this target in pack.yml checks.skip with a reason",),
            defect_class="rendering",
        )
