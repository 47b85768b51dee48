"""Board SQL keeps its warehouse's meaning when it runs in DuckDB: name resolution, UNNEST,
integer division, NULL order, DATE_TRUNC types, bare table names and scalar subqueries.

Each test asserts the rows DuckDB returns, not just that an item passed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import EXAMPLES, outcomes_by_node
from pytest_dashpacks.sql.duckdb import runnable_sql, tie_probe
from pytest_dashpacks.session import DashpacksSession
from pytest_dashpacks.settings import Settings
from pytest_dashpacks.sql.parse import parse_query
from pytest_dashpacks.sql.schema import sqlglot_schema

TABLE = {"s": {"t": {"month": "date", "x": "integer", "y": "integer", "cents": "bigint", "status": "varchar", "d": "date",
                    "created": "timestamp", "amount": "decimal(18,2)", "j": "varchar"}}}
ROWS = """
CREATE SCHEMA s;
CREATE TABLE s.t AS SELECT * FROM (VALUES
  (DATE '2024-01-01', 10, 2, 1999, 'succeeded', DATE '2024-01-15', TIMESTAMP '2024-03-01 03:30:00', 1234567.46, '{"a": 1}'),
  (DATE '2024-01-01', 5, 1, 250, 'failed', NULL, TIMESTAMP '2024-02-15 12:00:00', 0.5, 'x'),
  (DATE '2024-02-01', 7, 0, 1, 'succeeded', DATE '2024-02-03', TIMESTAMP '2024-02-01 04:59:59', 12.0, NULL)
) v(month, x, y, cents, status, d, created, amount, j);
"""


def run(sql: str, dialect: str, zone: str = "UTC") -> list[tuple]:
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    con.execute(ROWS)
    schema = sqlglot_schema(TABLE, dialect, duckdb_types=True)
    return con.sql(runnable_sql(parse_query(sql, dialect), dialect, schema, "s", sql)).fetchall()


JAN, FEB = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
PIVOTED = [(JAN, "Gross", 15), (JAN, "Refunds", 3), (FEB, "Gross", 7), (FEB, "Refunds", 0)]
STRUCTS = "[STRUCT('Gross' AS series, SUM(x) AS value), STRUCT('Refunds' AS series, SUM(y) AS value)]"


@pytest.mark.parametrize(
    "sql, expected",
    [
        pytest.param(f"SELECT month, series, value FROM (SELECT month, {STRUCTS} AS s FROM s.t GROUP BY 1), UNNEST(s) ORDER BY 1, 2",
                     PIVOTED, id="comma join"),
        pytest.param(f"SELECT month, series, value FROM (SELECT month, {STRUCTS} AS s FROM s.t GROUP BY 1) CROSS JOIN UNNEST(s) ORDER BY 1, 2",
                     PIVOTED, id="cross join"),
        pytest.param(f"SELECT month, p.series, p.value FROM (SELECT month, {STRUCTS} AS s FROM s.t GROUP BY 1), UNNEST(s) AS p ORDER BY 1, 2",
                     PIVOTED, id="alias then x.field"),
        pytest.param("SELECT month, series, value FROM (SELECT month, [STRUCT('Gross' AS series, SUM(x) AS value), STRUCT('Refunds', SUM(y))] AS s "
                     "FROM s.t GROUP BY 1), UNNEST(s) ORDER BY 1, 2", PIVOTED, id="positional fields named by the first element"),
        pytest.param("SELECT series, value FROM UNNEST([STRUCT('a' AS series, 1 AS value), STRUCT('b', 2)]) ORDER BY 1",
                     [("a", 1), ("b", 2)], id="literal array in FROM"),
        pytest.param("SELECT q.month, series FROM (SELECT month, [STRUCT('Gross' AS series, SUM(x) AS value)] AS s FROM s.t GROUP BY 1) AS q, "
                     "UNNEST(q.s) ORDER BY 1", [(JAN, "Gross"), (FEB, "Gross")], id="qualified array"),
        pytest.param("SELECT t.month, n FROM s.t, UNNEST([1, 2]) AS n WHERE t.x = 7 ORDER BY 2", [(FEB, 1), (FEB, 2)], id="array of scalars"),
    ],
)
def test_bigquery_unnest_of_structs_gives_the_fields_as_columns(sql, expected):
    assert run(sql, "bigquery") == expected


def test_bigquery_groups_by_the_select_alias_that_shadows_a_column():
    sql = "SELECT CASE WHEN x > 6 THEN 'big' ELSE 'small' END AS x, COUNT(*) AS n FROM s.t GROUP BY x ORDER BY x, n"
    assert run(sql, "bigquery") == [("big", 2), ("small", 1)]
    # DuckDB's own rule groups by the input column: three groups, two of them 'big'.
    assert run(sql, "duckdb") == [("big", 1), ("big", 1), ("small", 1)]


@pytest.mark.parametrize(
    "dialect, sql, expected",
    [
        ("postgres", "SELECT SUM(x) / COUNT(*) AS avg_x FROM s.t", [(7,)]),  # int / int truncates: 22 / 3
        ("redshift", "SELECT SUM(x) / COUNT(*) AS avg_x FROM s.t", [(7,)]),
        ("postgres", "SELECT SUM(cents / 100) AS dollars FROM s.t", [(21,)]),  # each row loses its cents
        ("postgres", "SELECT SUM(cents) / 100 AS dollars FROM s.t", [(Decimal("22.5"),)]),  # SUM(bigint) is NUMERIC
        ("redshift", "SELECT SUM(cents) / 100 AS dollars FROM s.t", [(22,)]),  # but BIGINT on Redshift (r_SUM)
        ("bigquery", "SELECT SUM(x) / COUNT(*) AS avg_x FROM s.t", [(22 / 3,)]),  # `/` is FLOAT64
        ("snowflake", "SELECT SUM(x) / COUNT(*) AS avg_x FROM s.t", [(22 / 3,)]),  # NUMBER(.., 6) there: 7.333333
    ],
)
def test_integer_division_follows_the_pack_dialect(dialect, sql, expected):
    result = run(sql, dialect)
    if isinstance(expected[0][0], float):
        assert result[0][0] == pytest.approx(expected[0][0])
    else:
        assert result == expected


@pytest.mark.parametrize(
    "dialect, sql, expected",
    [
        ("postgres", "SELECT d FROM s.t ORDER BY d DESC", [None, dt.date(2024, 2, 3), dt.date(2024, 1, 15)]),  # NULLs first when DESC
        ("postgres", "SELECT d FROM s.t ORDER BY d", [dt.date(2024, 1, 15), dt.date(2024, 2, 3), None]),
        ("bigquery", "SELECT d FROM s.t ORDER BY d", [None, dt.date(2024, 1, 15), dt.date(2024, 2, 3)]),  # NULLs first when ASC
        ("snowflake", "SELECT d FROM s.t ORDER BY d DESC", [None, dt.date(2024, 2, 3), dt.date(2024, 1, 15)]),
    ],
)
def test_null_order_follows_the_pack_dialect(dialect, sql, expected):
    assert [row[0] for row in run(sql, dialect)] == expected


@pytest.mark.parametrize(
    "dialect, sql, expected",
    [
        ("bigquery", "SELECT DATE_TRUNC(d, MONTH) AS m FROM s.t WHERE d IS NOT NULL ORDER BY 1", [JAN, FEB]),
        ("snowflake", "SELECT DATE_TRUNC('month', d) AS m FROM s.t WHERE d IS NOT NULL ORDER BY 1", [JAN, FEB]),
        # Postgres date_trunc of a date is a timestamp there too.
        ("postgres", "SELECT date_trunc('month', d) AS m FROM s.t WHERE d IS NOT NULL ORDER BY 1", [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)]),
    ],
)
def test_date_trunc_keeps_the_pack_dialects_result_type(dialect, sql, expected):
    values = [row[0] for row in run(sql, dialect)]
    assert values == expected and [type(v) for v in values] == [type(v) for v in expected]


NY = "'America/New_York'"


@pytest.mark.parametrize(
    "dialect, sql, expected",
    [
        pytest.param("redshift", "SELECT TRUNC(created) AS day, TRUNC(x / 3.0) AS n FROM s.t ORDER BY 1",
                     [(dt.date(2024, 2, 1), 2), (dt.date(2024, 2, 15), 1), (dt.date(2024, 3, 1), 3)], id="redshift TRUNC(timestamp) is its date"),
        pytest.param("bigquery", f"SELECT DATE(TIMESTAMP_TRUNC(created, MONTH, {NY}), {NY}) AS m FROM s.t ORDER BY 1",
                     [(dt.date(2024, 1, 1),), (dt.date(2024, 2, 1),), (dt.date(2024, 2, 1),)], id="bigquery TIMESTAMP_TRUNC in a zone"),
        pytest.param("bigquery", f"SELECT EXTRACT(DATE FROM created AT TIME ZONE {NY}) AS d, EXTRACT(HOUR FROM created AT TIME ZONE {NY}) AS h "
                     "FROM s.t ORDER BY 1", [(dt.date(2024, 1, 31), 23), (dt.date(2024, 2, 15), 7), (dt.date(2024, 2, 29), 22)],
                     id="bigquery EXTRACT(DATE FROM ts AT TIME ZONE z)"),
        pytest.param("bigquery", "SELECT status, ARRAY_AGG(x ORDER BY created DESC LIMIT 1)[OFFSET(0)] AS latest FROM s.t GROUP BY status ORDER BY 1",
                     [("failed", 5), ("succeeded", 10)], id="bigquery ARRAY_AGG with LIMIT"),
        pytest.param("bigquery", "SELECT DATE_TRUNC(d, WEEK(MONDAY)) AS w FROM s.t WHERE d IS NOT NULL ORDER BY 1",
                     [(dt.date(2024, 1, 15),), (dt.date(2024, 1, 29),)], id="bigquery WEEK(MONDAY)"),
        pytest.param("redshift", "SELECT LISTAGG(DISTINCT status, ',') WITHIN GROUP (ORDER BY status) AS l FROM s.t",
                     [("failed,succeeded",)], id="redshift LISTAGG DISTINCT"),
        pytest.param("snowflake", "SELECT x, RATIO_TO_REPORT(x) OVER (PARTITION BY status) AS r FROM s.t ORDER BY 1",
                     [(5, 1.0), (7, 7 / 17), (10, 10 / 17)], id="RATIO_TO_REPORT"),
        pytest.param("redshift", "SELECT IS_VALID_JSON(j) AS v FROM s.t ORDER BY x", [(False,), (None,), (True,)], id="IS_VALID_JSON"),
        pytest.param("postgres", "SELECT to_char(created, 'FMMonth YYYY') AS a, to_char(created, 'Mon DD') AS b, to_char(amount, 'FM999,999,999.00') AS c "
                     "FROM s.t ORDER BY created", [("February 2024", "Feb 01", "12.00"), ("February 2024", "Feb 15", "0.50"),
                                                  ("March 2024", "Mar 01", "1,234,567.46")], id="postgres to_char"),
        pytest.param("postgres", "SELECT to_char(created, 'Month') AS m FROM s.t ORDER BY created LIMIT 1", [("February ",)],
                     id="postgres to_char pads Month to 9"),
        pytest.param("postgres", "WITH a AS (SELECT to_char(created, 'YYYY') AS y FROM s.t) "
                     "SELECT to_char(MIN(created), 'Mon') AS m, (SELECT MAX(y) FROM a) AS y FROM s.t", [("Feb", "2024")],
                     id="postgres to_char patterns stay with their calls across a CTE"),
        pytest.param("postgres", "SELECT to_char(created, 'yyyy-mm-dd') AS d, to_char(created, 'YYYY-\"Q\"Q') AS q FROM s.t ORDER BY created",
                     [("2024-02-01", "2024-Q1"), ("2024-02-15", "2024-Q1"), ("2024-03-01", "2024-Q1")],
                     id="postgres to_char lower-case patterns and quarters"),
    ],
)
def test_warehouse_functions_keep_their_meaning(dialect, sql, expected):
    for zone in ("UTC", "Asia/Kolkata"):
        result = run(sql, dialect, zone)
        assert [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in result] == expected


def test_bigquery_date_of_a_timestamp_in_a_zone_reads_the_naive_fixture_column_as_utc():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s; CREATE TABLE s.c AS SELECT TIMESTAMP '2024-03-10 03:30:00' AS created")
    schema = sqlglot_schema({"s": {"c": {"created": "timestamp"}}}, "bigquery", duckdb_types=True)
    sql = runnable_sql(parse_query("SELECT DATE(created, 'America/Chicago') AS day FROM s.c", "bigquery"), "bigquery", schema, "s")
    for zone in ("UTC", "Asia/Kolkata", "America/Los_Angeles"):
        con.execute(f"SET TimeZone = '{zone}'")
        assert con.sql(sql).fetchall() == [(dt.date(2024, 3, 9),)]  # 21:30 on Mar 9 in Chicago


def test_tie_probe_reads_one_row_past_the_limit_with_the_sort_keys():
    probe = tie_probe("SELECT tier, COUNT(*) AS plans FROM p GROUP BY tier ORDER BY plans DESC, 1 LIMIT 3")
    assert probe is not None
    sql, n, keys, order_by = probe
    assert n == 3 and keys == ("plans", "1") and order_by == "plans DESC, 1"
    assert sql == (
        "SELECT tier, COUNT(*) AS plans, COUNT(*) AS __dashpacks_tie_key_0, tier AS __dashpacks_tie_key_1 "
        "FROM p GROUP BY tier ORDER BY plans DESC, 1 LIMIT 4"
    )
    assert tie_probe("SELECT a FROM p ORDER BY a") is None
    assert tie_probe("SELECT DISTINCT a FROM p ORDER BY a LIMIT 2") is None


# --- the realworld packs' own data ----------------------------------------------------------------

REALWORLD = EXAMPLES / "realworld"


@pytest.fixture(scope="module")
def session() -> DashpacksSession:
    settings = Settings(
        enabled=True, regressions_only=False, fixtures=None, rootdir=REALWORLD, timezones=("Asia/Kolkata",), large_rows=100,
        query_timeout=10.0, ledger=None, report=None, history=None, html=None, pin_dir=None,
    )
    return DashpacksSession(settings)


def query_rows(session: DashpacksSession, pack_name: str, board: str, query: str) -> list[tuple]:
    pack = session.library.pack((REALWORLD / pack_name / "pack.yml").resolve())
    loaded = session.library.board((REALWORLD / pack_name / "boards" / f"{board}.yml").resolve(), pack.directory)
    version = session.library.versions(pack)[-1]
    sql = session.queries.runnable(pack, loaded, loaded.query(query))
    return list(session.databases.sandbox(pack, version, "seed").run(sql).rows)


def test_bare_table_names_resolve_in_the_connector_schema_when_they_run(session):
    # FROM monthly_metrics / daily_metrics: the serving schema, as the static checks read them.
    rows = query_rows(session, "postgres_saas_metrics", "overview", "mrr_by_month")
    assert [r[0] for r in rows] == [dt.date(2024, m, 1) for m in (8, 9, 10, 11, 12)]
    assert rows[-1][2] == Decimal("150.00")  # 900 + 250 - 1000


def test_a_scalar_subquery_reads_its_own_table(session):
    rows = query_rows(session, "bigquery_revenue", "revenue", "mrr_movements")
    assert len(rows) == 15 and rows[0] == (dt.date(2024, 8, 1), "churn", Decimal("-700.00"))


def test_realworld_bigquery_board_groups_by_its_alias_and_pivots_structs(session):
    assert query_rows(session, "bigquery_revenue", "revenue", "charge_outcomes") == [("not paid", 1, 0.0), ("paid", 6, 1 / 6)]
    series = query_rows(session, "bigquery_revenue", "revenue", "revenue_series")
    assert series == [(dt.date(2024, 11, 1), "Gross", Decimal("6120.50")), (dt.date(2024, 11, 1), "Refunds", Decimal("49.00")),
                      (dt.date(2024, 12, 1), "Gross", Decimal("4850.24")), (dt.date(2024, 12, 1), "Refunds", Decimal("135.00"))]


def test_realworld_bigquery_local_days_match_the_warehouse(session):
    # ch_002 at 03:30 UTC on Nov 29 is Nov 28 in Chicago; ch_008 is soft-deleted.
    rows = query_rows(session, "bigquery_revenue", "revenue", "daily_gross")
    assert rows == [(dt.date(2024, 11, 28), 248.0, 2), (dt.date(2024, 11, 29), 199.0, 1), (dt.date(2024, 12, 1), 49.0, 1)]


def test_default_zones_leave_out_utc_and_a_utc_pack_gets_no_utc_item(pytester):
    import shutil

    shutil.copytree(REALWORLD, pytester.path / "realworld")
    result = pytester.runpytest("--dashpacks", "realworld/postgres_saas_metrics", "--collect-only", "-q", "-p", "no:cacheprovider")
    ids = [line for line in result.outlines if "::timezone[" in line]
    zones = sorted({line.split("::timezone[")[1].rstrip("]") for line in ids})
    assert zones == ["America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe"]
    assert Path(pytester.path / "realworld" / "postgres_saas_metrics" / "pack.yml").read_text().count("timezone: UTC") == 1


def test_a_total_above_the_oracle_without_a_join_is_not_called_a_fan_out(packs, pytester):
    # The contract's filter never matches NULL; the board counts NULL as "not refunded". No join anywhere.
    packs({
        "packs/p/pack.yml": """\
connector: stripe
schema_versions: ["2025-07"]
kpis:
  daily_unrefunded:
    board: b
    query: daily
    grain: day
    time_column: day
    measure_column: charges
    source: {table: charge, timestamp: created, value: count, filters: {refunded: false}}
""",
        "packs/p/boards/b.yml": """\
queries:
  daily: |
    SELECT CAST(created AS DATE) AS day, COUNT(*) AS charges
    FROM stripe.charge
    WHERE NOT COALESCE(refunded, FALSE)
    GROUP BY 1
charts:
  c: {type: bar, query: daily, x: day, y: charges}
rows: [c]
""",
    })
    result = pytester.runpytest("--dashpacks", "packs", "-k", "volume and nulls", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes()["deselected"])
    result.stdout.fnmatch_lines([
        "*volume?nulls?: kpi daily_unrefunded: under volume?nulls? the query totals *, more than the oracle's 0",
        "  likely cause: the query counts rows that the contract's filters, deletes or history rules leave out "
        "(a contract filter never matches NULL, and refunded holds NULLs here)",
    ])
    assert "fans out" not in result.stdout.str()


def test_an_instant_shown_in_two_session_zones_compares_equal_at_a_dst_fall_back():
    from zoneinfo import ZoneInfo

    from pytest_dashpacks.engines.results import row_multiset

    utc = dt.datetime(2024, 11, 3, 9, 0, tzinfo=ZoneInfo("UTC"))
    # 01:00 PST, the second 01:00 of the night: Python never calls ambiguous times in two zones equal.
    los_angeles = dt.datetime(2024, 11, 3, 1, 0, fold=1, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert utc != los_angeles
    assert row_multiset([(los_angeles, 2)]) == row_multiset([(utc, 2)])


def test_bigquery_timestamp_trunc_and_format_timestamp_below_a_day_keep_their_zone():
    sql = (f"SELECT TIMESTAMP_TRUNC(created, HOUR, {NY}) AS hour_start, FORMAT_TIMESTAMP('%Y-%m-%d %H:00', created, {NY}) AS label "
           "FROM s.t ORDER BY 1")
    from zoneinfo import ZoneInfo

    for zone in ("UTC", "Asia/Kolkata"):
        rows = [(start.astimezone(ZoneInfo("UTC")).replace(tzinfo=None), label) for start, label in run(sql, "bigquery", zone)]
        assert rows == [(dt.datetime(2024, 2, 1, 4, 0), "2024-01-31 23:00"), (dt.datetime(2024, 2, 15, 12, 0), "2024-02-15 07:00"),
                        (dt.datetime(2024, 3, 1, 3, 0), "2024-02-29 22:00")]


TIE_PACK = """\
connector: stripe
dialect: postgres
schema_versions: ["2025-07"]
"""


def test_a_limit_whose_tied_rows_look_the_same_is_not_nondeterminism(packs, pytester):
    packs({
        "packs/p/pack.yml": TIE_PACK,
        "packs/p/boards/b.yml": """\
queries:
  first_status: |
    SELECT status FROM stripe.charge ORDER BY status LIMIT 1
  top: |
    SELECT customer_id, COUNT(*) AS charges FROM stripe.charge GROUP BY customer_id ORDER BY charges DESC LIMIT 1
charts:
  a: {type: table, query: first_status}
  b: {type: table, query: top}
rows: [a, b]
""",
    })
    result = pytester.runpytest("--dashpacks", "packs", "-k", "timezone", "-p", "no:cacheprovider", "-rA")
    outcomes = outcomes_by_node(result)
    # Equal rows on both sides of the cut come back the same whichever the engine picks.
    assert outcomes["packs/p/boards/b.yml::first_status::timezone[America/Los_Angeles]"] == "PASSED"
    assert outcomes["packs/p/boards/b.yml::top::timezone[America/Los_Angeles]"] == "FAILED"


def test_each_version_runs_the_query_resolved_against_that_version(packs, pytester):
    # current_period_start moved from subscription_history to subscription_item in 2025-07: the bare
    # column reads each version's own table, so both execute items run.
    packs({
        "packs/p/pack.yml": 'connector: stripe\ndialect: postgres\nschema_versions: ["2023-10", "2025-07"]\n',
        "packs/p/boards/b.yml": """\
queries:
  periods: |
    SELECT s.id, current_period_start
    FROM stripe.subscription_history s JOIN stripe.subscription_item si ON si.subscription_id = s.id
charts:
  a: {type: table, query: periods}
rows: [a]
""",
    })
    result = pytester.runpytest("--dashpacks", "packs", "-k", "execute", "-p", "no:cacheprovider", "-rA")
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/p/boards/b.yml::periods::execute[stripe@2023-10]"] == "PASSED"
    assert outcomes["packs/p/boards/b.yml::periods::execute[stripe@2025-07]"] == "PASSED"


def test_an_accepted_values_finding_or_an_opted_out_schema_item_blocks_nothing(packs, pytester):
    packs({
        "packs/p/pack.yml": TIE_PACK + 'checks:\n  skip: [{check: "schema[*]", query: "b.by_status", reason: "our account has disputed"}]\n',
        "packs/p/boards/b.yml": """\
queries:
  by_status: |
    SELECT status, COUNT(*) AS charges FROM stripe.charge WHERE status IN ('succeeded', 'disputed') GROUP BY status
charts:
  a: {type: bar, query: by_status, x: status, y: charges}
rows: [a]
""",
    })
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "--dashpacks-large-rows", "100", "-rs")
    assert "blocked by" not in result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes["skipped"] == 1 and outcomes["passed"] > 10 and "failed" not in outcomes
