"""The ``zone`` item: date/time buckets of stored timestamps are taken in the pack's reporting zone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import outcomes_by_node
from pytest_dashpacks.errors import SourceSpan
from pytest_dashpacks.model import ColumnSpec, ConnectorVersion, Pack, TableSpec
from pytest_dashpacks.sql.schema import mapping_schema, qualified, sqlglot_schema
from pytest_dashpacks.sql.outputs import model_outputs
from pytest_dashpacks.sql.parse import parse_query
from pytest_dashpacks.sql.buckets import UnresolvedColumn, unconverted_buckets
from pytest_dashpacks.sql.zones import same_zone, zone_item_applies

CHICAGO = "America/Chicago"


def _version(tables: dict[str, tuple[ColumnSpec, ...]]) -> ConnectorVersion:
    specs = {f"stripe.{name}": TableSpec(name, "stripe", name, columns) for name, columns in tables.items()}
    return ConnectorVersion("stripe", "v1", specs, (), SourceSpan(Path("connector.yml")))


VERSION = _version(
    {
        "charge": (ColumnSpec("id", "varchar"), ColumnSpec("created", "timestamp"), ColumnSpec("amount", "bigint")),
        "payout": (ColumnSpec("id", "varchar"), ColumnSpec("arrival_date", "date")),
        "event": (ColumnSpec("id", "varchar"), ColumnSpec("occurred", "timestamp with time zone")),
        "shop": (
            ColumnSpec("id", "varchar"),
            ColumnSpec("opened", "timestamp", timezone=CHICAGO),
            ColumnSpec("berlin_ts", "timestamp", timezone="Europe/Berlin"),
            ColumnSpec("dt", "datetime"),
            ColumnSpec("time_zone", "varchar"),
        ),
    }
)
MODELS = model_outputs(
    [(
        "charges",
        "select c.id, c.created as created_at, "
        "(c.created at time zone 'UTC') at time zone 'America/Chicago' as created_local from stripe.charge as c",
    )],
    VERSION,
    "stripe",
)


def buckets(dialect: str, sql: str, zone: str = CHICAGO) -> list:
    schema = sqlglot_schema(mapping_schema(VERSION, MODELS), dialect)
    tree = qualified(parse_query(sql, dialect), schema, dialect, types=False)
    return unconverted_buckets(tree, sql, dialect, zone, VERSION, "stripe", MODELS)


# (dialect, SELECT list and FROM, expected corrected expression or None when the bucket is right)
CASES = [
    # --- correct conversions: no alarm --------------------------------------------------
    ("duckdb", "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE) AS d FROM stripe.charge", None),
    ("duckdb", "timezone('America/Chicago', timezone('UTC', created))::date AS d FROM stripe.charge", None),
    ("duckdb", "DATE_TRUNC('week', (created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago') AS w FROM stripe.charge", None),
    ("duckdb", "strftime((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago', '%Y-%m') AS m FROM stripe.charge", None),
    ("duckdb", "CAST(occurred AT TIME ZONE 'America/Chicago' AS DATE) AS d FROM stripe.event", None),
    ("postgres", "DATE_TRUNC('month', created AT TIME ZONE 'UTC' AT TIME ZONE 'America/Chicago') AS m FROM stripe.charge", None),
    ("postgres", "TO_CHAR(timezone('America/Chicago', timezone('UTC', created)), 'YYYY-MM') AS m FROM stripe.charge", None),
    ("postgres", "EXTRACT(DOW FROM (created AT TIME ZONE 'Etc/UTC') AT TIME ZONE 'US/Central') AS dow FROM stripe.charge", None),
    ("snowflake", "CAST(CONVERT_TIMEZONE('UTC', 'America/Chicago', created) AS DATE) AS d FROM stripe.charge", None),
    ("snowflake", "DATE_TRUNC('week', CONVERT_TIMEZONE('UTC', 'America/Chicago', created))::DATE AS w FROM stripe.charge", None),
    ("snowflake", "DAYOFWEEK(CONVERT_TIMEZONE('America/Chicago', occurred)) AS dow FROM stripe.event", None),
    ("bigquery", "DATE(created, 'America/Chicago') AS d FROM stripe.charge", None),
    ("bigquery", "DATETIME_TRUNC(DATETIME(created, 'America/Chicago'), HOUR) AS h FROM stripe.charge", None),
    ("bigquery", "DATE(TIMESTAMP(created), 'America/Chicago') AS d FROM stripe.charge", None),
    ("bigquery", "EXTRACT(DATE FROM created AT TIME ZONE 'America/Chicago') AS d FROM stripe.charge", None),
    ("bigquery", "FORMAT_TIMESTAMP('%F', created, 'America/Chicago') AS d FROM stripe.charge", None),
    ("bigquery", "DATE_TRUNC(DATE(created, 'America/Chicago'), MONTH) AS m FROM stripe.charge", None),
    ("bigquery", "TIMESTAMP_TRUNC(created, DAY, 'America/Chicago') AS d FROM stripe.charge", None),
    ("bigquery", "DATE(TIMESTAMP(dt), 'America/Chicago') AS d FROM stripe.shop", None),
    ("bigquery", "EXTRACT(HOUR FROM TIMESTAMP(DATETIME(created, 'America/Chicago'))) AS h FROM stripe.charge", None),
    # a DATE column is already a calendar date
    ("duckdb", "DATE_TRUNC('month', arrival_date) AS m FROM stripe.payout", None),
    ("bigquery", "DATE_TRUNC(arrival_date, MONTH) AS m FROM stripe.payout", None),
    ("snowflake", "CAST(arrival_date AS DATE) AS d FROM stripe.payout", None),
    # stored in the reporting zone already
    ("duckdb", "CAST(opened AS DATE) AS d FROM stripe.shop", None),
    ("snowflake", "DATE_TRUNC('day', opened) AS d FROM stripe.shop", None),
    # sub-hour buckets and epochs do not depend on the zone; comparisons are not buckets
    ("duckdb", "DATE_TRUNC('minute', created) AS m, EXTRACT(epoch FROM created) AS e FROM stripe.charge WHERE created >= '2024-01-01'", None),
    # converted in a CTE, a subquery and a model
    ("duckdb", "DATE_TRUNC('week', local_ts) AS w FROM (SELECT (created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS local_ts FROM stripe.charge) AS l", None),
    ("duckdb", "CAST(created_local AS DATE) AS d FROM models.charges", None),
    # reading back in the zone it was read in gives the local value again
    ("duckdb", "CAST(CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS TIMESTAMPTZ) AS DATE) AS d FROM stripe.charge", None),
    # a zone taken from a row cannot be proved wrong
    ("duckdb", "CAST((opened AT TIME ZONE 'America/Chicago') AT TIME ZONE time_zone AS DATE) AS d FROM stripe.shop", None),
    # --- zone-naive buckets ---------------------------------------------------------------
    ("duckdb", "CAST(created AS DATE) AS day FROM stripe.charge",
     "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("duckdb", "created::date AS day FROM stripe.charge",
     "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("duckdb", "DATE(created) AS day FROM stripe.charge",
     "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("duckdb", "DATE_TRUNC('month', c.created) AS m FROM stripe.charge AS c",
     "DATE_TRUNC('MONTH', (c.created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')"),
    ("duckdb", "EXTRACT(hour FROM created) AS h FROM stripe.charge",
     "EXTRACT(HOUR FROM (created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')"),
    ("duckdb", "strftime(created, '%Y-%m') AS m FROM stripe.charge",
     "STRFTIME((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago', '%Y-%m')"),
    ("duckdb", "DAYOFWEEK(created) AS dow FROM stripe.charge",
     "DAYOFWEEK((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')"),
    ("duckdb", "HOUR(created) AS h FROM stripe.charge", "HOUR((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')"),
    ("postgres", "DATE_PART('dow', created) AS dow FROM stripe.charge",
     "EXTRACT(DOW FROM (created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')"),
    ("postgres", "TO_CHAR(created, 'YYYY-MM') AS m FROM stripe.charge",
     "TO_CHAR((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago', 'YYYY-MM')"),
    ("snowflake", "CAST(created AS DATE) AS day FROM stripe.charge",
     "CAST(CONVERT_TIMEZONE('UTC', 'America/Chicago', created) AS DATE)"),
    ("snowflake", "TO_CHAR(created, 'YYYY-MM') AS m FROM stripe.charge",
     "TO_CHAR(CONVERT_TIMEZONE('UTC', 'America/Chicago', created), 'YYYY-MM')"),
    ("bigquery", "CAST(created AS DATE) AS day FROM stripe.charge", "DATE(created, 'America/Chicago')"),
    ("bigquery", "DATE_TRUNC(created, MONTH) AS m FROM stripe.charge", "DATE_TRUNC(DATE(created, 'America/Chicago'), MONTH)"),
    ("bigquery", "EXTRACT(HOUR FROM created) AS h FROM stripe.charge", "EXTRACT(HOUR FROM DATETIME(created, 'America/Chicago'))"),
    ("bigquery", "FORMAT_TIMESTAMP('%F', created) AS d FROM stripe.charge", "FORMAT_TIMESTAMP('%F', created, 'America/Chicago')"),
    ("bigquery", "FORMAT_DATE('%Y-%m', created) AS m FROM stripe.charge", "FORMAT_DATE('%Y-%m', DATE(created, 'America/Chicago'))"),
    ("bigquery", "TIMESTAMP_TRUNC(created, DAY) AS d FROM stripe.charge", "TIMESTAMP_TRUNC(created, DAY, 'America/Chicago')"),
    # a DATETIME naive in UTC needs TIMESTAMP() first
    ("bigquery", "DATE(dt) AS d FROM stripe.shop", "DATE(TIMESTAMP(dt), 'America/Chicago')"),
    # stored in another zone than UTC
    ("duckdb", "CAST(berlin_ts AS DATE) AS d FROM stripe.shop",
     "CAST((berlin_ts AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("snowflake", "CAST(berlin_ts AS DATE) AS d FROM stripe.shop",
     "CAST(CONVERT_TIMEZONE('Europe/Berlin', 'America/Chicago', berlin_ts) AS DATE)"),
    # TIMESTAMPTZ: without conversion the bucket follows the session zone
    ("duckdb", "CAST(occurred AS DATE) AS d FROM stripe.event", "CAST(occurred AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("snowflake", "CAST(occurred AS DATE) AS d FROM stripe.event", "CAST(CONVERT_TIMEZONE('America/Chicago', occurred) AS DATE)"),
    # the single AT TIME ZONE on a naive timestamp reads it as local time
    ("duckdb", "CAST(created AT TIME ZONE 'America/Chicago' AS DATE) AS d FROM stripe.charge",
     "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("postgres", "DATE_TRUNC('day', created AT TIME ZONE 'America/Chicago') AS d FROM stripe.charge",
     "DATE_TRUNC('DAY', (created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')"),
    # the 2-argument CONVERT_TIMEZONE reads a naive timestamp in the session zone
    ("snowflake", "DATE_TRUNC('week', CONVERT_TIMEZONE('America/Chicago', created)) AS w FROM stripe.charge",
     "DATE_TRUNC('WEEK', CONVERT_TIMEZONE('UTC', 'America/Chicago', created))"),
    # converted to another zone than the pack's
    ("duckdb", "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York' AS DATE) AS d FROM stripe.charge",
     "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("bigquery", "DATE(created, 'America/New_York') AS d FROM stripe.charge", "DATE(created, 'America/Chicago')"),
    ("snowflake", "CAST(CONVERT_TIMEZONE('UTC', 'Europe/Paris', created) AS DATE) AS d FROM stripe.charge",
     "CAST(CONVERT_TIMEZONE('UTC', 'America/Chicago', created) AS DATE)"),
    # a fixed offset ignores daylight saving time
    ("duckdb", "CAST(created - INTERVAL 5 HOUR AS DATE) AS d FROM stripe.charge",
     "CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    # traced through CTEs, subqueries, set operations and models
    ("duckdb", "DATE_TRUNC('month', ts) AS m FROM (SELECT created AS ts FROM stripe.charge) AS s",
     "DATE_TRUNC('MONTH', (ts AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')"),
    ("duckdb", "CAST(ts AS DATE) AS d FROM (SELECT created AS ts FROM stripe.charge UNION ALL SELECT opened FROM stripe.shop) AS u",
     "CAST((ts AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("duckdb", "CAST(created_at AS DATE) AS d FROM models.charges",
     "CAST((created_at AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)"),
    ("duckdb", "CAST(COALESCE(MAX(created), MIN(created)) AS DATE) AS d FROM stripe.charge",
     "CAST(COALESCE(MAX((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago'), MIN(created)) AS DATE)"),
]


@pytest.mark.parametrize("dialect, body, fix", CASES, ids=[f"{c[0]}:{c[1][:60]}" for c in CASES])
def test_buckets(dialect, body, fix):
    found = buckets(dialect, f"SELECT {body}")
    if fix is None:
        assert found == []
    else:
        assert found, "the zone-naive bucket is not reported"
        assert found[0].fix == fix
        assert found[0].reporting_zone == CHICAGO


def test_cte_chain_is_traced_to_the_connector_column():
    sql = (
        "WITH raw AS (SELECT id, created FROM stripe.charge),\n"
        "renamed AS (SELECT id, created AS charged_at FROM raw)\n"
        "SELECT CAST(charged_at AS DATE) AS day, COUNT(*) AS n\n"
        "FROM renamed\nGROUP BY 1"
    )
    (found,) = buckets("duckdb", sql)
    assert found.message == (
        "CAST(charged_at AS DATE) buckets stripe.charge.created in its stored zone UTC, not in the reporting zone America/Chicago"
    )
    assert (found.column, found.stored_zone, found.bucket_zone) == ("stripe.charge.created", "UTC", "UTC")
    assert (found.sql.line, found.sql.column, found.sql.width) == (3, 13, len("charged_at"))


def test_the_single_at_time_zone_trap_names_the_misreading():
    (found,) = buckets("duckdb", "SELECT CAST(created AT TIME ZONE 'America/Chicago' AS DATE) AS d FROM stripe.charge")
    assert "reads the naive value as America/Chicago local time (created AT TIME ZONE 'America/Chicago')" in found.message
    assert "stored naive in UTC" in found.message


def test_a_conversion_to_another_zone_names_both():
    (found,) = buckets("duckdb", "SELECT CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York' AS DATE) AS d FROM stripe.charge")
    assert "after converting it to America/New_York" in found.message
    assert found.message.endswith("but the pack reports in America/Chicago")


def test_a_wrong_conversion_in_a_cte_is_fixed_where_it_is_computed():
    sql = (
        "WITH l AS (SELECT created AT TIME ZONE 'America/Chicago' AS local_ts FROM stripe.charge)\n"
        "SELECT CAST(local_ts AS DATE) AS d FROM l"
    )
    (found,) = buckets("duckdb", sql)
    assert found.fix == "compute local_ts as (created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago'"


def test_timestamptz_buckets_follow_the_session_zone_even_for_a_utc_pack():
    (found,) = buckets("duckdb", "SELECT CAST(occurred AS DATE) AS d FROM stripe.event", zone="UTC")
    assert "in the session time zone, not in the reporting zone UTC" in found.message
    assert buckets("duckdb", "SELECT CAST(created AS DATE) AS d FROM stripe.charge", zone="UTC") == []


def test_a_fixed_offset_is_called_out():
    (found,) = buckets("duckdb", "SELECT CAST(created - INTERVAL 5 HOUR AS DATE) AS d FROM stripe.charge")
    assert "ignores daylight saving time" in found.message


def test_every_bucket_is_reported_once_in_sql_order():
    sql = "SELECT CAST(created AS DATE) AS d, HOUR(created) AS h FROM stripe.charge GROUP BY CAST(created AS DATE), HOUR(created)"
    found = buckets("duckdb", sql)
    assert [f.expression for f in found] == ["CAST(created AS DATE)", "HOUR(created)", "CAST(created AS DATE)", "HOUR(created)"]
    assert len({f.offset for f in found}) == 4


def test_a_column_the_version_lacks_is_left_to_the_schema_item():
    with pytest.raises(UnresolvedColumn, match="stripe.charge.nope"):
        buckets("duckdb", "SELECT CAST(nope AS DATE) AS d FROM stripe.charge")


def _pack(zone: str) -> Pack:
    return Pack("p", Path("."), Path("pack.yml"), "stripe", "duckdb", None, (), zone, {}, (), (), (), None, SourceSpan(Path("pack.yml")))


@pytest.mark.parametrize(
    "pack_zone, column_zone, applies",
    [
        ("UTC", None, False),
        ("Etc/UTC", None, False),
        (CHICAGO, None, True),
        ("UTC", CHICAGO, True),
        (CHICAGO, CHICAGO, False),
        ("US/Central", CHICAGO, False),  # the same zone under another name
    ],
)
def test_zone_item_applies_when_a_stored_zone_differs(pack_zone, column_zone, applies):
    version = _version({"t": (ColumnSpec("at", "timestamp", timezone=column_zone), ColumnSpec("day", "date"))})
    assert zone_item_applies(_pack(pack_zone), [version]) is applies


def test_zone_item_applies_reads_yaml_only():
    code = (
        "import sys; sys.modules['sqlglot'] = None\n"
        "from pytest_dashpacks.sql.zones import zone_item_applies, same_zone\n"
        "assert same_zone('US/Central', 'America/Chicago') and not same_zone('UTC', 'America/Chicago')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert not same_zone("Europe/Berlin", "Europe/London")


# --- end to end ------------------------------------------------------------------------

CHICAGO_PACK = """\
connector: stripe
schema_versions: ["2025-07"]
timezone: America/Chicago
"""

REVENUE_BOARD = """\
title: Revenue
queries:
  daily: |
    SELECT
      CAST(created AS DATE) AS day,
      COUNT(*) AS charges
    FROM stripe.charge
    GROUP BY 1
  daily_local: |
    SELECT
      CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE) AS day,
      COUNT(*) AS charges
    FROM stripe.charge
    GROUP BY 1
  weekly: |
    WITH days AS (
      {{ queries.daily }}
    )
    SELECT
      DATE_TRUNC('week', days.day) AS week,
      HOUR(c.created) AS hour,
      SUM(days.charges) AS charges
    FROM days
    JOIN stripe.charge AS c ON CAST(c.created AS DATE) = days.day
    GROUP BY 1, 2
  in_range: |
    SELECT COUNT(*) AS charges
    FROM stripe.charge
    WHERE {{ filter_date_range('created', period) }}
charts:
  trend: {type: line, query: daily, x: day, y: charges}
rows: [trend]
variables:
  period: {input: daterange, default: ["2024-01-01", "2024-12-31"]}
"""


@pytest.fixture
def chicago(pytester):
    pytester.makefile(".yml", **{"packs/chicago/pack": CHICAGO_PACK, "packs/chicago/boards/revenue": REVENUE_BOARD})
    return pytester


def test_zone_naive_bucket_fails_with_its_yaml_line_and_the_fix(chicago):
    result = chicago.runpytest("--dashpacks", "packs", "-m", "dashpacks_zone", "-rA", "-p", "no:cacheprovider")
    outcomes = outcomes_by_node(result)
    assert outcomes == {
        "packs/chicago/boards/revenue.yml::daily::zone": "FAILED",
        "packs/chicago/boards/revenue.yml::daily_local::zone": "PASSED",
        "packs/chicago/boards/revenue.yml::weekly::zone": "FAILED",
        "packs/chicago/boards/revenue.yml::in_range::zone": "FAILED",
    }
    result.stdout.fnmatch_lines(
        [
            "packs/chicago/boards/revenue.yml:5: zone: CAST(created AS DATE) buckets stripe.charge.created "
            "in its stored zone UTC, not in the reporting zone America/Chicago",
            "  fix: CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)",
            "  SQL:",
            "    > 2 |   CAST(created AS DATE) AS day,",
            " " * 17 + "^" * len("created"),
        ]
    )
    # A query expanding {{ queries.daily }} reports only its own buckets, on its own lines.
    result.stdout.fnmatch_lines(
        [
            "packs/chicago/boards/revenue.yml:21: zone: HOUR(c.created) buckets stripe.charge.created "
            "in its stored zone UTC, not in the reporting zone America/Chicago",
            "  fix: HOUR((c.created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago')",
            "  also: packs/chicago/boards/revenue.yml:24: CAST(c.created AS DATE) buckets stripe.charge.created "
            "in its stored zone UTC, not in the reporting zone America/Chicago; "
            "fix: CAST((c.created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' AS DATE)",
        ]
    )
    # The embedded query's bucket is its own item's, once (the short summary under CI=true repeats messages).
    assert sum(line.startswith("packs/chicago/boards/revenue.yml:5: zone:") for line in result.outlines) == 1
    # filter_date_range() takes the date in the stored zone too, and names only a column.
    result.stdout.fnmatch_lines(
        [
            "packs/chicago/boards/revenue.yml:29: zone: CAST(created AS DATE) buckets stripe.charge.created "
            "in its stored zone UTC, not in the reporting zone America/Chicago",
            "  fix: filter_date_range() compares the date in the stored zone: select "
            "(created AT TIME ZONE 'UTC') AT TIME ZONE 'America/Chicago' as a column in a CTE or subquery and filter on that column",
        ]
    )


def test_zone_items_only_where_zones_differ_and_same_under_xdist(chicago):
    chicago.makefile(".yml", **{"packs/utc/pack": CHICAGO_PACK.replace(CHICAGO, "UTC"), "packs/utc/boards/revenue": REVENUE_BOARD})
    args = ("--dashpacks", "packs", "-m", "dashpacks_zone", "-rA", "-p", "no:cacheprovider")
    serial = outcomes_by_node(chicago.runpytest(*args))
    parallel = outcomes_by_node(chicago.runpytest_subprocess(*args, "-n", "2"))
    assert serial == parallel
    assert {node.split("/")[1] for node in serial} == {"chicago"}
    assert sorted(serial.values()) == ["FAILED", "FAILED", "FAILED", "PASSED"]
