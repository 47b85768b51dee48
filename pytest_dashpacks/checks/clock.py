"""``clock[<instant>]``: a query that reads the clock answers the same in UTC and in the reporting zone at a
calendar edge (frozen time)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..engines.results import row_multiset
from ..errors import CheckFailure, SqlExcerpt
from . import CheckContext, register
from .prerequisites import (
    require_zone_clean,
)
from .sandboxed import newest, remember, run, runnable, show_rows


@register("clock", "timezone")
def check_clock(ctx: CheckContext) -> None:
    """With now frozen at the instant, UTC and reporting-zone sessions give the same answer."""
    from freezegun import freeze_time

    from ..data.calendar import clock_instant
    from ..sql.clock import frozen_sql

    assert ctx.query is not None and ctx.instant is not None
    version = newest(ctx)
    sql = runnable(ctx, version)
    require_zone_clean(ctx.session, ctx.pack, ctx.board, ctx.query)
    zone = ctx.pack.timezone
    instant = clock_instant(ctx.instant, zone)
    rows = ctx.session.databases.clock_dataset(ctx.pack, version, instant)
    db = ctx.session.databases.fixture_db(ctx.pack, version)
    remember(ctx, version, rows, zone, "timezone", now=instant.isoformat())
    with freeze_time(instant), db.open(rows, zones=(zone,)) as sandbox:
        in_utc = run(ctx, sandbox, frozen_sql(sql, instant, "UTC"), f"with now frozen at {instant:%Y-%m-%d %H:%M:%S} UTC", "UTC")
        in_zone = run(ctx, sandbox, frozen_sql(sql, instant, zone), f"with now frozen, in a {zone} session", zone)
    left, right = row_multiset(in_utc.rows), row_multiset(in_zone.rows)
    if left == right:
        return
    local_time = instant.astimezone(ZoneInfo(zone))
    hint = (
        "CURRENT_DATE (and CURRENT_TIMESTAMP cast to DATE) follow the session zone; "
        f"use CAST(NOW() AT TIME ZONE '{zone}' AS DATE) for the reporting day"
    )
    raise CheckFailure(
        f"at {ctx.instant} ({instant:%Y-%m-%d %H:%M:%S} UTC = {local_time:%Y-%m-%d %H:%M:%S} {zone}) the answer depends on the "
        f"session zone: UTC gives {len(left)} rows, {zone} gives {len(right)}",
        ctx.query.span,
        sql=SqlExcerpt(sql),
        details=("rows only in the UTC session:", *show_rows(in_utc, [r for r in left if r not in right]),
                 f"rows only in the {zone} session:", *show_rows(in_zone, [r for r in right if r not in left]),
                 f"hint: {hint}"),
        defect_class="timezone",
    )
