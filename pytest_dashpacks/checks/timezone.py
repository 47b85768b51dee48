"""``timezone[<zone>]``: the query returns the same rows in a UTC session and in ``<zone>``, on boundary data."""

from __future__ import annotations

from ..engines.duckdb import Sandbox
from ..engines.results import row_multiset
from ..errors import CheckFailure, SqlExcerpt
from . import CheckContext, register
from .prerequisites import blocked, opted_out, require_zone_clean
from .sandboxed import newest, remember, run, runnable, show_rows


@register("timezone", "timezone")
def check_timezone(ctx: CheckContext) -> None:
    """Same result with the session time zone set to the item's zone as with UTC.

    A result that is not stable in one zone (ties cut by LIMIT, or a second run that differs) is
    nondeterminism, class ``rendering``: the first zone's item reports it, the others skip.
    """
    assert ctx.query is not None and ctx.zone is not None
    version = newest(ctx)
    sql = runnable(ctx, version)
    require_zone_clean(ctx.session, ctx.pack, ctx.board, ctx.query)
    sandbox = ctx.session.databases.sandbox(ctx.pack, version, "boundary")
    remember(ctx, version, "boundary", ctx.zone, "timezone")
    # Ties are a matter of data: look for them in the seed and in the boundary rows.
    unstable = unstable_result(ctx, ctx.session.databases.sandbox(ctx.pack, version, "seed"), sql) or unstable_result(ctx, sandbox, sql)
    if unstable is not None:
        zones = ctx.session.settings.item_zones(ctx.pack.timezone)
        reporter = next((z for z in zones if not opted_out(ctx.pack, f"timezone[{z}]", ctx.board, ctx.query)), ctx.zone)
        if ctx.zone != reporter:
            raise blocked(f"{ctx.session.library.query_nodeid(ctx.query)}::timezone[{reporter}]", unstable.message)
        raise unstable
    baseline = run(ctx, sandbox, sql, "in a UTC session", "UTC")
    other = run(ctx, sandbox, sql, f"in a {ctx.zone} session", ctx.zone)
    left, right = row_multiset(baseline.rows), row_multiset(other.rows)
    if left == right:
        return
    # Never blame the zone for a difference that a second run in the same zone also shows.
    again = row_multiset(run(ctx, sandbox, sql, "in a UTC session", "UTC").rows)
    if again != left or row_multiset(run(ctx, sandbox, sql, f"in a {ctx.zone} session", ctx.zone).rows) != right:
        raise CheckFailure(
            "the result is not deterministic: two runs in the same session zone return different rows",
            ctx.query.span, sql=SqlExcerpt(sql),
            details=("likely cause: ORDER BY ... LIMIT inside a CTE or subquery, or an aggregate over an unordered "
                     "set (ARRAY_AGG, STRING_AGG, ANY_VALUE); order by a unique key before cutting or aggregating",),
            defect_class="rendering",
        )
    only_utc = [r for r in left if r not in right]
    only_zone = [r for r in right if r not in left]
    details = [f"rows only in the UTC session ({len(only_utc)}):", *show_rows(baseline, only_utc),
               f"rows only in the {ctx.zone} session ({len(only_zone)}):", *show_rows(other, only_zone),
               "likely cause: a cast of a naive timestamp to TIMESTAMPTZ, CURRENT_DATE or date_trunc on TIMESTAMPTZ "
               "follows the session zone; convert explicitly: (ts AT TIME ZONE 'UTC') AT TIME ZONE '<zone>'"]
    raise CheckFailure(
        f"the result depends on the session time zone: {ctx.zone} gives {len(right)} rows, UTC {len(left)}, and they differ",
        ctx.query.span, sql=SqlExcerpt(sql), details=tuple(details), defect_class="timezone",
    )


def unstable_result(ctx: CheckContext, sandbox: Sandbox, sql: str) -> CheckFailure | None:
    """A failure when the query's final ORDER BY ... LIMIT n cuts through rows with equal sort keys."""
    from ..sql.duckdb import TIE_KEY, tie_probe

    assert ctx.query is not None
    probe = tie_probe(sql)
    if probe is None:
        return None
    probe_sql, n, keys, order_by = probe
    result = run(ctx, sandbox, probe_sql, "probing the LIMIT for ties", "UTC")
    if len(result.rows) <= n:
        return None
    first_key = next(i for i, c in enumerate(result.columns) if c.startswith(TIE_KEY))
    last_in, first_out = result.rows[n - 1], result.rows[n]
    if last_in[first_key:] != first_out[first_key:] or last_in[:first_key] == first_out[:first_key]:
        return None  # no tie at the cut, or tied rows that look the same: either way the result is stable
    shown = [c for c in result.columns if not c.startswith(TIE_KEY)]
    tied = ", ".join(f"{k} = {v!r}" for k, v in zip(keys, last_in[first_key:]))
    return CheckFailure(
        f"the result is not deterministic: ORDER BY {order_by} LIMIT {n} cuts through tied rows ({tied}), "
        "so which rows come back changes from run to run",
        ctx.query.span, sql=SqlExcerpt(sql),
        details=(f"row {n} (kept):    {dict(zip(shown, last_in[:first_key]))}",
                 f"row {n + 1} (dropped): {dict(zip(shown, first_out[:first_key]))}",
                 "fix: add a tie-breaker that is unique per row to the ORDER BY, "
                 f"e.g. ORDER BY {order_by}, {next((c for c in shown if c not in keys), '<unique key>')}"),
        defect_class="rendering",
    )
