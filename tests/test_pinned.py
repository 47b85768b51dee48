"""Regression cases, marked tests, --dashpacks-regressions, pinning and the defect ledger."""

from __future__ import annotations

import yaml
from conftest import good_pack, outcomes_by_node

BOARD = """\
title: Support
variables:
  channel: {input: select, default: web}
queries:
  daily: |
    SELECT CAST(created_at AS DATE) AS day, COUNT(*) AS tickets
    FROM zendesk.ticket
    WHERE {{ filter('via_channel', channel) }}
    GROUP BY 1
  today: |
    SELECT COUNT(*) AS tickets_today
    FROM zendesk.ticket
    WHERE CAST(created_at AS DATE) = CURRENT_DATE
charts:
  trend: {type: line, query: daily, x: day, y: tickets}
  today_kpi: {type: kpi, query: today, value: tickets_today}
rows: [trend, today_kpi]
"""

CASE = """\
id: DEF-1
title: Tickets created just before UTC midnight
class: timezone
board: support
query: daily
timezone: America/New_York
data:
  ticket:
    - {id: 1, created_at: "2024-03-10 03:30:00", via_channel: web, status: open}
    - {id: 2, created_at: "2024-03-10 12:00:00", via_channel: email, status: open}
expect:
  rows: [{day: "2024-03-10", tickets: 1}]
"""

RUN = ("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA", "--dashpacks-large-rows", "100")


def pack(files: dict) -> dict:
    return {**good_pack("demo", board=BOARD), **{f"packs/demo/{k}": v for k, v in files.items()}}


def test_a_regression_case_passes_and_its_failure_shows_a_row_diff(packs, pytester):
    broken = CASE.replace("DEF-1", "DEF-2").replace('tickets: 1}', 'tickets: 2}')
    packs(pack({"regressions/DEF-1.yml": CASE, "regressions/DEF-2.yml": broken}))
    result = pytester.runpytest(*RUN, "-k", "DEF")
    outcomes = outcomes_by_node(result)
    assert outcomes == {"packs/demo/regressions/DEF-1.yml::DEF-1": "PASSED", "packs/demo/regressions/DEF-2.yml::DEF-2": "FAILED"}
    result.stdout.fnmatch_lines([
        "*regressions/DEF-2.yml:12: DEF-2: the pinned defect is back (Tickets created just before UTC midnight): rows differ from expect.rows",
        "  - expected, missing: {'day': '2024-03-10', 'tickets': 2}",
        "  + returned, not expected: {'day': '2024-03-10', 'tickets': 1}",
    ])


def test_variables_now_columns_and_errors(packs, pytester):
    variables = CASE.replace("DEF-1", "DEF-3").replace("expect:", "variables: {channel: email}\nexpect:").replace(
        'rows: [{day: "2024-03-10", tickets: 1}]', 'rows: [{tickets: 1}]\n  columns: [day, tickets]')
    frozen = """\
id: DEF-4
title: today follows the session zone
class: timezone
board: support
query: today
timezone: America/New_York
now: "2024-03-11T02:00:00Z"
data:
  ticket: [{id: 1, created_at: "2024-03-11 01:00:00"}]
expect:
  rows: [{tickets_today: 0}]
"""
    error = CASE.replace("DEF-1", "DEF-5").replace('rows: [{day: "2024-03-10", tickets: 1}]', 'error: "Division by zero"')
    bad = CASE.replace("DEF-1", "DEF-6").replace("board: support", "board: suport")
    packs(pack({f"regressions/{name}.yml": text for name, text in
                [("DEF-3", variables), ("DEF-4", frozen), ("DEF-5", error), ("DEF-6", bad)]}))
    result = pytester.runpytest(*RUN, "-k", "DEF")
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/demo/regressions/DEF-3.yml::DEF-3"] == "PASSED"
    assert outcomes["packs/demo/regressions/DEF-4.yml::DEF-4"] == "PASSED"  # CURRENT_DATE in New York is still Mar 10
    assert outcomes["packs/demo/regressions/DEF-5.yml::DEF-5"] == "FAILED"
    assert outcomes["packs/demo/regressions/DEF-6.yml::DEF-6"] == "FAILED"
    result.stdout.fnmatch_lines_random([
        "*DEF-5.yml:*: DEF-5: expected the query to fail with 'Division by zero', but it ran and returned 1 rows",
        "*DEF-6.yml:4: DEF-6: board 'suport' does not exist (did you mean 'support'?)",
    ])


def test_marked_tests_and_regressions_only(packs, pytester):
    packs(pack({"regressions/DEF-1.yml": CASE}))
    pytester.makepyfile(test_pins="""
        import pytest

        @pytest.mark.dashpacks_pin("DEF-9", defect_class="volume", connector="zendesk")
        def test_pinned():
            assert 1 + 1 == 2

        def test_other():
            pass
    """)
    result = pytester.runpytest("--dashpacks-regressions", "packs", "test_pins.py", "-p", "no:cacheprovider", "-rA")
    assert outcomes_by_node(result) == {
        "packs/demo/regressions/DEF-1.yml::DEF-1": "PASSED",
        "test_pins.py::test_pinned": "PASSED",
    }
    result.stdout.fnmatch_lines(["*zendesk*pinned 2*"])


def test_the_old_pin_marker_spelling_still_pins_and_warns(packs, pytester):
    packs(pack({}))
    pytester.makepyfile(test_pins="""
        import pytest

        @pytest.mark.dashpack_regression("DEF-9", defect_class="volume", connector="zendesk")
        def test_pinned():
            pass
    """)
    result = pytester.runpytest("--dashpacks-regressions", "packs", "test_pins.py", "-p", "no:cacheprovider", "-rA", "-W", "default")
    assert outcomes_by_node(result) == {"test_pins.py::test_pinned": "PASSED"}
    result.stdout.fnmatch_lines([
        "*PytestDeprecationWarning: @pytest.mark.dashpack_regression is renamed @pytest.mark.dashpacks_pin (same arguments)*",
        "*zendesk*pinned 1*",
    ])


TODAY = """\
title: Today
queries:
  today: |
    SELECT COUNT(*) AS tickets_today
    FROM zendesk.ticket
    WHERE CAST((created_at AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York' AS DATE) = CURRENT_DATE
charts:
  today_kpi: {type: kpi, query: today, value: tickets_today}
rows: [today_kpi]
"""


def test_pin_dir_writes_a_case_that_loads_and_fails_until_the_query_is_fixed(packs, pytester):
    packs(pack({"boards/today.yml": TODAY}))
    item = "packs/demo/boards/today.yml::today::clock[utc_midnight]"
    result = pytester.runpytest(*RUN[:1], item, *RUN[2:], "--dashpacks-pin-dir", "packs/demo/regressions")
    assert outcomes_by_node(result) == {item: "FAILED"}
    written = sorted((pytester.path / "packs/demo/regressions").glob("PIN-*.yml"))
    assert [p.name for p in written] == ["PIN-demo-today-today-clock-utc_midnight.yml"]
    text = written[0].read_text()
    assert text.startswith(f"# Pinned by pytest-dashpacks from {item}")
    assert "# expect is the right answer: the rows the query returns with the session in America/New_York" in text
    case = yaml.safe_load(text)
    # Runs in a UTC session at the frozen instant, expecting what a New York session answers.
    assert case["now"] == "2024-06-15T00:00:30Z" and case["timezone"] == "UTC" and 1 <= len(case["data"]["ticket"]) <= 3
    node = "packs/demo/regressions/PIN-demo-today-today-clock-utc_midnight.yml::PIN-demo-today-today-clock-utc_midnight"
    again = pytester.runpytest(*RUN, "-k", "PIN")
    assert outcomes_by_node(again) == {node: "FAILED"}
    again.stdout.fnmatch_lines(["*PIN-demo-today-today-clock-utc_midnight.yml:*: PIN-demo-today-today-clock-utc_midnight: the pinned defect is back*"])
    fixed = TODAY.replace("= CURRENT_DATE", "= CAST(NOW() AT TIME ZONE 'America/New_York' AS DATE)")
    (pytester.path / "packs/demo/boards/today.yml").write_text(fixed)
    assert outcomes_by_node(pytester.runpytest(*RUN, "-k", "PIN")) == {node: "PASSED"}


LEDGER = """\
defects:
  - {id: DEF-1, title: UTC day bucketing, connector: zendesk, pack: demo, class: timezone, status: fixed, reports: 3, severity: high}
  - {id: DEF-7, title: Lost pin, connector: zendesk, pack: demo, class: volume, status: fixed, reports: 1, severity: low}
  - {id: DEF-8, title: Backlog counts deleted tickets, connector: zendesk, pack: demo, class: volume, status: open, reports: 12, severity: critical}
  - {id: DEF-10, title: Old trend label, connector: zendesk, class: rendering, status: open, reports: 2, severity: low}
"""


def test_ledger_items_and_ranking(packs, pytester):
    failing_pin = CASE.replace("DEF-1", "DEF-7").replace('tickets: 1}', 'tickets: 5}')
    packs({**pack({"regressions/DEF-1.yml": CASE, "regressions/DEF-7.yml": failing_pin}), "defects.yml": LEDGER})
    result = pytester.runpytest(*RUN, "-k", "DEF or ledger")
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/demo/pack.yml::ledger[DEF-1]"] == "PASSED"
    assert outcomes["packs/demo/pack.yml::ledger[DEF-7]"] == "FAILED"
    order = pytester.runpytest(*RUN, "-k", "DEF or ledger", "--collect-only", "-q").outlines
    assert [line for line in order if "::" in line][-2:] == ["packs/demo/pack.yml::ledger[DEF-1]", "packs/demo/pack.yml::ledger[DEF-7]"]
    result.stdout.fnmatch_lines([
        "*defects.yml:3: ledger?DEF-7?: DEF-7 is marked fixed, but its pin DEF-7.yml fails: *",
    ])
    result.stdout.fnmatch_lines([
        "open ledger defects, ranked by severity x reports x recurrence:",
        # critical (5) x 12 reports x recurrence 1: a volume item of pack demo failed in this run (ledger[DEF-7])
        "  DEF-8      score   60  critical reports  12  recurrence 1  zendesk: Backlog",
        "             counts deleted tickets",
        "  DEF-10     score    2  low      reports   2  recurrence 1  zendesk: Old trend",
        "             label",
    ])


def test_fixed_defect_without_pin_fails(packs, pytester):
    packs({**pack({}), "defects.yml": LEDGER})
    result = pytester.runpytest(*RUN, "-k", "ledger")
    result.stdout.fnmatch_lines([
        "*defects.yml:2: ledger?DEF-1?: DEF-1 is marked fixed but has no pin: add regressions/DEF-1.yml to pack demo or mark a test with @pytest.mark.dashpacks_pin('DEF-1', defect_class='timezone')",
    ])


def test_unknown_columns_in_case_data_are_named(packs, pytester):
    typo = CASE.replace("status: open}", "statuss: open}", 1)
    packs(pack({"regressions/DEF-1.yml": typo}))
    result = pytester.runpytest(*RUN, "-k", "DEF")
    result.stdout.fnmatch_lines(["*regressions/DEF-1.yml:9: DEF-1: data.ticket?0?: zendesk@2025-03 has no column ticket.statuss (did you mean 'status'?)"])


def test_a_pinned_nan_and_infinity_round_trip(packs, pytester):
    """A pin's expect written with .nan and -.inf passes against the rows that have them (it once became null)."""
    import math

    import yaml
    from test_bad_input import MINI_BOARD, MINI_CASE, mini_project

    from pytest_dashpacks.engines.results import native

    board = MINI_BOARD.replace(
        "charts:", "  odd: SELECT CAST('nan' AS DOUBLE) AS r, CAST('-inf' AS DOUBLE) AS n FROM mini.charge LIMIT 1\ncharts:"
    ).replace("rows: [k, m]", "  o: {type: table, query: odd}\nrows: [k, m, o]")
    expect = yaml.safe_dump({"expect": {"rows": [{"r": native(math.nan), "n": native(-math.inf)}]}})
    assert ".nan" in expect and "-.inf" in expect
    case = MINI_CASE.replace("query: total", "query: odd").split("expect:")[0] + expect
    packs(mini_project(**{"packs__rev__boards__rev_dot_yml": board, "packs__rev__regressions__DEF-1_dot_yml": case}))
    result = pytester.runpytest("--dashpacks-regressions", "packs", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1)
