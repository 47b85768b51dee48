"""Pack-level KPI items: ``kpi[...]`` (oracle on boundary data), ``property[...]``
(oracle on Hypothesis data) and ``narrative[...@case]`` (the sentence renders cleanly)."""

from __future__ import annotations

import os
from typing import Any

from ..errors import CheckFailure, CheckSkipped, DashpacksError, SqlExcerpt
from ..model import KpiContract
from . import CheckContext, register
from .prerequisites import require_runs, require_zone_clean
from .running import run_located


def _kpi(ctx: CheckContext) -> KpiContract:
    name = (ctx.param or "").split("@")[0]
    return next(k for k in ctx.pack.kpis if k.name == name)


def _query(ctx: CheckContext, kpi: KpiContract, *, zone_sensitive: bool = True) -> tuple[Any, Any, str]:
    """The KPI's board, query and DuckDB SQL, once the query's own items would not report first."""
    from ..packs import board_files

    session, pack = ctx.session, ctx.pack
    path = next((p for p in board_files(pack.directory) if p.stem == kpi.board), None)
    if path is None:
        raise CheckSkipped(f"board {kpi.board} does not exist; see pack.yml::load")
    try:
        board = session.board(path, pack.directory)
    except DashpacksError:
        raise CheckSkipped(f"board {kpi.board} does not load; see its load item") from None
    query = board.query(kpi.query)
    if query is None:
        raise CheckSkipped(f"board {kpi.board} has no query {kpi.query}; see pack.yml::load")
    require_runs(session, pack, board, query, session.versions(pack)[-1])
    if zone_sensitive:
        require_zone_clean(session, pack, board, query)
    return board, query, session.runnable(pack, board, query)


def _run(sandbox: Any, sql: str, kpi: KpiContract) -> Any:
    return run_located(sandbox, sql, kpi.span, f"kpi {kpi.name}")


@register("kpi", "timezone")
def check_kpi(ctx: CheckContext) -> None:
    """Each bucket equals the oracle on boundary data plus the seed."""
    from .. import oracle

    kpi = _kpi(ctx)
    board, query, sql = _query(ctx, kpi)
    session, pack = ctx.session, ctx.pack
    version = session.versions(pack)[-1]
    rows = session.dataset(pack, version, "boundary")
    tables = session.tables_read(pack, version, sql, kpi)
    ctx.record.update(board=kpi.board, query=kpi.query, version=version.name, timezone=pack.timezone,
                      rows={key: rows.get(key, []) for key in tables}, **{"class": "timezone"})
    result = _run(session.sandbox(pack, version, "boundary"), sql, kpi)
    ctx.record["result"] = result
    _missing_columns(kpi, result.columns)
    source = session.source_rows(pack, version, kpi, rows)
    stored = session.stored_zone(pack, version, kpi)
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
    details += [f"bucket {m.bucket}: query {_value(m.actual)}, expected {_value(m.expected)}" for m in mismatches[1:6]]
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
        f"kpi {kpi.name}: bucket {first.bucket} ({kpi.grain}, {pack.timezone}) is {_value(first.actual)} in the query, "
        f"expected {_value(first.expected)}",
        kpi.span, sql=excerpt or SqlExcerpt(sql), details=tuple(details), defect_class="timezone",
    )


def bucket_expression(session: Any, pack: Any, board: Any, query: Any, kpi: KpiContract) -> tuple[Any, Any]:
    """Where the query computes the KPI's time column: its board-file span and the SQL as written,
    with a caret under it (None, None when the outermost SELECT does not name it)."""
    from sqlglot import exp

    from ..sqlanalysis import excerpt_at

    parsed = session.parsed(pack, board, query)
    selects = parsed.ast.selects if isinstance(parsed.ast, exp.Select) else []
    node = next((s for s in selects if s.alias_or_name.lower() == kpi.time_column.lower()), None)
    if node is None:
        return None, None
    excerpt = excerpt_at(parsed.sql, node.this if isinstance(node, exp.Alias) else node)
    if not excerpt.line:
        return None, None
    return session.yaml_span(pack, board, query, excerpt.line, excerpt.column), excerpt


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


def _value(value: float | None) -> str:
    return "nothing (no row in that bucket)" if value is None else f"{value:g}"


def _missing_columns(kpi: KpiContract, columns: tuple[str, ...]) -> None:
    lowered = {c.lower() for c in columns}
    for role, column in (("time_column", kpi.time_column), ("measure_column", kpi.measure_column)):
        if column.lower() not in lowered:
            raise CheckFailure(
                f"kpi {kpi.name}: {role} {column!r} is not a column of {kpi.board}.{kpi.query} (returns {', '.join(columns)})",
                kpi.span, defect_class="config",
            )


PROPERTY_EXAMPLES = ("boundary", "soft_deleted", "history", "generated")  # session.dataset cases tried first


@register("property", "volume")
def check_property(ctx: CheckContext) -> None:
    """The oracle holds for Hypothesis-generated datasets."""
    from hypothesis import HealthCheck, example, given, settings

    from .. import oracle
    from ..datagen import dataset_strategy

    kpi = _kpi(ctx)
    board, query, sql = _query(ctx, kpi)
    session, pack = ctx.session, ctx.pack
    version = session.versions(pack)[-1]
    db = session.fixture_db(pack, version)
    stored = session.stored_zone(pack, version, kpi)
    table = oracle.source_table(version, kpi)
    tables = session.tables_read(pack, version, sql, kpi)
    failing: dict[str, Any] = {}
    sandbox = db.open({})

    def oracle_holds(rows: dict[str, list[dict[str, Any]]]) -> None:
        sandbox.replace_rows(rows)
        result = _run(sandbox, sql, kpi)
        actual = oracle.query_buckets(kpi, result.records())
        source = session.source_rows(pack, version, kpi, rows)
        expected = oracle.expected_buckets(kpi, source, stored, pack.timezone, table)
        mismatches = oracle.compare(actual, expected)
        if mismatches:
            failing.update(rows=rows, actual=actual, expected=expected, mismatches=mismatches)
            ctx.record.update(board=kpi.board, query=kpi.query, version=version.name, timezone=pack.timezone,
                              rows=rows, result=result, **{"class": "volume"})
            raise AssertionError("oracle mismatch")

    # The datasets the volume and kpi items use run first as explicit examples: whatever the random
    # draw (derandomized under CI, so the same few every run), every calendar edge of the reporting
    # zone, soft-deleted rows and history rows are tried, where the gallery's defects live.
    run = given(dataset_strategy(version, tables, pack.timezone))(oracle_holds)
    for case in reversed(PROPERTY_EXAMPLES):
        run = example({key: list(rows) for key, rows in session.dataset(pack, version, case).items() if key in tables})(run)
    run = settings(
        max_examples=session.settings.property_examples,
        derandomize=bool(os.environ.get("CI")),  # CI runs the same examples every time
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )(run)
    try:
        run()
    except AssertionError:
        sandbox.close()
        first = failing["mismatches"][0]
        raise CheckFailure(
            f"kpi {kpi.name}: on generated data bucket {first.bucket} is {_value(first.actual)} in the query, "
            f"expected {_value(first.expected)}",
            kpi.span,
            details=("shrunk dataset as a regression case; save it under regressions/ and correct the id and title:",
                     *regression_yaml(ctx, kpi).splitlines()),
            defect_class="volume",
        ) from None
    sandbox.close()


def regression_yaml(ctx: CheckContext, kpi: KpiContract) -> str:
    """The regression case reproducing a property failure (from ``ctx.record``), shrunk and written the
    way --dashpacks-pin-dir writes one: ``expect`` holds the oracle's answer, the right one."""
    from ..pinning import Unpinnable, pinned_case

    try:
        case = pinned_case(ctx.session, ctx.pack, "property", kpi.name, ctx.record, case_id=f"PROP-{kpi.name}",
                           title=f"{kpi.name} disagrees with its oracle on generated data", origin=f"property[{kpi.name}]")
    except Exception as exc:  # the property failure is reported either way
        return f"# no regression case: {exc if isinstance(exc, Unpinnable) else f'{type(exc).__name__}: {exc}'}"
    return case.text


@register("narrative", "narrative")
def check_narrative(ctx: CheckContext) -> None:
    """The KPI sentence renders without None, nan, inf, -0 or raw braces under a data case."""
    from ..narrative import narrative_problems, render_narrative
    from ..oracle import as_date

    kpi = _kpi(ctx)
    case = (ctx.param or "").split("@")[1]
    assert kpi.narrative is not None
    _, _, sql = _query(ctx, kpi, zone_sensitive=False)  # a sentence renders whatever day it names
    session, pack = ctx.session, ctx.pack
    version = session.versions(pack)[-1]
    result = _run(session.sandbox(pack, version, case), sql, kpi)
    records = result.records()
    if records:
        time_key = next((c for c in result.columns if c.lower() == kpi.time_column.lower()), None)
        records.sort(key=lambda r: (as_date(r.get(time_key)) is not None, str(as_date(r.get(time_key)))) if time_key else 0)
        row = records[-1]
    else:
        row = {column: None for column in result.columns}
    try:
        sentence = render_narrative(kpi.narrative, row)
    except Exception as exc:  # a template error is the narrative's defect
        raise CheckFailure(f"kpi {kpi.name}: the narrative does not render under {case} data: {exc}", kpi.span, defect_class="narrative") from None
    problems = narrative_problems(sentence)
    if problems:
        raise CheckFailure(
            f"kpi {kpi.name}: under {case} data the narrative {', '.join(problems)}: {sentence!r}",
            kpi.span,
            details=(f"row: {row}", "use the filters currency, percent, number, signed or date, which render missing values as 'n/a'"),
            defect_class="narrative",
        )
