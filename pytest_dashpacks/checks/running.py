"""Items that run board SQL in fixture databases: ``execute``, ``timezone``, ``clock``, ``volume``.

Each runs the query (transpiled to DuckDB) in a sandboxed in-memory database
holding the rows of one data case and checks what the SPEC says the item proves.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from ..errors import CheckFailure, CheckSkipped, DashpacksError, SqlExcerpt
from ..fixturedb import QueryResult, Sandbox, bad_numbers, row_multiset
from ..model import KpiContract
from . import CheckContext, register
from .prerequisites import blocked, opted_out, require_resolved, require_runs, require_zone_clean


def runnable(ctx: CheckContext, version: Any, *, runs: bool = True) -> str:
    """The query as DuckDB SQL, once its prerequisites on ``version`` hold: it parses (``syntax``),
    resolves (``schema``) and, with ``runs``, runs on the seed (``execute``); else the item is blocked."""
    assert ctx.board is not None and ctx.query is not None
    if runs:
        require_runs(ctx.session, ctx.pack, ctx.board, ctx.query, version)
    else:
        require_resolved(ctx.session, ctx.pack, ctx.board, ctx.query, version)
    return ctx.session.runnable(ctx.pack, ctx.board, ctx.query, version)


def require_bindings(ctx: CheckContext) -> None:
    """A bound column the query does not return is the ``bindings`` item's finding when it sees it statically."""
    from .bindings import check_bindings

    assert ctx.query is not None
    try:
        check_bindings(ctx)
    except CheckFailure as exc:
        raise blocked(f"{ctx.session.query_nodeid(ctx.query)}::bindings", exc.message) from None
    except CheckSkipped:
        pass  # the static item cannot tell: the run is the evidence


def run_located(sandbox: Sandbox, sql: str, span: Any, what: str = "", zone: str | None = None) -> QueryResult:
    """Run a query; a failure is located at ``span`` and its message prefixed with ``what``."""
    try:
        return sandbox.run(sql, zone)
    except DashpacksError as exc:
        exc.span = span
        if what:
            exc.message = f"{what}: {exc.message}"
        raise


def run(ctx: CheckContext, sandbox: Sandbox, sql: str, what: str = "", zone: str | None = None) -> QueryResult:
    """Run and locate any failure at the query's line in the board."""
    assert ctx.query is not None
    return run_located(sandbox, sql, ctx.query.span, what, zone)


def newest(ctx: CheckContext) -> Any:
    return ctx.session.versions(ctx.pack)[-1]


def kpis_of(ctx: CheckContext) -> list[KpiContract]:
    assert ctx.board is not None and ctx.query is not None
    return [k for k in ctx.pack.kpis if k.board == ctx.board.stem and k.query == ctx.query.name]


def remember(ctx: CheckContext, version: Any, data: Any, zone: str, defect_class: str, **extra: Any) -> None:
    """Note what the item runs on, so --dashpacks-pin-dir can write a reproducing regression case."""
    assert ctx.board is not None and ctx.query is not None
    rows = ctx.session.dataset(ctx.pack, version, data) if isinstance(data, str) else data
    tables = ctx.session.tables_read(ctx.pack, version, ctx.session.runnable(ctx.pack, ctx.board, ctx.query, version), None)
    ctx.record.update(
        board=ctx.board.stem, query=ctx.query.name, version=version.name, timezone=zone, **{"class": defect_class},
        rows={key: rows.get(key, []) for key in tables}, **extra,
    )


def show_rows(result: QueryResult, rows: list[tuple[Any, ...]], limit: int = 8) -> list[str]:
    lines = [f"    {dict(zip(result.columns, row))}" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"    ... {len(rows) - limit} more")
    return lines


@register("execute", "schema_drift")
def check_execute(ctx: CheckContext) -> None:
    """Runs on the version's seed; every column a chart binds is in the result."""
    assert ctx.board is not None and ctx.query is not None and ctx.param is not None
    version = next(v for v in ctx.session.versions(ctx.pack) if v.name == ctx.param)
    sql = runnable(ctx, version, runs=False)
    remember(ctx, version, "seed", "UTC", "schema_drift")
    result = run(ctx, ctx.session.sandbox(ctx.pack, version, "seed"), sql, f"fails on {version.label}")
    ctx.record["result"] = result
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


@register("timezone", "timezone")
def check_timezone(ctx: CheckContext) -> None:
    """Same result with the session time zone set to the item's zone as with UTC.

    A result that is not stable in one zone (ties cut by LIMIT, or a second run that differs) is
    nondeterminism, class ``rendering``: the first zone's item reports it, the others skip.
    """
    assert ctx.query is not None and ctx.param is not None
    version = newest(ctx)
    sql = runnable(ctx, version)
    require_zone_clean(ctx.session, ctx.pack, ctx.board, ctx.query)
    sandbox = ctx.session.sandbox(ctx.pack, version, "boundary")
    remember(ctx, version, "boundary", ctx.param, "timezone")
    # Ties are a matter of data: look for them in the seed and in the boundary rows.
    unstable = unstable_result(ctx, ctx.session.sandbox(ctx.pack, version, "seed"), sql) or unstable_result(ctx, sandbox, sql)
    if unstable is not None:
        zones = ctx.session.settings.item_zones(ctx.pack.timezone)
        reporter = next((z for z in zones if not opted_out(ctx.pack, f"timezone[{z}]", ctx.board, ctx.query)), ctx.param)
        if ctx.param != reporter:
            raise blocked(f"{ctx.session.query_nodeid(ctx.query)}::timezone[{reporter}]", unstable.message)
        raise unstable
    baseline = run(ctx, sandbox, sql, "in a UTC session", "UTC")
    other = run(ctx, sandbox, sql, f"in a {ctx.param} session", ctx.param)
    ctx.record["result"] = other
    left, right = row_multiset(baseline.rows), row_multiset(other.rows)
    if left == right:
        return
    # Never blame the zone for a difference that a second run in the same zone also shows.
    again = row_multiset(run(ctx, sandbox, sql, "in a UTC session", "UTC").rows)
    if again != left or row_multiset(run(ctx, sandbox, sql, f"in a {ctx.param} session", ctx.param).rows) != right:
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
               f"rows only in the {ctx.param} session ({len(only_zone)}):", *show_rows(other, only_zone),
               "likely cause: a cast of a naive timestamp to TIMESTAMPTZ, CURRENT_DATE or date_trunc on TIMESTAMPTZ "
               "follows the session zone; convert explicitly: (ts AT TIME ZONE 'UTC') AT TIME ZONE '<zone>'"]
    raise CheckFailure(
        f"the result depends on the session time zone: {ctx.param} gives {len(right)} rows, UTC {len(left)}, and they differ",
        ctx.query.span, sql=SqlExcerpt(sql), details=tuple(details), defect_class="timezone",
    )


def unstable_result(ctx: CheckContext, sandbox: Sandbox, sql: str) -> CheckFailure | None:
    """A failure when the query's final ORDER BY ... LIMIT n cuts through rows with equal sort keys."""
    from ..execution import TIE_KEY, tie_probe

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


@register("clock", "timezone")
def check_clock(ctx: CheckContext) -> None:
    """With now frozen at the instant, UTC and reporting-zone sessions give the same answer."""
    from freezegun import freeze_time

    from ..datagen import clock_instant
    from ..execution import frozen_sql

    assert ctx.query is not None and ctx.param is not None
    version = newest(ctx)
    sql = runnable(ctx, version)
    require_zone_clean(ctx.session, ctx.pack, ctx.board, ctx.query)
    zone = ctx.pack.timezone
    instant = clock_instant(ctx.param, zone)
    rows = ctx.session.clock_dataset(ctx.pack, version, instant)
    db = ctx.session.fixture_db(ctx.pack, version)
    remember(ctx, version, rows, zone, "timezone", now=instant.isoformat())
    with freeze_time(instant), db.open(rows, zones=(zone,)) as sandbox:
        in_utc = run(ctx, sandbox, frozen_sql(sql, instant, "UTC"), f"with now frozen at {instant:%Y-%m-%d %H:%M:%S} UTC", "UTC")
        in_zone = run(ctx, sandbox, frozen_sql(sql, instant, zone), f"with now frozen, in a {zone} session", zone)
    ctx.record["result"] = in_zone
    left, right = row_multiset(in_utc.rows), row_multiset(in_zone.rows)
    if left == right:
        return
    local_time = instant.astimezone(ZoneInfo(zone))
    hint = (
        "CURRENT_DATE (and CURRENT_TIMESTAMP cast to DATE) follow the session zone; "
        f"use CAST(NOW() AT TIME ZONE '{zone}' AS DATE) for the reporting day"
    )
    raise CheckFailure(
        f"at {ctx.param} ({instant:%Y-%m-%d %H:%M:%S} UTC = {local_time:%Y-%m-%d %H:%M:%S} {zone}) the answer depends on the "
        f"session zone: UTC gives {len(left)} rows, {zone} gives {len(right)}",
        ctx.query.span,
        sql=SqlExcerpt(sql),
        details=("rows only in the UTC session:", *show_rows(in_utc, [r for r in left if r not in right]),
                 f"rows only in the {zone} session:", *show_rows(in_zone, [r for r in right if r not in left]),
                 f"hint: {hint}"),
        defect_class="timezone",
    )


@register("volume", "volume")
def check_volume(ctx: CheckContext) -> None:
    """Runs and keeps its invariants under the item's data case."""
    from .. import oracle

    assert ctx.query is not None and ctx.param is not None
    case, version = ctx.param, newest(ctx)
    sql = runnable(ctx, version)
    if case != "large":  # 200,000 rows per table are no regression file
        remember(ctx, version, case, ctx.pack.timezone, "volume")
    result = run(ctx, ctx.session.sandbox(ctx.pack, version, case), sql, f"under volume[{case}]")
    ctx.record["result"] = result
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
        rows = ctx.session.dataset(ctx.pack, version, case)
        source = ctx.session.source_rows(ctx.pack, version, kpi, rows)
        stored = ctx.session.stored_zone(ctx.pack, version, kpi)
        table = oracle.source_table(version, kpi)
        if (case == "soft_deleted" and kpi.source.exclude_deleted) or (case == "history" and kpi.source.exclude_history):
            seed = run(ctx, ctx.session.sandbox(ctx.pack, version, "seed"), sql)
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


def joins(sql: str) -> bool:
    """Whether a DuckDB query joins tables anywhere (only then can a join fan out)."""
    import sqlglot
    from sqlglot import exp

    return any(True for _ in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Join))
