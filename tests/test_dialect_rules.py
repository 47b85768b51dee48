"""Constructs sqlglot parses but the pack dialect's warehouse rejects (or misreads) fail ``syntax``."""

from __future__ import annotations

import pytest

from conftest import STATIC, outcomes_by_node
from pytest_dashpacks.sql.dialect_rules import RULES, dialect_violations
from pytest_dashpacks.sql.parse import parse_query

# (dialect, SQL, the message, or None when the warehouse runs it as meant)
CASES = [
    # INTERVAL, PostgreSQL: a quoted amount; a bare '90' is seconds; only YEAR..SECOND qualify it
    ("postgres", "SELECT now() - INTERVAL 90", "postgres rejects INTERVAL without a unit: write INTERVAL '90 days'"),
    ("postgres", "SELECT now() - INTERVAL 90 DAY", "postgres rejects an unquoted INTERVAL amount: write INTERVAL '90 days'"),
    ("postgres", "SELECT now() - INTERVAL -1 MONTH", "postgres rejects an unquoted INTERVAL amount: write INTERVAL '-1 month'"),
    ("postgres", "SELECT now() - INTERVAL '90'", "postgres reads INTERVAL '90' without a unit as 90 seconds: write INTERVAL '90 days'"),
    ("postgres", "SELECT now() - INTERVAL '90' AS since",
     "postgres reads INTERVAL '90' without a unit as 90 seconds: write INTERVAL '90 days'"),
    ("postgres", "SELECT now() - INTERVAL '90' DAYS",
     "postgres reads INTERVAL '90' DAYS as 90 seconds named days: write INTERVAL '90 days'"),
    ("postgres", "SELECT now() - INTERVAL '2' WEEK", "postgres reads INTERVAL '2' WEEK as 2 seconds named week: write INTERVAL '2 weeks'"),
    ("postgres", "SELECT now() - INTERVAL '2' QUARTER",
     "postgres reads INTERVAL '2' QUARTER as 2 seconds named quarter: write INTERVAL '6 months'"),
    ("postgres", "SELECT now() - INTERVAL '90 days'", None),
    ("postgres", "SELECT now() - INTERVAL '90' DAY", None),
    ("postgres", "SELECT now() - INTERVAL '1-2' YEAR TO MONTH", None),
    ("postgres", "SELECT now() - INTERVAL '1 day 2 hours', '90 days'::interval, CAST('1 day' AS INTERVAL)", None),
    ("postgres", "SELECT t.interval, \"interval\" FROM t", None),
    ("postgres", "SELECT x::int, x::numeric(10, 2) FROM t", None),
    ("postgres", "SELECT x FROM t WHERE x ILIKE 'a%'", None),
    ("postgres", "SELECT DISTINCT ON (x) x, COUNT(*) FILTER (WHERE x > 1) AS n FROM t GROUP BY x", None),
    ("postgres", "SELECT x FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY x) = 1",
     "postgres rejects QUALIFY: compute the window function in a subquery and filter it in the outer WHERE"),
    # Redshift: PostgreSQL's intervals, plus QUALIFY; no DISTINCT ON, no FILTER
    ("redshift", "SELECT GETDATE() - INTERVAL 7", "redshift rejects INTERVAL without a unit: write INTERVAL '7 days'"),
    ("redshift", "SELECT GETDATE() - INTERVAL '7 days', x::date FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY x) = 1", None),
    ("redshift", "SELECT DISTINCT ON (x) x FROM t",
     "redshift rejects DISTINCT ON: keep the first row per key with ROW_NUMBER() OVER (PARTITION BY key ORDER BY ...) = 1"),
    ("redshift", "SELECT SUM(x) FILTER (WHERE y) FROM t",
     "redshift rejects an aggregate FILTER (WHERE ...): move the condition inside, SUM(CASE WHEN condition THEN x END)"),
    # Snowflake: the amount and unit are one string
    ("snowflake", "SELECT DATEADD(day, 1, d) - INTERVAL 90 DAY",
     "snowflake rejects an unquoted INTERVAL amount: write INTERVAL '90 days'"),
    ("snowflake", "SELECT d - INTERVAL '90'", "snowflake reads INTERVAL '90' without a unit as 90 seconds: write INTERVAL '90 days'"),
    ("snowflake", "SELECT d - INTERVAL '90 days', d - INTERVAL '1 year, 2 months', x::date, x ILIKE 'a%' FROM t", None),
    ("snowflake", "SELECT x FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY x) = 1", None),
    ("snowflake", "SELECT COUNT(*) FILTER (WHERE x > 1) FROM t",
     "snowflake rejects an aggregate FILTER (WHERE ...): move the condition inside, SUM(CASE WHEN condition THEN x END)"),
    # BigQuery: INTERVAL <amount> <singular date part>; no ::, ILIKE, DISTINCT ON or FILTER
    ("bigquery", "SELECT DATE_SUB(d, INTERVAL 90) FROM t", "bigquery rejects INTERVAL without a date part: write INTERVAL 90 DAY"),
    ("bigquery", "SELECT TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 * 24 HOUR) AS t FROM t", None),  # an amount expression
    ("bigquery", "SELECT DATE_SUB(d, INTERVAL '90') FROM t", "bigquery rejects INTERVAL without a date part: write INTERVAL 90 DAY"),
    ("bigquery", "SELECT DATE_SUB(d, INTERVAL '90 days') FROM t",
     "bigquery rejects a unit inside the INTERVAL string: write INTERVAL 90 DAY"),
    ("bigquery", "SELECT DATE_SUB(d, INTERVAL 90 DAYS) FROM t", "bigquery rejects the plural DAYS: write INTERVAL 90 DAY"),
    ("bigquery", "SELECT DATE_SUB(d, INTERVAL 90 DAY), DATE_ADD(d, INTERVAL -1 MONTH), INTERVAL n HOUR FROM t", None),
    ("bigquery", "SELECT INTERVAL '1-2' YEAR TO MONTH, INTERVAL '10 -12:30' DAY TO MINUTE", None),
    ("bigquery", "SELECT t.created::DATE FROM t", "bigquery rejects the :: cast: write CAST(t.created AS DATE)"),
    ("bigquery", "SELECT x::NUMERIC(10, 2) FROM t", "bigquery rejects the :: cast: write CAST(x AS NUMERIC(10, 2))"),
    ("bigquery", "SELECT (a + b)::INT64 FROM t", "bigquery rejects the :: cast: write CAST(... AS INT64)"),
    ("bigquery", "SELECT CAST(x AS DATE), SAFE_CAST(y AS INT64) FROM t", None),
    ("bigquery", "SELECT x FROM t WHERE name ILIKE 'a%'", "bigquery rejects ILIKE: write LOWER(x) LIKE LOWER(pattern)"),
    ("bigquery", "SELECT x FROM t WHERE LOWER(name) LIKE 'a%' QUALIFY ROW_NUMBER() OVER (ORDER BY x) = 1", None),
    ("bigquery", "SELECT DISTINCT ON (x) x FROM t",
     "bigquery rejects DISTINCT ON: keep the first row per key with ROW_NUMBER() OVER (PARTITION BY key ORDER BY ...) = 1"),
    ("bigquery", "SELECT DISTINCT x FROM t", None),
    ("bigquery", "SELECT COUNT(*) FILTER (WHERE x > 1) FROM t",
     "bigquery rejects an aggregate FILTER (WHERE ...): move the condition inside, SUM(CASE WHEN condition THEN x END)"),
    ("bigquery", "SELECT COUNTIF(x > 1) FROM t", None),
    # DuckDB: a number needs a unit, a bare string is seconds, a signed amount needs parentheses
    ("duckdb", "SELECT d - INTERVAL 90 FROM t", "duckdb rejects INTERVAL without a unit: write INTERVAL 90 DAY"),
    ("duckdb", "SELECT d - INTERVAL '90' FROM t", "duckdb reads INTERVAL '90' without a unit as 90 seconds: write INTERVAL '90 days'"),
    ("duckdb", "SELECT d + INTERVAL -90 DAY FROM t", "duckdb rejects a signed INTERVAL amount: write INTERVAL (-90) DAY"),
    ("duckdb", "SELECT d + INTERVAL -90 FROM t", "duckdb rejects INTERVAL without a unit: write INTERVAL (-90) DAY"),
    ("duckdb", "SELECT d - INTERVAL 90 DAY, d - INTERVAL 90 DAYS, d - INTERVAL '90 days', d - INTERVAL '90' DAY FROM t", None),
    ("duckdb", "SELECT d - INTERVAL (n) DAY, x::DATE, COUNT(*) FILTER (WHERE x) FROM t QUALIFY 1 = 1", None),
    # MySQL: like BigQuery
    ("mysql", "SELECT d + INTERVAL 2 DAYS FROM t", "mysql rejects the plural DAYS: write INTERVAL 2 DAY"),
    ("mysql", "SELECT d + INTERVAL 1 YEAR, d + INTERVAL '1:30' HOUR_MINUTE FROM t", None),
    ("mysql", "SELECT x::SIGNED FROM t", "mysql rejects the :: cast: write CAST(x AS SIGNED)"),
    # Databricks: :: and QUALIFY are fine, an interval needs a unit
    ("databricks", "SELECT d - INTERVAL 90", "databricks rejects INTERVAL without a unit: write INTERVAL 90 DAY"),
    ("databricks", "SELECT d - INTERVAL 90 DAYS, x::INT, x ILIKE 'a%' FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY x) = 1", None),
    ("trino", "SELECT x FROM t WHERE name ILIKE 'a%'", "trino rejects ILIKE: write LOWER(x) LIKE LOWER(pattern)"),
    # Words that only look like the constructs
    ("bigquery", "SELECT 'INTERVAL 90', '::', 'x ILIKE y' /* INTERVAL 90 */ FROM t -- DISTINCT ON (x)", None),
]


@pytest.mark.parametrize("dialect, sql, expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_dialect_rules(dialect, sql, expected):
    parse_query(sql, dialect)  # every case is one sqlglot accepts: the rules catch what it lets through
    assert [p.message for p in dialect_violations(sql, dialect)] == ([expected] if expected else [])


def test_violations_point_at_their_tokens_in_order():
    sql = "SELECT x::DATE AS day,\n       COUNT(*)\nFROM t\nWHERE d > DATE_SUB(CURRENT_DATE(), INTERVAL 90 DAYS)"
    problems = dialect_violations(sql, "bigquery")
    assert [(p.sql.line, p.sql.column, p.sql.width) for p in problems] == [(1, 9, 6), (4, 36, 16)]
    assert [sql.splitlines()[p.sql.line - 1][p.sql.column - 1:][:p.sql.width] for p in problems] == ["::DATE", "INTERVAL 90 DAYS"]
    assert problems[0].sql.sql == sql


def test_interval_problems_carry_the_jinja_hint():
    (problem,) = dialect_violations("SELECT now() - INTERVAL 90", "postgres")
    assert problem.hint == "a Jinja variable renders as a SQL literal, and inside quotes as its bare value: INTERVAL '{{ days }} days'"


def test_every_rule_names_real_dialects_and_says_why():
    from sqlglot.dialects.dialect import Dialect

    assert len({rule.name for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.why and rule.dialects
        for dialect in rule.dialects:
            Dialect.get_or_raise(dialect)


def test_dialects_without_rules_are_not_tokenized():
    assert dialect_violations("SELECT `unterminated", "clickhouse") == []


BOARD = """\
title: Recent tickets
variables:
  days: {input: number, default: 90}
queries:
  recent: |
    SELECT priority, COUNT(*) AS tickets
    FROM zendesk.ticket
    WHERE created_at >= CURRENT_DATE - INTERVAL {{ days }}
    GROUP BY 1
  healthy: |
    SELECT priority, COUNT(*) AS tickets
    FROM zendesk.ticket
    WHERE created_at >= CURRENT_DATE - INTERVAL '{{ days }} days'
    GROUP BY 1
  base: SELECT priority, created_at FROM zendesk.ticket
  pasted: |
    SELECT priority, COUNT(*) AS tickets
    FROM ({{ queries.base }}) AS b
    WHERE created_at >= CURRENT_DATE - INTERVAL '{{ days }}'
    GROUP BY 1
charts:
  split: {type: bar, query: recent, x: priority, y: tickets}
  fine: {type: bar, query: healthy, x: priority, y: tickets}
  pasted: {type: bar, query: pasted, x: priority, y: tickets}
rows: [split, fine, pasted]
"""

PACK = """\
connector: zendesk
dialect: postgres
schema_versions: ["2025-03"]
targets: [snowflake]
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_postgres_interval_from_a_variable_fails_syntax_at_its_yaml_line(packs, pytester, workers):
    packs({"packs/pg/pack.yml": PACK, "packs/pg/boards/tickets.yml": BOARD})
    args = ("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider", "-rA", *workers)
    result = pytester.runpytest_subprocess(*args) if workers else pytester.runpytest(*args)
    result.stdout.fnmatch_lines([
        "*packs/pg/boards/tickets.yml:8: syntax: postgres rejects INTERVAL without a unit: write INTERVAL '90 days'",
        "*hint: a Jinja variable renders as a SQL literal, and inside quotes as its bare value: INTERVAL '{{ days }} days'",
        "*SQL:",
        "*> 3 | WHERE created_at >= CURRENT_DATE - INTERVAL 90",
        "*^^^^^^^^^^^",
    ])
    # The pasted query moves the lines: the failure names the query's own line.
    result.stdout.fnmatch_lines([
        "*packs/pg/boards/tickets.yml:16: syntax: postgres reads INTERVAL '90' without a unit as 90 seconds: "
        "write INTERVAL '90 days'",
    ])
    assert "Traceback" not in result.stdout.str()
    outcomes = outcomes_by_node(result)
    failed = sorted(node for node, outcome in outcomes.items() if outcome != "PASSED")
    assert failed == ["packs/pg/boards/tickets.yml::pasted::syntax", "packs/pg/boards/tickets.yml::recent::syntax"]
    # The other items of the same queries still run, and pass: one defect, one failure.
    for query in ("recent", "pasted"):
        others = {node for node in outcomes if f"::{query}::" in node and not node.endswith("::syntax")}
        assert {"schema", "bindings", "transpile"} <= {node.rpartition("::")[2].partition("[")[0] for node in others}
    assert outcomes["packs/pg/boards/tickets.yml::healthy::syntax"] == "PASSED"
