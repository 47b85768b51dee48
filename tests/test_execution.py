"""Board SQL made runnable in DuckDB: warehouse semantics kept, clocks frozen."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pytest_dashpacks.errors import CheckSkipped
from pytest_dashpacks.sql.clock import frozen_sql, reads_clock
from pytest_dashpacks.sql.duckdb import runnable_sql
from pytest_dashpacks.sql.parse import parse_query

ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe")


def results_by_zone(sql: str) -> dict[str, list]:
    out = {}
    for zone in ZONES:
        con = duckdb.connect()
        con.execute(f"SET TimeZone = '{zone}'")
        out[zone] = con.sql(sql).fetchall()
    return out


@pytest.mark.parametrize(
    "sql, expected",
    [
        # 03:30 UTC on Mar 10 is 22:30 on Mar 9 in New York
        ("SELECT DATE(TIMESTAMP(x), 'America/New_York') AS d FROM (SELECT '2024-03-10 03:30:00' AS x)", [(dt.date(2024, 3, 9),)]),
        ("SELECT DATETIME(TIMESTAMP(x), 'America/New_York') AS d FROM (SELECT '2024-03-10 03:30:00' AS x)", [(dt.datetime(2024, 3, 9, 22, 30),)]),
        # 40 minutes are 0 elapsed hours in every zone (DuckDB's DATE_DIFF would count a boundary in some)
        ("SELECT TIMESTAMP_DIFF(TIMESTAMP('2024-11-03 06:10:00'), TIMESTAMP('2024-11-03 05:30:00'), HOUR) AS h", [(0,)]),
        ("SELECT TIMESTAMP_DIFF(TIMESTAMP('2024-03-11 06:00:00'), TIMESTAMP('2024-03-10 05:00:00'), DAY) AS d", [(1,)]),
    ],
)
def test_bigquery_time_functions_keep_their_meaning_in_every_session_zone(sql, expected):
    runnable = runnable_sql(parse_query(sql, "bigquery"), "bigquery")
    assert all(rows == expected for rows in results_by_zone(runnable).values())


def test_catalog_prefixes_are_dropped_and_unknown_functions_skip():
    sql = runnable_sql(parse_query("SELECT id FROM `proj.zendesk.ticket`", "bigquery"), "bigquery")
    assert sql == 'SELECT id FROM "zendesk"."ticket"'
    with pytest.raises(CheckSkipped, match="HOST"):
        runnable_sql(parse_query("SELECT NET.HOST(url) AS host FROM t", "bigquery"), "bigquery")


def test_frozen_clock_literals_follow_the_session_zone_only_for_current_date():
    instant = dt.datetime(2024, 6, 15, 0, 0, 30, tzinfo=dt.timezone.utc)
    sql = "SELECT CURRENT_DATE AS today, CAST(NOW() AT TIME ZONE 'America/New_York' AS DATE) AS local_today"
    utc = duckdb.sql(frozen_sql(sql, instant, "UTC")).fetchall()
    new_york = duckdb.sql(frozen_sql(sql, instant, "America/New_York")).fetchall()
    assert utc == [(dt.date(2024, 6, 15), dt.date(2024, 6, 14))]
    assert new_york == [(dt.date(2024, 6, 14), dt.date(2024, 6, 14))]


@pytest.mark.parametrize("sql, reads", [("SELECT CURRENT_DATE", True), ("SELECT getdate()", True), ("SELECT now_playing FROM t", False)])
def test_reads_clock(sql, reads):
    assert reads_clock(sql) is reads


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT s.sku, s.qty FROM UNNEST([STRUCT('a' AS sku, 2 AS qty), STRUCT('b' AS sku, 3 AS qty)]) AS s ORDER BY 1", [("a", 2), ("b", 3)]),
        ("SELECT sku, qty FROM UNNEST([STRUCT('a' AS sku, 2 AS qty)])", [("a", 2)]),
        ("SELECT o.id, li.sku FROM (SELECT 1 AS id, [STRUCT('a' AS sku, 2 AS qty)] AS items) AS o, UNNEST(o.items) AS li", [(1, "a")]),
    ],
)
def test_bigquery_unnest_of_structs_gives_the_fields_as_columns(sql, expected):
    runnable = runnable_sql(parse_query(sql, "bigquery"), "bigquery")
    assert duckdb.sql(runnable).fetchall() == expected
