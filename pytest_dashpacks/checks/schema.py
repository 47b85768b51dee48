"""``schema[<connector>@<version>]`` items: the query fits one connector version.

Every table and column must exist (through models too), literals compared
with a column that declares accepted ``values`` must be among them, and
compared or joined columns must have types every warehouse can compare.
"""

from __future__ import annotations

from ..errors import CheckFailure, SourceSpan
from ..sql.parse import Problem
from . import CheckContext, register
from .prerequisites import first_version_with, require_parsed, schema_blocker


@register("schema", "schema_drift")
def check_schema(ctx: CheckContext) -> None:
    """Reports the problems this version brings; those an older checked version has too are that
    version's item's (one cause, one failure)."""
    assert ctx.board is not None and ctx.query is not None and ctx.version is not None
    session, pack, board, query = ctx.session, ctx.pack, ctx.board, ctx.query
    version = ctx.version
    require_parsed(session, pack, board, query)
    problems = session.queries.schema_problems(pack, board, query, version)
    if not problems:
        return
    new = [p for p in problems if first_version_with(session, pack, board, query, version, p).name == version.name]
    if not new:
        raise schema_blocker(session, pack, board, query, version, problems[0])
    first = new[0].sql
    span = session.queries.yaml_span(pack, board, query, first.line, first.column) if first is not None else query.span
    raise problem_failure(new, span, "schema_drift")


def problem_failure(problems: list[Problem], span: SourceSpan, defect_class: str) -> CheckFailure:
    """One failure for a list of problems: the first in full, the rest as further lines."""
    first = problems[0]
    details: list[str] = []
    if first.hint:
        details.append(f"hint: {first.hint}")
    if first.cause is not None:
        details.append(f"caused by: {first.cause.describe()}")
    for other in problems[1:]:
        where = f"SQL line {other.sql.line}: " if other.sql and other.sql.line else ""
        extra = f" ({other.hint})" if other.hint else ""
        details.append(f"also: {where}{other.message}{extra}")
    return CheckFailure(first.message, span, sql=first.sql, details=tuple(details), defect_class=defect_class)
