"""``volume[<case>]``: the query survives empty, single-row, NULL-heavy, zero, soft-deleted, history and
large data: no error, no NaN or infinity, no fan-out past the KPI's oracle."""

from __future__ import annotations

from ..engines.results import bad_numbers, has_non_finite
from ..errors import CheckFailure, SqlExcerpt
from ..kpi.tables import source_rows, stored_zone
from . import CheckContext, register
from .sandboxed import joins, kpis_of, newest, remember, run, runnable


@register("volume", "volume")
def check_volume(ctx: CheckContext) -> None:
    """Runs and keeps its invariants under the item's data case."""
    from ..kpi import oracle

    assert ctx.query is not None and ctx.data_case is not None
    case, version = ctx.data_case, newest(ctx)
    sql = runnable(ctx, version)
    if case != "large":  # 200,000 rows per table are no regression file
        remember(ctx, version, case, ctx.pack.timezone, "volume")
    databases = ctx.session.databases
    if case == "large":  # streamed: only rows holding NaN or infinity are kept
        sandbox = databases.large_sandbox(ctx.pack, version, ctx.session.queries.tables_read(ctx.pack, version, sql))
        result = run(ctx, sandbox, sql, f"under volume[{case}]", keep=has_non_finite)
    else:
        result = run(ctx, databases.sandbox(ctx.pack, version, case), sql, f"under volume[{case}]")
    numeric = [c for c, t in zip(result.columns, result.types) if t.upper() in ("DOUBLE", "FLOAT", "REAL") or t.upper().startswith("DECIMAL")]
    bad = bad_numbers(result, numeric)
    if bad:
        raise CheckFailure(
            f"under volume[{case}] the query returns NaN or infinity: {bad[0]}",
            ctx.query.span, sql=SqlExcerpt(sql),
            details=tuple(f"also: {b}" for b in bad[1:5]) + ("guard divisions with NULLIF(denominator, 0)",),
            defect_class="volume",
        )
    if case == "large":
        return
    for kpi in kpis_of(ctx):
        actual = oracle.query_buckets(kpi, result.records())
        rows = ctx.session.databases.dataset(ctx.pack, version, case)
        source = source_rows(version, kpi, rows)
        stored = stored_zone(version, kpi)
        table = oracle.source_table(version, kpi)
        if (case == "soft_deleted" and kpi.source.exclude_deleted) or (case == "history" and kpi.source.exclude_history):
            seed = run(ctx, ctx.session.databases.sandbox(ctx.pack, version, "seed"), sql)
            before = oracle.query_buckets(kpi, seed.records())
            changed = oracle.compare(actual, before)
            if changed:
                what = "soft-deleted" if case == "soft_deleted" else "inactive history"
                first = changed[0]
                raise CheckFailure(
                    f"kpi {kpi.name}: adding {what} rows changed bucket {first.bucket}: {first.expected} -> {first.actual}, "
                    f"but the contract excludes them",
                    ctx.query.span, sql=SqlExcerpt(sql),
                    details=(f"filter them out: {oracle.deleted_filter_hint(table) if case == 'soft_deleted' else oracle.history_filter_hint(table)}",),
                    defect_class="volume",
                )
        expected = oracle.expected_buckets(kpi, source, stored, ctx.pack.timezone, table)
        total, bound = sum(actual.values()), sum(v for b, v in expected.items() if not actual or min(actual) <= b <= max(actual))
        if total > bound + 1e-6 * max(1.0, abs(bound)) and bound >= 0:
            cause = oracle.likely_cause(kpi, actual, source, stored, ctx.pack.timezone, table)
            advice = ()
            if cause.startswith("unknown") and joins(sql):
                cause = "a join fans out (several result rows per source row)"
                advice = ("aggregate child tables before joining, join on the full key, and filter deleted and history rows",)
            elif cause.startswith("unknown"):
                nulls = [c for c in kpi.source.filters if any(row.get(c) is None for row in source)]
                cause = "the query counts rows that the contract's filters, deletes or history rules leave out" + (
                    f" (a contract filter never matches NULL, and {', '.join(nulls)} holds NULLs here)" if nulls else ""
                )
            raise CheckFailure(
                f"kpi {kpi.name}: under volume[{case}] the query totals {total:g}, more than the oracle's {bound:g}",
                ctx.query.span, sql=SqlExcerpt(sql),
                details=(f"likely cause: {cause}", *advice),
                defect_class="volume",
            )
