"""``narrative[<name>@<case>]``: the KPI sentence renders cleanly under a data case."""

from __future__ import annotations

from ..errors import CheckFailure
from . import CheckContext, register
from .kpi import contract_of, kpi_query, run_kpi


@register("narrative", "narrative")
def check_narrative(ctx: CheckContext) -> None:
    """The KPI sentence renders without None, nan, inf, -0 or raw braces under a data case."""
    from jinja2 import TemplateError

    from ..kpi.narrative import narrative_problems, render_narrative
    from ..kpi.oracle import as_date

    kpi = contract_of(ctx)
    case = ctx.data_case
    assert case is not None
    assert kpi.narrative is not None
    _, _, sql = kpi_query(ctx, kpi, zone_sensitive=False)  # a sentence renders whatever day it names
    session, pack = ctx.session, ctx.pack
    version = session.library.versions(pack)[-1]
    result = run_kpi(session.databases.sandbox(pack, version, case), sql, kpi)
    records = result.records()
    if records:
        time_key = next((c for c in result.columns if c.lower() == kpi.time_column.lower()), None)
        records.sort(key=lambda r: (as_date(r.get(time_key)) is not None, str(as_date(r.get(time_key)))) if time_key else 0)
        row = records[-1]
    else:
        row = {column: None for column in result.columns}
    try:
        sentence = render_narrative(kpi.narrative, row)
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:  # the template fails on this data
        raise CheckFailure(f"kpi {kpi.name}: the narrative does not render under {case} data: {exc}", kpi.span, defect_class="narrative") from None
    problems = narrative_problems(sentence)
    if problems:
        raise CheckFailure(
            f"kpi {kpi.name}: under {case} data the narrative {', '.join(problems)}: {sentence!r}",
            kpi.span,
            details=(f"row: {row}", "use the filters currency, percent, number, signed or date, which render missing values as 'n/a'"),
            defect_class="narrative",
        )
