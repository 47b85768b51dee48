"""What the checks that run board SQL in a fixture database share: the runnable SQL, running it
with located failures, and remembering what a failing item ran on (for pinning)."""

from __future__ import annotations

from typing import Any

from ..engines.duckdb import Sandbox
from ..engines.results import QueryResult
from ..errors import CheckFailure, CheckSkipped, DashpacksError
from ..model import KpiContract
from . import CheckContext
from .prerequisites import (
    blocked,
    require_resolved,
    require_runs,
)


def runnable(ctx: CheckContext, version: Any, *, runs: bool = True) -> str:
    """The query as DuckDB SQL, once its prerequisites on ``version`` hold: it parses (``syntax``),
    resolves (``schema``) and, with ``runs``, runs on the seed (``execute``); else the item is blocked."""
    assert ctx.board is not None and ctx.query is not None
    if runs:
        require_runs(ctx.session, ctx.pack, ctx.board, ctx.query, version)
    else:
        require_resolved(ctx.session, ctx.pack, ctx.board, ctx.query, version)
    return ctx.session.queries.runnable(ctx.pack, ctx.board, ctx.query, version)


def require_bindings(ctx: CheckContext) -> None:
    """A bound column the query does not return is the ``bindings`` item's finding when it sees it statically."""
    from .bindings import check_bindings

    assert ctx.query is not None
    try:
        check_bindings(ctx)
    except CheckFailure as exc:
        raise blocked(f"{ctx.session.library.query_nodeid(ctx.query)}::bindings", exc.message) from None
    except CheckSkipped:
        pass  # the static item cannot tell: the run is the evidence


def run_located(sandbox: Sandbox, sql: str, span: Any, what: str = "", zone: str | None = None, keep: Any = None) -> QueryResult:
    """Run a query; a failure is located at ``span`` and its message prefixed with ``what``."""
    try:
        return sandbox.run(sql, zone, keep)
    except DashpacksError as exc:
        raise exc.replaced(span=span, message=f"{what}: {exc.message}" if what else exc.message) from None


def run(ctx: CheckContext, sandbox: Sandbox, sql: str, what: str = "", zone: str | None = None, keep: Any = None) -> QueryResult:
    """Run and locate any failure at the query's line in the board (``keep``: see :meth:`Sandbox.run`)."""
    assert ctx.query is not None
    return run_located(sandbox, sql, ctx.query.span, what, zone, keep)


def newest(ctx: CheckContext) -> Any:
    return ctx.session.library.versions(ctx.pack)[-1]


def kpis_of(ctx: CheckContext) -> list[KpiContract]:
    assert ctx.board is not None and ctx.query is not None
    return [k for k in ctx.pack.kpis if k.board == ctx.board.stem and k.query == ctx.query.name]


def remember(ctx: CheckContext, version: Any, data: Any, zone: str, defect_class: str, **extra: Any) -> None:
    """Note what the item runs on, so --dashpacks-pin-dir can write a reproducing regression case."""
    assert ctx.board is not None and ctx.query is not None
    rows = ctx.session.databases.dataset(ctx.pack, version, data) if isinstance(data, str) else data
    tables = ctx.session.queries.tables_read(ctx.pack, version, ctx.session.queries.runnable(ctx.pack, ctx.board, ctx.query, version))
    ctx.record.update(
        board=ctx.board.stem, query=ctx.query.name, version=version.name, timezone=zone, **{"class": defect_class},
        rows={key: rows.get(key, []) for key in tables}, **extra,
    )


def show_rows(result: QueryResult, rows: list[tuple[Any, ...]], limit: int = 8) -> list[str]:
    lines = [f"    {dict(zip(result.columns, row))}" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"    ... {len(rows) - limit} more")
    return lines


def joins(sql: str) -> bool:
    """Whether a DuckDB query joins tables anywhere (only then can a join fan out)."""
    import sqlglot
    from sqlglot import exp

    return any(True for _ in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Join))
