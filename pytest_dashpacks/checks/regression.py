"""``<pack>/regressions/<ID>.yml::<ID>``: a pinned defect stays fixed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..engines.results import row_diff
from ..errors import CheckFailure, DashpacksError, SqlExcerpt
from ..load.regressions import RegressionCase, parse_instant
from ..load.seeds import first_uncastable
from ..load.yaml import did_you_mean
from . import CheckContext, register


def run_case(ctx: CheckContext, case: RegressionCase) -> tuple[Any, str | None, str]:
    """Run a regression case: (result or None, error text or None, the SQL that ran)."""
    from freezegun import freeze_time

    from ..sql.clock import frozen_sql
    from ..sql.duckdb import runnable_sql
    from ..sql.parse import parse_query
    from ..sql.render import render_sql

    session, pack, doc = ctx.session, ctx.pack, case.doc
    boards = session.library.board_paths(pack)
    if case.board not in boards:
        raise doc.error(f"board {case.board!r} does not exist{did_you_mean(case.board, sorted(boards))}", ("board",))
    board = session.library.board(boards[case.board], pack.directory)
    query = board.query(case.query)
    if query is None:
        raise doc.error(f"board {case.board} has no SQL query {case.query!r}{did_you_mean(case.query, [q.name for q in board.queries])}", ("query",))
    versions = session.library.versions(pack)
    version = versions[-1] if case.schema_version is None else next((v for v in versions if v.name == case.schema_version), None)
    if version is None:
        raise doc.error(f"schema_version {case.schema_version!r} is not one the pack checks ({', '.join(v.name for v in versions)})", ("schema_version",))
    context = session.queries.render_context(pack, board)
    unknown = [name for name in case.variables if name not in context.values]
    if unknown:
        raise doc.error(f"variables: the board declares no variable {unknown[0]!r}{did_you_mean(unknown[0], sorted(context.values))}", ("variables", unknown[0]), key=True)
    sql = render_sql(query.sql, replace(context, values={**context.values, **case.variables}), (query.name,))
    runnable = runnable_sql(
        parse_query(sql, pack.dialect), pack.dialect, session.queries.sqlglot_schema(pack, version, duckdb_types=True), session.library.connector(pack).schema, sql
    )
    zone = case.timezone or pack.timezone
    keys = {t.key for t in version.tables.values()}
    for table, table_rows in case.data.items():
        if table not in keys:
            raise doc.error(f"data: {version.label} has no table {table!r}{did_you_mean(table, sorted(keys))}", ("data", table), key=True)
        spec = next(t for t in version.tables.values() if t.key == table)
        columns = [c.name for c in spec.columns]
        for index, row in enumerate(table_rows):
            for column in row:
                if spec.column(str(column)) is None:
                    raise doc.error(
                        f"data.{table}[{index}]: {version.label} has no column {table}.{column}{did_you_mean(str(column), columns)}",
                        ("data", table, index, column), key=True,
                    )
        uncastable = first_uncastable(spec, [dict(row) for row in table_rows])
        if uncastable:
            column, index = min(uncastable, key=lambda bad: bad[1])
            raise doc.error(
                f"data.{table}[{index}].{column.name}: {table_rows[index].get(column.name)!r} is not a {column.type}",
                ("data", table, index, column.name),
            )
    db = session.databases.fixture_db(pack, version)
    rows = {k: list(v) for k, v in (db.seed.items() if case.seed else [])}
    for table, table_rows in case.data.items():
        rows[table] = rows.get(table, []) + list(table_rows)
    instant = None
    if case.now:
        instant = parse_instant(case.now)
        runnable = frozen_sql(runnable, instant, zone)
    with db.open(rows, zones=(zone,)) as sandbox:
        try:
            if instant is not None:
                with freeze_time(instant):
                    return sandbox.run(runnable, zone), None, runnable
            return sandbox.run(runnable, zone), None, runnable
        except DashpacksError as exc:
            return None, exc.message, runnable


@register("regression", "config")
def check_regression(ctx: CheckContext) -> None:
    case = ctx.regression
    assert case is not None
    try:
        result, error, sql = run_case(ctx, case)
    except DashpacksError as exc:
        if exc.span is not None:
            raise
        raise exc.replaced(span=case.span) from None
    expect = case.expect
    tolerance = float(expect.get("tolerance", 1e-6))
    where = case.doc.span(("expect",))
    if "error" in expect:
        if error is None:
            raise CheckFailure(f"expected the query to fail with {expect['error']!r}, but it ran and returned {len(result.rows)} rows",
                               where, sql=SqlExcerpt(sql), defect_class=case.defect_class)
        if str(expect["error"]).lower() not in error.lower():
            raise CheckFailure(f"expected an error containing {expect['error']!r}, got: {error}", where, sql=SqlExcerpt(sql), defect_class=case.defect_class)
        return
    if error is not None:
        raise CheckFailure(f"the query fails: {error}", where, sql=SqlExcerpt(sql), defect_class=case.defect_class)
    if "columns" in expect and [c.lower() for c in result.columns] != [str(c).lower() for c in expect["columns"]]:
        raise CheckFailure(f"expected columns {list(expect['columns'])}, got {list(result.columns)}",
                           case.doc.span(("expect", "columns")), defect_class=case.defect_class)
    if "rows" in expect:
        diff = row_diff(expect["rows"], result.records(), ordered=bool(expect.get("ordered")), tolerance=tolerance)
        if diff:
            raise CheckFailure(
                f"the pinned defect is back ({case.title or case.defect_class}): rows differ from expect.rows",
                case.doc.span(("expect", "rows")), details=tuple(diff[:20]) + ((f"... {len(diff) - 20} more",) if len(diff) > 20 else ()),
                defect_class=case.defect_class,
            )
