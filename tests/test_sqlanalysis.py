"""SQL analysis: data-driven schema cases, output columns and transpile checks."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
import sqlglot
import yaml

from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
from pytest_dashpacks.sql.render import render_model
from pytest_dashpacks.sql.schema import mapping_schema, qualified, sqlglot_schema, schema_problems
from pytest_dashpacks.sql.outputs import model_outputs, output_columns
from pytest_dashpacks.sql.parse import parse_query
from pytest_dashpacks.sql.transpile import transpile, unknown_functions, unsupported_syntax
from pytest_dashpacks.sql.types import type_and_value_problems

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "schema_problems.yml").read_text())


@lru_cache(maxsize=None)
def catalog(connector: str, version: str):
    loaded = load_connector(curated_fixture_root() / connector / "connector.yml")
    chosen = loaded.version(version)
    names = tuple(m.name for m in loaded.models)
    rendered = [(m.name, render_model(m.sql, loaded.name, loaded.schema, names)) for m in loaded.models]
    models = model_outputs(rendered, chosen, loaded.schema)
    return loaded, chosen, models, mapping_schema(chosen, models)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_schema_case(case):
    loaded, version, models, schema = catalog(case["connector"], case["version"])
    dialect = case.get("dialect", "duckdb")
    ast = parse_query(case["sql"], dialect)
    problems = schema_problems(ast, case["sql"], version, models, loaded.schema)
    if not problems:
        tree = qualified(ast, sqlglot_schema(schema, dialect), dialect)
        problems = type_and_value_problems(tree, case["sql"], version, loaded.schema, models)
    assert len(problems) == len(case["expect"]), [p.message for p in problems]
    for problem, expected in zip(problems, case["expect"]):
        assert expected in problem.message


def test_problem_positions_point_at_the_token():
    loaded, version, models, _ = catalog("zendesk", "2025-03")
    sql = "SELECT id,\n       bogus\nFROM zendesk.ticket"
    (problem,) = schema_problems(parse_query(sql, "duckdb"), sql, version, models, loaded.schema)
    assert (problem.sql.line, problem.sql.column, problem.sql.width) == (2, 8, 5)


def test_output_columns_expand_stars_with_types():
    _, _, _, schema = catalog("zendesk", "2025-03")
    ast = parse_query("SELECT * FROM zendesk.brand", "duckdb")
    columns = output_columns(ast, qualified(ast, schema, "duckdb"))
    assert columns and columns[0].name == "id" and columns[0].category == "number"


@pytest.mark.parametrize(
    "sql, source, target, unknown",
    [
        ("SELECT APPROX_TOP_K(x, 3) AS k FROM t", "duckdb", "redshift", ["APPROX_TOP_K"]),
        ("SELECT MEDIAN(x) AS m FROM t", "duckdb", "bigquery", ["MEDIAN"]),
        ("SELECT DATE(TIMESTAMP(created)) AS d FROM t", "bigquery", "postgres", ["TIMESTAMP"]),
        ("SELECT MY_UDF(x) AS u FROM t", "duckdb", "snowflake", ["MY_UDF"]),
        ("SELECT DATE_TRUNC('month', created) AS m, COUNT(*) AS n FROM t GROUP BY 1", "duckdb", "bigquery", []),
        ("SELECT SAFE_DIVIDE(a, b) AS r, COUNTIF(x > 1) AS c FROM t", "bigquery", "snowflake", []),
        ("WITH c(a) AS (SELECT 1) SELECT a FROM c AS alias(a)", "duckdb", "postgres", []),
        ("SELECT CAST(x AS DECIMAL(18, 2)) AS d FROM t", "duckdb", "redshift", []),
    ],
)
def test_unknown_functions(sql, source, target, unknown):
    out = transpile(parse_query(sql, source), target)
    back = sqlglot.parse_one(out, read=target)
    assert [name for name, _, _ in unknown_functions(out, target, back)] == unknown


def test_filter_clause_is_unsupported_on_redshift_only():
    ast = parse_query("SELECT COUNT(*) FILTER (WHERE status = 'open') AS n FROM t", "duckdb")
    for target, expected in [("redshift", ["aggregate FILTER (WHERE ...)"]), ("postgres", []), ("snowflake", [])]:
        back = sqlglot.parse_one(transpile(ast, target), read=target)
        assert unsupported_syntax(back, target) == expected


@pytest.mark.parametrize(
    "sql, dialect, calls",
    [
        ("SELECT DATE_TRUNC(d, WEEK(MONDAY)) AS w, LAST_DAY(d, WEEK(SUNDAY)) AS e FROM t", "bigquery", ["DATE_TRUNC", "LAST_DAY"]),
        ("SELECT week(d) AS w FROM t", "duckdb", ["WEEK"]),  # a real call where WEEK is a function
        ("SELECT CAST(x AS DECIMAL(18, 2)) AS y FROM t", "duckdb", ["CAST"]),  # the type is no call
    ],
)
def test_called_functions_are_calls_not_date_parts_or_types(sql, dialect, calls):
    from pytest_dashpacks.sql.transpile import called_functions

    assert [name for name, _, _ in called_functions(sql, dialect)] == calls
