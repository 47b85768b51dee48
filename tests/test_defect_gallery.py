"""Every pack in examples/defects fails exactly the item its defect breaks, with its message."""

from __future__ import annotations

import shutil

import pytest

from conftest import STATIC, EXAMPLES, outcomes_by_node

# slug -> (the one failing node id, below the pack; lines its failure prints)
GALLERY = {
    "renamed_column": (
        "boards/pipeline.yml::open_deals::schema[hubspot@2025-07]",
        [
            "*boards/pipeline.yml:7: schema?hubspot@2025-07?: column hubspot.deal_pipeline_stage.closed_won does not exist in hubspot@2025-07",
            "  hint: renamed to is_closed: use is_closed",
            "  caused by: column deal_pipeline_stage.closed_won renamed to is_closed in version 2025-07 (dbt_hubspot_source v0.21.0*connector.yml:180",
            "    > 4 | WHERE NOT s.closed_won",
            "                      ^^^^^^^^^^",
        ],
    ),
    "moved_column": (
        "boards/subscriptions.yml::renewals::schema[stripe@2025-07]",
        [
            "*boards/subscriptions.yml:4: schema?stripe@2025-07?: column stripe.subscription_history.current_period_end does not exist in stripe@2025-07",
            "  hint: moved to subscription_item.current_period_end: join subscription_item to read it",
            "  caused by: column subscription_history.current_period_end dropped in version 2025-07 (dbt_stripe v1.1.0*",
        ],
    ),
    "renamed_table": (
        "boards/subscriptions.yml::by_status::schema[stripe@2023-10]",
        [
            "*boards/subscriptions.yml:5: schema?stripe@2023-10?: table stripe.subscription does not exist in stripe@2023-10",
            "  hint: use subscription_history",
            "  caused by: table subscription renamed to subscription_history in version 2023-10 (dbt_stripe_source v0.6.0*",
        ],
    ),
    "accepted_values": (
        "boards/sales.yml::paid_orders::schema[shopify@2025-08]",
        [
            "*boards/sales.yml:6: schema?shopify@2025-08?: shopify.order.display_financial_status is compared with 'paid', which shopify@2025-08 never emits (accepted values: AUTHORIZED, EXPIRED, PAID, *)",
            "  hint: values are case-sensitive: use 'PAID'",
            "  caused by: accepted values of order.display_financial_status changed to * in version 2025-08 (dbt_shopify v0.20.0*",
        ],
    ),
    "type_mismatch": (
        "boards/tickets.yml::by_stage::schema[hubspot@2025-07]",
        [
            "*boards/tickets.yml:7: schema?hubspot@2025-07?: joins labels.stage_id (INT) with t.property_hs_pipeline_stage (TEXT) in hubspot@2025-07: Redshift and Postgres refuse to compare number with text",
            "  caused by: column ticket.property_hs_pipeline_stage retyped to varchar in version 2025-07*",
        ],
    ),
    "model_drift": (
        "boards/deals.yml::deals_by_owner::schema[hubspot@2025-07]",
        [
            "*boards/deals.yml:5: schema?hubspot@2025-07?: model hubspot__deals does not build on hubspot@2025-07: column hubspot.deal_pipeline_stage.closed_won does not exist in hubspot@2025-07",
            "  hint: renamed to is_closed: use is_closed",
        ],
    ),
    "missing_binding": (
        "boards/support.yml::daily::bindings",
        ["*boards/support.yml:8: bindings: chart 'trend' y names column 'tickets', which query 'daily' does not return (did you mean 'ticket_count'?)"],
    ),
    "non_numeric_measure": (
        "boards/support.yml::backlog::bindings",
        ["*boards/support.yml:8: bindings: chart 'open_kpi' value column 'open_tickets' must be numeric, but the query returns text"],
    ),
    "parse_error": (
        "boards/support.yml::by_priority::syntax",
        ["*boards/support.yml:3: syntax: SQL does not parse as duckdb: Expecting )*"],
    ),
    "unknown_function": (
        "boards/support.yml::top_tags::transpile[redshift]",
        [
            "*boards/support.yml:3: transpile?redshift?: redshift has no function APPROX_TOP_K: the transpiled query calls APPROX_TOP_K",
            "    > 1 | SELECT brand_id, APPROX_TOP_K(priority, 3) AS top_priorities, COUNT(*) AS tickets FROM zendesk.ticket GROUP BY 1",
            "                           ^^^^^^^^^^^^",
        ],
    ),
    "unknown_key": (
        "pack.yml::load",
        ["*pack.yml:3: load: unknown key 'schema_version' in document (did you mean 'schema_versions'?)"],
    ),
}


def test_the_gallery_is_complete():
    from test_dynamic_gallery import DYNAMIC

    packs = sorted(p.name for p in (EXAMPLES / "defects").iterdir() if (p / "pack.yml").is_file())
    postgres_only = ["having_alias"]  # tests/test_postgres_engine.py runs it with --dashpacks-engine postgres
    assert packs == sorted([*GALLERY, *DYNAMIC, *(f"{slug}__fixed" for slug in DYNAMIC), *postgres_only])


@pytest.mark.parametrize("slug", sorted(GALLERY))
def test_defect_is_caught_where_expected(pytester, slug):
    failing, lines = GALLERY[slug]
    shutil.copytree(EXAMPLES / "defects" / slug, pytester.path / slug)
    result = pytester.runpytest("--dashpacks", slug, *STATIC, "-rA", "-p", "no:cacheprovider")
    outcomes = outcomes_by_node(result)
    failed = sorted(node for node, outcome in outcomes.items() if outcome == "FAILED")
    assert failed == [f"{slug}/{failing}"]
    if slug == "unknown_key":  # the board cannot be checked without its pack: blocked by it, not a second failure
        result.stdout.fnmatch_lines([f"SKIPPED ?1? {slug}/boards/support.yml:1: blocked by {slug}/pack.yml::load: unknown key*"])
    assert set(outcomes.values()) <= {"PASSED", "FAILED", "SKIPPED"}
    result.stdout.fnmatch_lines(lines)
    assert "Traceback" not in result.stdout.str()
