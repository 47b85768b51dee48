"""Values queries (rows written inline) get a ``bindings`` item, and only that, checked from their YAML."""

from __future__ import annotations

import pytest

from conftest import STATIC, GOOD_PACK, outcomes_by_node

# Every form dbt charts accepts: columns + positional values, rows of mappings,
# values written as mappings, and an inline values query in a chart; a layer reads one too.
BOARD = """\
title: Targets
queries:
  daily: |
    SELECT CAST((created_at AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York' AS DATE) AS day, COUNT(*) AS tickets
    FROM zendesk.ticket
    GROUP BY 1
  targets:
    type: values
    columns: [month, target]
    values:
      - [2024-01-01, 100]
      - [2024-02-01, 120.5]
      - [2024-03-01, ~]
  teams:
    rows:
      - {team: Billing, goal: 40}
      - {team: Tier 2, goal: 25}
  legacy:
    type: values
    values:
      - {region: EU, share: 0.4}
      - {region: US, share: 0.6}
  spare:
    type: values
    rows: [{note: nobody charts this}]
charts:
  trend: {type: line, query: daily, x: day, y: tickets}
  goal: {type: bar, query: targets, x: month, y: target}
  by_team: {type: bar, query: teams, x: team, y: goal, sort: {by: goal}}
  regions: {type: pie, query: legacy, theta: share, color: region}
  headline:
    type: kpi
    query: {type: values, rows: [{answered: 0.93}]}
    value: answered
  combo:
    type: line
    query: daily
    x: day
    y: tickets
    layers:
      - {type: line, query: targets, x: month, y: target}
rows: [trend, goal, by_team, regions, headline, combo]
"""

PACK = GOOD_PACK.replace("targets: [snowflake]\n", "")
BOARD_FILE = "packs/demo/boards/targets.yml"

SQL_ITEMS = [
    "packs/demo/boards/targets.yml::load",
    "packs/demo/boards/targets.yml::daily::syntax",
    "packs/demo/boards/targets.yml::daily::schema[zendesk@2025-03]",
    "packs/demo/boards/targets.yml::daily::bindings",
    "packs/demo/boards/targets.yml::daily::zone",
]
VALUES_ITEMS = [
    "packs/demo/boards/targets.yml::targets::bindings",
    "packs/demo/boards/targets.yml::teams::bindings",
    "packs/demo/boards/targets.yml::legacy::bindings",
    "packs/demo/boards/targets.yml::headline::bindings",
]
EXPECTED_IDS = SQL_ITEMS + VALUES_ITEMS + ["packs/demo/pack.yml::load"]


def demo_files(board: str = BOARD) -> dict[str, str]:
    return {"packs/demo/pack.yml": PACK, BOARD_FILE: board}


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider", "-rA", *args)


def test_values_queries_get_only_a_bindings_item_and_collection_needs_no_sql(packs, pytester):
    packs(demo_files())
    # sqlglot and duckdb cannot even be imported: a values query's columns come from its YAML.
    pytester.makeconftest("import sys\nsys.modules['sqlglot'] = None\nsys.modules['duckdb'] = None\n")
    result = pytester.runpytest_subprocess("--dashpacks", "packs", *STATIC, "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert [line for line in result.outlines if "::" in line] == EXPECTED_IDS


def test_every_values_form_passes_when_the_charts_match(packs, pytester):
    packs(demo_files())
    result = run(pytester)
    outcomes = outcomes_by_node(result)
    assert outcomes == {node: "PASSED" for node in EXPECTED_IDS}


# (case, edit of BOARD, failing values query, expected message, expected detail)
MISSING = [
    ("compact-y", ("goal: {type: bar, query: targets, x: month, y: target}", "goal: {type: bar, query: targets, x: month, y: targt}"), "targets",
     f"{BOARD_FILE}:28: bindings: chart 'goal' y names column 'targt', which values query 'targets' does not provide (did you mean 'target'?)",
     "  values query 'targets' provides: month, target"),
    ("rows-sort-by", ("sort: {by: goal}", "sort: {by: gaol}"), "teams",
     f"{BOARD_FILE}:29: bindings: chart 'by_team' sort.by names column 'gaol', which values query 'teams' does not provide (did you mean 'goal'?)",
     "  values query 'teams' provides: team, goal"),
    ("values-as-mappings", ("theta: share, color: region}", "theta: share, color: regoin}"), "legacy",
     f"{BOARD_FILE}:30: bindings: chart 'regions' color names column 'regoin', which values query 'legacy' does not provide (did you mean 'region'?)",
     "  values query 'legacy' provides: region, share"),
    ("inline-in-chart", ("    value: answered\n", "    value: answerd\n"), "headline",
     f"{BOARD_FILE}:34: bindings: chart 'headline' value names column 'answerd', which values query 'headline' does not provide (did you mean 'answered'?)",
     "  values query 'headline' provides: answered"),
    ("layer", ("query: targets, x: month, y: target}\nrows", "query: targets, x: monht, y: target}\nrows"), "targets",
     f"{BOARD_FILE}:41: bindings: chart 'combo' layers[0].x names column 'monht', which values query 'targets' does not provide (did you mean 'month'?)",
     "  values query 'targets' provides: month, target"),
    ("case-matters", ("goal: {type: bar, query: targets, x: month, y: target}", "goal: {type: bar, query: targets, x: Month, y: target}"), "targets",
     f"{BOARD_FILE}:28: bindings: chart 'goal' x names column 'Month', which values query 'targets' does not provide (did you mean 'month'?)",
     "  values query 'targets' provides: month, target"),
]


@pytest.mark.parametrize("case, edit, query, message, detail", MISSING, ids=[c[0] for c in MISSING])
def test_a_column_the_values_query_lacks_fails_at_the_binding(packs, pytester, case, edit, query, message, detail):
    old, new = edit
    assert BOARD.count(old) == 1
    packs(demo_files(BOARD.replace(old, new)))
    result = run(pytester)
    result.stdout.fnmatch_lines([message, detail])
    assert "Traceback" not in result.stdout.str()
    failing = f"{BOARD_FILE}::{query}::bindings"
    assert outcomes_by_node(result) == {node: "FAILED" if node == failing else "PASSED" for node in EXPECTED_IDS}


NOT_NUMERIC = [
    ("text-in-y", ("- [2024-02-01, 120.5]", '- [2024-02-01, "n/a"]'), "targets",
     [f"{BOARD_FILE}:28: bindings: chart 'goal' y column 'target' must be numeric, but values query 'targets' gives it 'n/a' on line 12 (text)",
      "  values query 'targets' provides: month, target",
      f"  also: {BOARD_FILE}:41: chart 'combo' layers[0].y column 'target' must be numeric, but values query 'targets' gives it 'n/a' on line 12 (text)"]),
    ("date-in-y", ("{team: Tier 2, goal: 25}", "{team: Tier 2, goal: 2024-06-30}"), "teams",
     [f"{BOARD_FILE}:29: bindings: chart 'by_team' y column 'goal' must be numeric, but values query 'teams' gives it '2024-06-30' on line 17 (temporal)"]),
    ("quoted-number-in-theta", ("{region: US, share: 0.6}", '{region: US, share: "0.6"}'), "legacy",
     [f"{BOARD_FILE}:30: bindings: chart 'regions' theta column 'share' must be numeric, but values query 'legacy' gives it '0.6' on line 22 (text)"]),
    ("boolean-in-kpi-value", ("rows: [{answered: 0.93}]", "rows: [{answered: true}]"), "headline",
     [f"{BOARD_FILE}:34: bindings: chart 'headline' value column 'answered' must be numeric, but values query 'headline' gives it True on line 33 (boolean)"]),
]


@pytest.mark.parametrize("case, edit, query, lines", NOT_NUMERIC, ids=[c[0] for c in NOT_NUMERIC])
def test_a_measure_bound_to_non_numbers_fails(packs, pytester, case, edit, query, lines):
    old, new = edit
    assert BOARD.count(old) == 1
    packs(demo_files(BOARD.replace(old, new)))
    result = run(pytester)
    result.stdout.fnmatch_lines(lines)
    failing = f"{BOARD_FILE}::{query}::bindings"
    assert outcomes_by_node(result) == {node: "FAILED" if node == failing else "PASSED" for node in EXPECTED_IDS}


MALFORMED = [
    ("short-row", ("- [2024-02-01, 120.5]", "- [2024-02-01]"),
     f"{BOARD_FILE}:12: load: values query 'targets': values[1] has 1 value, expected 2 (columns: month, target)"),
    ("positional-without-columns", ("    columns: [month, target]\n", ""),
     f"{BOARD_FILE}:10: load: values query 'targets': values[0] lists values by position, so the query needs columns: [...] to name them"),
    ("no-data", ("    rows: [{note: nobody charts this}]\n", ""),
     f"{BOARD_FILE}:23: load: values query 'spare' holds no data: write rows: [{{column: value, ...}}], or columns: [...] with values: [[...], ...]"),
]


@pytest.mark.parametrize("case, edit, message", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_values_fail_the_board_load(packs, pytester, case, edit, message):
    old, new = edit
    assert BOARD.count(old) == 1
    packs(demo_files(BOARD.replace(old, new)))
    result = run(pytester)
    result.stdout.fnmatch_lines([message])
    outcomes = outcomes_by_node(result)
    assert outcomes == {f"{BOARD_FILE}::load": "FAILED", "packs/demo/pack.yml::load": "PASSED"}


def test_xdist_gives_the_serial_outcomes(packs, pytester):
    packs(demo_files(BOARD.replace("sort: {by: goal}", "sort: {by: gaol}")))
    serial = outcomes_by_node(run(pytester))
    parallel = pytester.runpytest_subprocess("--dashpacks", "packs", *STATIC, "-n", "2", "-p", "no:cacheprovider", "-rA")
    assert outcomes_by_node(parallel) == serial
    assert serial[f"{BOARD_FILE}::teams::bindings"] == "FAILED"
