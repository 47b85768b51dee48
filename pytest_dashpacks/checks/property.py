"""``property[<name>]``: the KPI query agrees with its oracle on Hypothesis-generated datasets."""

from __future__ import annotations

import os
from typing import Any

from ..errors import CheckFailure
from ..kpi.tables import source_rows, stored_zone, with_source_table
from ..model import KpiContract
from . import CheckContext, register
from .kpi import contract_of, kpi_query, run_kpi, shown

PROPERTY_EXAMPLES = ("boundary", "soft_deleted", "history", "generated")  # data cases (databases.dataset) tried first


@register("property", "volume")
def check_property(ctx: CheckContext) -> None:
    """The oracle holds for Hypothesis-generated datasets."""
    from hypothesis import HealthCheck, example, given, settings

    from ..data.strategies import dataset_strategy
    from ..kpi import oracle

    kpi = contract_of(ctx)
    board, query, sql = kpi_query(ctx, kpi)
    session, pack = ctx.session, ctx.pack
    version = session.library.versions(pack)[-1]
    db = session.databases.fixture_db(pack, version)
    stored = stored_zone(version, kpi)
    table = oracle.source_table(version, kpi)
    tables = with_source_table(session.queries.tables_read(pack, version, sql), version, kpi)
    failing: dict[str, Any] = {}

    def oracle_holds(rows: dict[str, list[dict[str, Any]]]) -> None:
        sandbox.replace_rows(rows)
        result = run_kpi(sandbox, sql, kpi)
        actual = oracle.query_buckets(kpi, result.records())
        source = source_rows(version, kpi, rows)
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
        run = example({key: list(rows) for key, rows in session.databases.dataset(pack, version, case).items() if key in tables})(run)
    run = settings(
        max_examples=session.settings.property_examples,
        derandomize=bool(os.environ.get("CI")),  # CI runs the same examples every time
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )(run)
    sandbox = db.open({})  # one database whose rows each example swaps in
    try:
        run()
    except AssertionError:
        first = failing["mismatches"][0]
        raise CheckFailure(
            f"kpi {kpi.name}: on generated data bucket {first.bucket} is {shown(first.actual)} in the query, "
            f"expected {shown(first.expected)}",
            kpi.span,
            details=("shrunk dataset as a regression case; save it under regressions/ and correct the id and title:",
                     *regression_yaml(ctx, kpi).splitlines()),
            defect_class="volume",
        ) from None
    finally:
        sandbox.close()  # its query thread too, whatever the examples raised


def regression_yaml(ctx: CheckContext, kpi: KpiContract) -> str:
    """The regression case reproducing a property failure (from ``ctx.record``), shrunk and written the
    way --dashpacks-pin-dir writes one: ``expect`` holds the oracle's answer, the right one."""
    from ..report.pinning import case_text_or_reason

    return case_text_or_reason(ctx.session, ctx.pack, "property", ctx.record, case_id=f"PROP-{kpi.name}", kpi=kpi,
                               title=f"{kpi.name} disagrees with its oracle on generated data", origin=f"property[{kpi.name}]")
