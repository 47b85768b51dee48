"""The example packs stay green, serially and under xdist, with the same items."""

from __future__ import annotations

import shutil

import pytest

from conftest import STATIC, EXAMPLES, outcomes_by_node


@pytest.fixture
def example_packs(pytester):
    shutil.copytree(EXAMPLES / "packs", pytester.path / "packs")
    return pytester


EVERYTHING = ("--dashpacks-large-rows", "2000", "--dashpacks-property-examples", "10", "-rA", "-p", "no:cacheprovider")


def test_examples_are_green_and_cover_every_connector(example_packs):
    result = example_packs.runpytest_subprocess("--dashpacks", "packs", "-n", "2", *EVERYTHING)
    outcomes = outcomes_by_node(result)
    assert result.ret == 0
    assert set(outcomes.values()) == {"PASSED"}
    packs = {node.split("/")[1] for node in outcomes}
    assert packs == {"hubspot_pipeline", "salesforce_sales", "shopify_orders", "stripe_revenue", "zendesk_support"}
    checks = {node.rpartition("::")[2].partition("[")[0] for node in outcomes}
    pins = {name for name in checks if name.startswith("DEF-")}
    assert pins, "the example packs pin their fixed defects"
    assert checks - pins == {"load", "syntax", "schema", "bindings", "transpile", "zone", "execute", "timezone", "clock", "volume",
                             "kpi", "property", "narrative"}
    result.stdout.fnmatch_lines(["*= dashpacks stability =*"])


def test_examples_under_xdist_give_the_same_outcomes(example_packs):
    serial = outcomes_by_node(example_packs.runpytest("--dashpacks", "packs", *STATIC, "-rA", "-p", "no:cacheprovider"))
    parallel = example_packs.runpytest_subprocess("--dashpacks", "packs", *STATIC, "-n", "2", "-rA", "-p", "no:cacheprovider")
    assert outcomes_by_node(parallel) == serial


def test_realworld_boards_are_green_in_every_dialect(pytester):
    """Healthy boards written the way each warehouse's analysts write them raise no alarm."""
    shutil.copytree(EXAMPLES / "realworld", pytester.path / "realworld")
    result = pytester.runpytest_subprocess("--dashpacks", "realworld", "-n", "2", *EVERYTHING)
    outcomes = outcomes_by_node(result)
    assert result.ret == 0
    assert set(outcomes.values()) == {"PASSED"}
    packs = {node.split("/")[1] for node in outcomes}
    assert packs == {"bigquery_revenue", "duckdb_serving", "postgres_saas_metrics", "snowflake_billing"}
    kpis = {node.rpartition("::")[2] for node in outcomes if "::kpi[" in node}
    assert kpis == {"kpi[daily_gross_usd]", "kpi[daily_gross_eur]", "kpi[daily_succeeded_charges]"}


def test_a_healthy_unnest_stays_under_the_row_cap_at_the_default_large_size(pytester):
    """mrr_movements returns three rows per month row: 600,000 rows under volume[large]'s default
    200,000 rows per table. The default dashpacks_max_rows must leave that healthy query green."""
    import shutil

    from conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "realworld", pytester.path / "realworld")
    shutil.copytree(EXAMPLES.parent / "connector_fixtures", pytester.path / "connector_fixtures")
    result = pytester.runpytest("--dashpacks", "realworld/bigquery_revenue", "-k", "mrr_movements and volume and large", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
