"""``execute[<connector>@<version>]``: the query runs on the version's seed and returns the columns its charts bind."""

from __future__ import annotations

from ..errors import CheckFailure
from . import CheckContext, register
from .sandboxed import remember, require_bindings, run, runnable


@register("execute", "schema_drift")
def check_execute(ctx: CheckContext) -> None:
    """Runs on the version's seed; every column a chart binds is in the result."""
    assert ctx.board is not None and ctx.query is not None and ctx.version is not None
    version = ctx.version
    sql = runnable(ctx, version, runs=False)
    remember(ctx, version, "seed", "UTC", "schema_drift")
    result = run(ctx, ctx.session.databases.sandbox(ctx.pack, version, "seed"), sql, f"fails on {version.label}")
    returned = {c.lower() for c in result.columns}
    missing = [b for b in ctx.board.bindings_of(ctx.query.name) if b.column.lower() not in returned]
    if missing:
        require_bindings(ctx)
        first = missing[0]
        raise CheckFailure(
            f"{first.describe()} names column {first.column!r}, which the query does not return when it runs on {version.label}",
            first.span,
            details=(f"returned columns: {', '.join(result.columns)}",),
            defect_class="schema_drift",
        )
