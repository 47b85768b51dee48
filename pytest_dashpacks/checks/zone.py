"""``zone`` items: every date/time bucket of a stored timestamp is taken in the pack's reporting zone.

Static: the query is qualified against the newest connector version and each
bucket's argument is traced to its connector column. A bucket of a naive
timestamp not converted from its stored zone to the reporting zone, a single
``AT TIME ZONE`` on a naive timestamp, a conversion to another zone, and a
bucket of an instant left to the session zone all fail, with the corrected
expression. Generated only when the pack zone differs from a stored zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import CheckFailure, CheckSkipped, DashpacksError, SourceSpan
from ..model import Board, Pack, Query
from ..sql.buckets import ZoneBucket
from . import CheckContext, register
from .prerequisites import require_resolved


@register("zone", "timezone")
def check_zone(ctx: CheckContext) -> None:
    assert ctx.board is not None and ctx.query is not None
    session, pack, board, query = ctx.session, ctx.pack, ctx.board, ctx.query
    own = zone_findings(session, pack, board, query)
    if not own:
        return
    first, line = own[0]
    fixes = [_fix(query, b, at) for b, at in own]
    details = [f"fix: {fixes[0]}"] if fixes[0] else []
    for (bucket, at), fix_text in zip(own[1:], fixes[1:]):
        fix = f"; fix: {fix_text}" if fix_text else ""
        details.append(f"also: {SourceSpan(query.span.path, at).location()}: {bucket.message}{fix}")
    raise CheckFailure(
        first.message,
        SourceSpan(query.span.path, line, query.sql_indent + 1),
        sql=first.sql,
        details=tuple(details),
        defect_class="timezone",
    )


def zone_findings(session: Any, pack: Pack, board: Board, query: Query) -> list[tuple[ZoneBucket, int]]:
    """The query's own unconverted buckets with their YAML lines (blocked when it does not resolve)."""
    from ..sql.buckets import UnresolvedColumn, unconverted_buckets

    newest = session.library.versions(pack)[-1]
    require_resolved(session, pack, board, query, newest)

    def build() -> list[tuple[ZoneBucket, int]]:
        parsed = session.queries.parsed(pack, board, query)
        tree = session.queries.qualified(pack, board, query, newest)
        catalog = session.queries.catalog(pack, newest)
        try:
            buckets = unconverted_buckets(
                tree, parsed.sql, pack.dialect, pack.timezone, newest, session.library.connector(pack).schema, catalog.models
            )
        except UnresolvedColumn as exc:
            raise CheckSkipped(f"the query does not resolve in {newest.label} ({exc}); see its schema[{newest.label}] item") from None
        regions = _embedded_queries(session, pack, board, query, parsed.sql)
        # A bucket inside {{ queries.other }} fails that query's own zone item, once.
        own = [b for b in buckets if not any(r.start <= b.offset < r.end and r.checked for r in regions)]
        return [(b, _yaml_line(query, parsed.sql, b.offset, regions)) for b in own]

    return session.cached(("zone-findings", board.path, query.name), build)


def _fix(query: Query, bucket: ZoneBucket, line: int) -> str:
    """The corrected expression; filter_date_range() names a column, so there the column must change."""
    template = query.sql.splitlines()
    index = line - query.sql_first_line
    if 0 <= index < len(template) and "filter_date_range(" in template[index]:
        return (
            f"filter_date_range() compares the date in the stored zone: select {bucket.conversion} as a column "
            f"in a CTE or subquery and filter on that column"
        )
    return bucket.fix


@dataclass(frozen=True)
class _Region:
    """Where ``{{ queries.<name> }}`` was expanded in the rendered SQL."""

    name: str
    start: int
    end: int
    newlines: int
    checked: bool  # the embedded query parses, so its own zone item judges it


def _embedded_queries(session: Any, pack: Pack, board: Board, query: Query, sql: str) -> list[_Region]:
    regions: list[_Region] = []
    for name in dict.fromkeys(re.findall(r"queries\.(\w+)|queries\[['\"](\w+)['\"]\]", query.sql)):
        name = next(n for n in name if n)
        other = board.query(name)
        if other is None:
            continue
        try:
            text = session.queries.rendered(pack, board, other)
        except DashpacksError:
            continue
        try:
            session.queries.parsed(pack, board, other)
            checked = True
        except DashpacksError:
            checked = False
        if not text:
            continue
        start = sql.find(text)
        while start >= 0:
            regions.append(_Region(name, start, start + len(text), text.count("\n"), checked))
            start = sql.find(text, start + len(text))
    return sorted(regions, key=lambda r: r.start)


def _yaml_line(query: Query, sql: str, offset: int, regions: list[_Region]) -> int:
    """The board line of a rendered SQL position: the template line when rendering kept the lines."""
    rendered_line = sql.count("\n", 0, max(offset, 0)) + 1
    template_lines = query.sql.splitlines()
    outermost = _outermost(regions)
    extra = sum(r.newlines for r in outermost if r.end <= offset)
    total_extra = sum(r.newlines for r in outermost)
    if len(sql.splitlines()) - total_extra == len(template_lines) and offset >= 0:
        return query.sql_first_line + rendered_line - extra - 1
    wanted = sql.splitlines()[rendered_line - 1].strip() if rendered_line <= len(sql.splitlines()) else ""
    matches = [n for n, text in enumerate(template_lines, 1) if wanted and text.strip() == wanted]
    if len(matches) == 1:
        return query.sql_first_line + matches[0] - 1
    return query.span.line


def _outermost(regions: list[_Region]) -> list[_Region]:
    out: list[_Region] = []
    for region in regions:
        if not out or region.start >= out[-1].end:
            out.append(region)
    return out
