"""``kpi[<name>]``: the KPI query agrees with its oracle on boundary data; and what the KPI items share."""

from __future__ import annotations

from typing import Any

from ..errors import CheckFailure, CheckSkipped, DashpacksError, SqlExcerpt
from ..kpi.tables import source_rows, stored_zone, with_source_table
from ..model import KpiContract
from . import CheckContext, register
from .prerequisites import require_runs, require_zone_clean
from .sandboxed import run_located


def contract_of(ctx: CheckContext) -> KpiContract:
    assert ctx.kpi is not None
    return ctx.kpi


def kpi_query(ctx: CheckContext, kpi: KpiContract, *, zone_sensitive: bool = True) -> tuple[Any, Any, str]:
    """The KPI's board, query and DuckDB SQL, once the query's own items would not report first."""
    session, pack = ctx.session, ctx.pack
    path = session.library.board_paths(pack).get(kpi.board)
    if path is None:
        raise CheckSkipped(f"board {kpi.board} does not exist; see pack.yml::load")
    try:
        board = session.library.board(path, pack.directory)
    except DashpacksError:
        raise CheckSkipped(f"board {kpi.board} does not load; see its load item") from None
    query = board.query(kpi.query)
    if query is None:
        raise CheckSkipped(f"board {kpi.board} has no query {kpi.query}; see pack.yml::load")
    require_runs(session, pack, board, query, session.library.versions(pack)[-1])
    if zone_sensitive:
        require_zone_clean(session, pack, board, query)
    return board, query, session.queries.runnable(pack, board, query)


def run_kpi(sandbox: Any, sql: str, kpi: KpiContract) -> Any:
    return run_located(sandbox, sql, kpi.span, f"kpi {kpi.name}")


@register("kpi", "timezone")
def check_kpi(ctx: CheckContext) -> None:
    """Each bucket equals the oracle on boundary data plus the seed."""
    from ..kpi import oracle

    kpi = contract_of(ctx)
    board, query, sql = kpi_query(ctx, kpi)
    session, pack = ctx.session, ctx.pack
    version = session.library.versions(pack)[-1]
    rows = session.databases.dataset(pack, version, "boundary")
    tables = with_source_table(session.queries.tables_read(pack, version, sql), version, kpi)
    ctx.record.update(board=kpi.board, query=kpi.query, version=version.name, timezone=pack.timezone,
                      rows={key: rows.get(key, []) for key in tables}, **{"class": "timezone"})
    result = run_kpi(session.databases.sandbox(pack, version, "boundary"), sql, kpi)
    require_columns(kpi, result.columns)
    source = source_rows(version, kpi, rows)
    stored = stored_zone(version, kpi)
    table = oracle.source_table(version, kpi)
    actual = oracle.query_buckets(kpi, result.records())
    expected = oracle.expected_buckets(kpi, source, stored, pack.timezone, table)
    mismatches = oracle.compare(actual, expected)
    if not mismatches:
        return
    first = mismatches[0]
    cause = oracle.likely_cause(kpi, actual, source, stored, pack.timezone, table)
    moved = oracle.moved_rows(kpi, source, first.bucket, stored, pack.timezone, table)
    details = [f"likely cause: {cause}"]
    details += [f"bucket {m.bucket}: query {shown(m.actual)}, expected {shown(m.expected)}" for m in mismatches[1:6]]
    if len(mismatches) > 6:
        details.append(f"... {len(mismatches) - 6} more buckets differ")
    if moved:
        details.append("rows that move between buckets with the zone:")
        details += [f"  {line}" for line in moved[:6]]
    bucket, excerpt = bucket_expression(session, pack, board, query, kpi)
    if bucket is not None:
        details.insert(0, f"bucket: {bucket.location()}: {kpi.time_column} in {kpi.board}.{kpi.query}")
        fix = bucket_fix(session, pack, board, query, version, kpi, cause)
        if fix:
            details.insert(2, f"fix: {fix}")
    raise CheckFailure(
        f"kpi {kpi.name}: bucket {first.bucket} ({kpi.grain}, {pack.timezone}) is {shown(first.actual)} in the query, "
        f"expected {shown(first.expected)}",
        kpi.span, sql=excerpt or SqlExcerpt(sql), details=tuple(details), defect_class="timezone",
    )


def bucket_expression(session: Any, pack: Any, board: Any, query: Any, kpi: KpiContract) -> tuple[Any, Any]:
    """Where the query computes the KPI's time column: its board-file span and the SQL as written,
    with a caret under it (None, None when the outermost SELECT does not name it)."""
    from sqlglot import exp

    from ..sql.parse import excerpt_at

    parsed = session.queries.parsed(pack, board, query)
    selects = parsed.ast.selects if isinstance(parsed.ast, exp.Select) else []
    node = next((s for s in selects if s.alias_or_name.lower() == kpi.time_column.lower()), None)
    if node is None:
        return None, None
    excerpt = excerpt_at(parsed.sql, node.this if isinstance(node, exp.Alias) else node)
    if not excerpt.line:
        return None, None
    return session.queries.yaml_span(pack, board, query, excerpt.line, excerpt.column), excerpt


def bucket_fix(session: Any, pack: Any, board: Any, query: Any, version: Any, kpi: KpiContract, cause: str) -> str:
    """The corrected bucket expression when the likely cause is the zone (the zone item's rewrite)."""
    if not cause.startswith(("bucketed by the UTC day", "reads the stored timestamps")):
        return ""
    from .zone import zone_findings

    try:
        findings = zone_findings(session, pack, board, query)
    except (CheckSkipped, DashpacksError):
        return ""
    return findings[0][0].fix if findings else ""


def shown(value: float | None) -> str:
    return "nothing (no row in that bucket)" if value is None else f"{value:g}"


def require_columns(kpi: KpiContract, columns: tuple[str, ...]) -> None:
    lowered = {c.lower() for c in columns}
    for role, column in (("time_column", kpi.time_column), ("measure_column", kpi.measure_column)):
        if column.lower() not in lowered:
            raise CheckFailure(
                f"kpi {kpi.name}: {role} {column!r} is not a column of {kpi.board}.{kpi.query} (returns {', '.join(columns)})",
                kpi.span, defect_class="config",
            )
