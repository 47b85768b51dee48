"""``syntax`` items: the query renders and parses as one SELECT in the pack dialect, and uses
nothing that dialect's warehouse rejects although sqlglot reads it (``dialect_rules``)."""

from __future__ import annotations

import re

from ..errors import CheckFailure, SourceSpan
from . import CheckContext, register

_PASTED_QUERY = re.compile(r"\{\{-?\s*queries\.")


@register("syntax", "rendering")
def check_syntax(ctx: CheckContext) -> None:
    from ..sql.dialect_rules import dialect_violations

    assert ctx.board is not None and ctx.query is not None
    session, pack, board, query = ctx.session, ctx.pack, ctx.board, ctx.query
    parsed = session.queries.parsed(pack, board, query)
    # A rule that crashes is a plugin bug: the item reports it as a located internal error.
    problems = dialect_violations(parsed.sql, pack.dialect, list(parsed.tokens) or None)
    if not problems:
        return
    first = problems[0]
    span: SourceSpan = query.span
    if first.sql is not None and not _PASTED_QUERY.search(query.sql):  # a pasted query moves the lines
        span = session.queries.yaml_span(pack, board, query, first.sql.line, first.sql.column)
    details: list[str] = []
    if first.hint and "{{" in query.sql:  # the hints say where a Jinja variable goes
        details.append(f"hint: {first.hint}")
    details.extend(
        f"also: SQL line {other.sql.line}: {other.message}" if other.sql else f"also: {other.message}"
        for other in problems[1:]
    )
    raise CheckFailure(first.message, span, sql=first.sql, details=tuple(details), defect_class="rendering")
