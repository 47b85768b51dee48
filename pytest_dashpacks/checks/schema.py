"""``schema[<connector>@<version>]`` items: the query fits one connector version.

Every table and column must exist (through models too), literals compared
with a column that declares accepted ``values`` must be among them, and
compared or joined columns must have types every warehouse can compare.
"""

from __future__ import annotations

from ..errors import CheckFailure, CheckSkipped, SourceSpan
from ..sqlanalysis import Problem, compares_expressions, schema_problems, type_and_value_problems
from . import CheckContext, register


@register("schema", "schema_drift")
def check_schema(ctx: CheckContext) -> None:
    assert ctx.board is not None and ctx.query is not None and ctx.param is not None
    session, pack = ctx.session, ctx.pack
    version = next(v for v in session.versions(pack) if v.name == ctx.param)
    try:
        parsed = session.parsed(pack, ctx.board, ctx.query)
    except Exception:
        raise CheckSkipped("the query does not render or parse; see its syntax item") from None
    catalog = session.catalog(pack, version)
    connector = session.connector(pack)
    problems = schema_problems(parsed.ast, parsed.sql, version, catalog.models, connector.schema)
    if not problems:
        tree = session.qualified(pack, ctx.board, ctx.query, version)
        if compares_expressions(tree):  # column-to-column comparisons need types; literals do not
            tree = session.typed(pack, ctx.board, ctx.query, version)
        problems = type_and_value_problems(tree, parsed.sql, version, connector.schema, catalog.models)
    if problems:
        raise problem_failure(problems, ctx.query.span, "schema_drift")


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
