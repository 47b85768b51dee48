"""Deletion and history markers are declared (`role: deleted|active`), never guessed from a column name."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import outcomes_by_node
from pytest_dashpacks.errors import SourceSpan
from pytest_dashpacks.data.cases import history_case, soft_deleted_case
from pytest_dashpacks.model import ColumnSpec, ConnectorVersion, TableSpec

# --- the model ----------------------------------------------------------------------


def test_only_fivetran_flags_have_a_default_role() -> None:
    assert ColumnSpec("_fivetran_deleted", "BOOLEAN").effective_role == "deleted"
    assert ColumnSpec("_FIVETRAN_ACTIVE", "bool").effective_role == "active"
    assert ColumnSpec("is_deleted", "boolean").effective_role is None
    assert ColumnSpec("_fivetran_deleted", "varchar").effective_role is None  # a flag is boolean
    assert ColumnSpec("is_current", "boolean", role="active").effective_role == "active"
    table = TableSpec("t", "raw", "t", (ColumnSpec("is_deleted", "boolean", role="deleted"), ColumnSpec("id", "bigint"),
                                        ColumnSpec("_fivetran_deleted", "boolean")))
    assert [c.name for c in table.role_columns("deleted")] == ["is_deleted", "_fivetran_deleted"]
    assert table.role_columns("active") == ()


# --- the volume cases -----------------------------------------------------------------


def version_of(*columns: ColumnSpec) -> ConnectorVersion:
    table = TableSpec("orders", "raw", "orders", (ColumnSpec("id", "bigint", primary_key=True), *columns))
    return ConnectorVersion("acme", "1", {"raw.orders": table}, (), SourceSpan(Path("connector.yml")))


SEED = {"orders": [{"id": "1", "is_deleted": "false", "_fivetran_deleted": "false"},
                   {"id": "2", "is_deleted": "false", "_fivetran_deleted": "false"}]}


def test_soft_deleted_rows_come_one_flag_at_a_time_from_the_declared_roles() -> None:
    declared = soft_deleted_case(version_of(ColumnSpec("is_deleted", "boolean", role="deleted"), ColumnSpec("_fivetran_deleted", "boolean")), SEED)
    extra = declared["orders"][2:]
    assert [(r["id"], r["is_deleted"], r["_fivetran_deleted"]) for r in extra] == [
        (10_000_001, True, False), (10_000_002, True, False), (20_000_001, False, True), (20_000_002, False, True),
    ]
    assert declared["orders"][:2] == SEED["orders"]
    undeclared = soft_deleted_case(version_of(ColumnSpec("is_deleted", "boolean"), ColumnSpec("_fivetran_deleted", "boolean")), SEED)
    assert [(r["is_deleted"], r["_fivetran_deleted"]) for r in undeclared["orders"][2:]] == [("false", True), ("false", True)]
    assert soft_deleted_case(version_of(ColumnSpec("is_deleted", "boolean")), SEED) == SEED


def test_history_rows_use_the_declared_active_column() -> None:
    seed = {"orders": [{"id": "1", "is_current": "true", "_fivetran_active": "yes"}]}
    declared = history_case(version_of(ColumnSpec("is_current", "boolean", role="active"), ColumnSpec("_fivetran_active", "varchar")), seed)
    assert declared["orders"][1] == {"id": "1", "is_current": False, "_fivetran_active": "yes"}
    assert history_case(version_of(ColumnSpec("is_current", "boolean"), ColumnSpec("_fivetran_active", "varchar")), seed) == seed


# --- end to end -------------------------------------------------------------------------

CONNECTOR = """\
connector: acme
schema: acme
versions:
  "1":
    tables:
      orders:
        columns:
          id: {type: bigint, primary_key: true, nullable: false}
          created_at: {type: timestamp, nullable: false}
          is_deleted: {type: boolean}
          _fivetran_deleted: {type: boolean}
"""

SEED_CSV = """\
id,created_at,is_deleted,_fivetran_deleted
1,2024-03-01 10:00:00,false,false
2,2024-03-01 11:00:00,true,false
3,2024-03-02 12:00:00,false,true
4,2024-03-02 13:00:00,,
"""

PACK = """\
connector: acme
fixtures: ../../fx
dialect: duckdb
timezone: UTC
kpis:
  daily_orders:
    board: orders
    query: daily
    grain: day
    time_column: day
    measure_column: orders
    source: {table: orders, timestamp: created_at, value: count, exclude_deleted: true}
"""

BOARD = """\
title: Orders
queries:
  daily: |
    SELECT CAST(created_at AS DATE) AS day, COUNT(*) AS orders
    FROM acme.orders
    WHERE NOT COALESCE(_fivetran_deleted, FALSE)
    GROUP BY 1
charts:
  trend: {type: line, query: daily, x: day, y: orders}
rows: [trend]
"""

ITEMS = ("pack.yml::kpi[daily_orders]", "pack.yml::property[daily_orders]",
         "boards/orders.yml::daily::volume[soft_deleted]", "boards/orders.yml::daily::volume[zero]")


def run_pack(packs, pytester, connector: str, workers: str = "0"):
    packs({"fx/acme/connector.yml": connector, "fx/acme/seed/orders.csv": SEED_CSV,
           "packs/shop/pack.yml": PACK, "packs/shop/boards/orders.yml": BOARD})
    args = ("--dashpacks", "packs", "-k", "kpi or property or volume", "--dashpacks-property-examples", "25",
            "--dashpacks-large-rows", "200", "-rA", "-p", "no:cacheprovider", "-n", workers)
    result = pytester.runpytest(*args) if workers == "0" else pytester.runpytest_subprocess(*args)
    outcomes = outcomes_by_node(result)
    return result, {item: outcomes.get(f"packs/shop/{item}") for item in ITEMS}


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_undeclared_is_deleted_column_is_data_not_a_delete_marker(packs, pytester, workers):
    result, outcomes = run_pack(packs, pytester, CONNECTOR, workers)
    assert outcomes == dict.fromkeys(ITEMS, "PASSED"), result.stdout.str()


def test_a_declared_delete_marker_the_board_ignores_fails_the_kpi(packs, pytester):
    declared = CONNECTOR.replace("is_deleted: {type: boolean}", "is_deleted: {type: boolean, role: deleted}")
    result, outcomes = run_pack(packs, pytester, declared)
    assert outcomes["pack.yml::kpi[daily_orders]"] == "FAILED"
    assert outcomes["boards/orders.yml::daily::volume[soft_deleted]"] == "FAILED"
    result.stdout.fnmatch_lines([
        "*pack.yml:6: kpi?daily_orders?: kpi daily_orders: bucket 2024-* (day, UTC) is * in the query, expected *",
        "  likely cause: counts soft-deleted rows (is_deleted = true)",
    ])
    result.stdout.fnmatch_lines(["*volume?soft_deleted?: kpi daily_orders: adding soft-deleted rows changed bucket 2024-03-0*"])
