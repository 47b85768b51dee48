"""Pytest manners: node ids, markers, user properties, selection, xdist and collect-only."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conftest import STATIC, GOOD_BOARD, good_pack, outcomes_by_node

PACK_WITH_TWO_VERSIONS = """\
connector: zendesk
schema_versions: ["2023-12", "2025-03"]
targets: [snowflake, bigquery]
"""

EXPECTED_IDS = [
    "packs/demo/boards/support.yml::load",
    "packs/demo/boards/support.yml::daily::syntax",
    "packs/demo/boards/support.yml::daily::schema[zendesk@2023-12]",
    "packs/demo/boards/support.yml::daily::schema[zendesk@2025-03]",
    "packs/demo/boards/support.yml::daily::bindings",
    "packs/demo/boards/support.yml::daily::transpile[snowflake]",
    "packs/demo/boards/support.yml::daily::transpile[bigquery]",
    "packs/demo/boards/support.yml::by_priority::syntax",
    "packs/demo/boards/support.yml::by_priority::schema[zendesk@2023-12]",
    "packs/demo/boards/support.yml::by_priority::schema[zendesk@2025-03]",
    "packs/demo/boards/support.yml::by_priority::bindings",
    "packs/demo/boards/support.yml::by_priority::transpile[snowflake]",
    "packs/demo/boards/support.yml::by_priority::transpile[bigquery]",
    "packs/demo/pack.yml::load",
]


@pytest.fixture
def demo(packs):
    return packs(good_pack("demo", pack=PACK_WITH_TWO_VERSIONS))


def test_node_ids_follow_yaml_order(demo, pytester):
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "--collect-only", "-q", "-p", "no:cacheprovider")
    assert [line for line in result.outlines if "::" in line] == EXPECTED_IDS


def test_nothing_is_collected_without_the_flag(demo, pytester):
    result = pytester.runpytest("packs", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_ini_twin_enables_collection(demo, pytester):
    pytester.makeini("[pytest]\ndashpacks = true\n")
    result = pytester.runpytest("packs", *STATIC, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(EXPECTED_IDS))


def test_collect_only_does_no_sql_work(demo, pytester):
    # sqlglot and duckdb cannot even be imported: collection must not need them.
    pytester.makeconftest(
        "import sys\nsys.modules['sqlglot'] = None\nsys.modules['duckdb'] = None\n"
    )
    result = pytester.runpytest_subprocess("--dashpacks", "packs", *STATIC, "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert [line for line in result.outlines if "::" in line] == EXPECTED_IDS


def test_markers_select_checks(demo, pytester):
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-m", "dashpacks_schema", "-p", "no:cacheprovider", "-rA")
    assert sorted(outcomes_by_node(result)) == sorted(i for i in EXPECTED_IDS if "::schema[" in i)
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-k", "transpile and bigquery", "-p", "no:cacheprovider", "-rA")
    assert sorted(outcomes_by_node(result)) == sorted(i for i in EXPECTED_IDS if "transpile[bigquery]" in i)


def test_static_marker_selects_exactly_the_items_that_run_no_sql(demo, pytester):
    everything = pytester.runpytest("--dashpacks", "packs", "--collect-only", "-q", "-p", "no:cacheprovider")
    static = pytester.runpytest("--dashpacks", "packs", "-m", "dashpacks_static", "--collect-only", "-q", "-p", "no:cacheprovider")
    ids = [line for line in static.outlines if "::" in line]
    assert ids and all(any(f"::{kind}" in i for kind in ("load", "syntax", "schema[", "bindings", "transpile[", "zone")) for i in ids)
    not_static = [line for line in everything.outlines if "::" in line and line not in ids]
    assert any("::execute[" in i for i in not_static) and any("::volume[" in i for i in not_static)
    assert not any(i.endswith(("::syntax", "::load", "::bindings", "::zone")) for i in not_static)


def test_an_m_expression_on_plugin_markers_alone_never_makes_the_items_it_cannot_select(demo, pytester):
    def collected(expression: str) -> tuple[list[str], str]:
        result = pytester.runpytest("--dashpacks", "packs", "-m", expression, "--collect-only", "-q", "-p", "no:cacheprovider")
        return [line for line in result.outlines if "::" in line], result.outlines[-1]

    made, summary = collected("dashpacks_static and not dashpacks_zone")
    kept, kept_summary = collected("(dashpacks_static and not dashpacks_zone) or a_user_marker")  # another name: -m decides
    assert made == kept and made and not any("::zone" in i or "::execute[" in i for i in made)
    assert "deselected" in kept_summary and "deselected" not in summary  # the data items were never made


def test_user_properties_reach_junitxml(demo, pytester):
    pytester.runpytest("--dashpacks", "packs", *STATIC, "--junitxml=out.xml", "-p", "no:cacheprovider")
    cases = ET.parse(pytester.path / "out.xml").getroot().iter("testcase")
    props = {
        (case.get("classname"), case.get("name")): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in cases
    }
    schema = props[("packs.demo.boards.support.yml.daily", "schema[zendesk@2025-03]")]
    assert schema == {"connector": "zendesk", "pack": "demo", "check": "schema[zendesk@2025-03]", "defect_class": "schema_drift"}
    assert props[("packs.demo.pack.yml", "load")]["defect_class"] == "config"
    assert props[("packs.demo.boards.support.yml.daily", "bindings")]["defect_class"] == "rendering"


def test_last_failed_and_exitfirst(packs, pytester):
    broken = GOOD_BOARD.replace("SELECT priority,", "SELECT priorty,")
    packs({**good_pack("demo", board=broken, pack=PACK_WITH_TWO_VERSIONS)})
    first = pytester.runpytest("--dashpacks", "packs", *STATIC, "-rA")
    failed = {n for n, o in outcomes_by_node(first).items() if o == "FAILED"}
    # One typo, one failure: the newer version and the bindings are blocked by it.
    assert failed == {"packs/demo/boards/support.yml::by_priority::schema[zendesk@2023-12]"}
    again = pytester.runpytest("--dashpacks", "packs", *STATIC, "--lf", "-rA")
    assert set(outcomes_by_node(again)) == failed
    stop = pytester.runpytest("--dashpacks", "packs", *STATIC, "-x", "-p", "no:cacheprovider")
    stop.assert_outcomes(passed=8, failed=1)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_xdist_gives_the_serial_outcomes(packs, pytester, workers):
    broken = GOOD_BOARD.replace("SELECT priority,", "SELECT priorty,")
    packs({**good_pack("demo", board=broken, pack=PACK_WITH_TWO_VERSIONS), **good_pack("other")})
    result = pytester.runpytest_subprocess("--dashpacks", "packs", *STATIC, "-n", workers, "-p", "no:cacheprovider", "-rA")
    outcomes = outcomes_by_node(result)
    # demo's items less the two blocked (-rA names no node for a skip), and the other pack's 12 (zone items included)
    assert len([n for n, o in outcomes.items() if o != "SKIPPED" and n.startswith("packs/")]) == len(EXPECTED_IDS) - 2 + 12
    assert sorted(n for n, o in outcomes.items() if o == "FAILED") == [
        "packs/demo/boards/support.yml::by_priority::schema[zendesk@2023-12]",
    ]
    result.stdout.fnmatch_lines([
        "*packs/demo/boards/support.yml:14: schema?zendesk@2023-12?: column zendesk.ticket.priorty does not exist in zendesk@2023-12",
    ])
    blocked = [line for line in result.outlines if "blocked by packs/demo/boards/support.yml::by_priority::schema[zendesk@2023-12]: "
               "column zendesk.ticket.priorty does not exist in zendesk@2023-12" in line]
    assert len(blocked) == 1 and blocked[0].startswith("SKIPPED [2]")  # schema@2025-03 and bindings


def test_pack_rules_skip_and_xfail_with_reasons(packs, pytester):
    pack = PACK_WITH_TWO_VERSIONS + """\
checks:
  skip:
    - {check: "transpile[bigquery]", query: "support.daily", reason: "customer is on Snowflake only"}
  xfail:
    - {check: "schema[*@2023-12]", query: "support.*", reason: "old connections still migrate", defect: DEF-7}
"""
    broken = GOOD_BOARD.replace("SELECT priority,", "SELECT priorty,")
    packs(good_pack("demo", board=broken, pack=pack))
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-rA", "-p", "no:cacheprovider")
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/demo/boards/support.yml::by_priority::schema[zendesk@2023-12]"] == "XFAIL"
    # The expected-to-fail version blocks nothing: the same typo fails the next version's item.
    assert outcomes["packs/demo/boards/support.yml::by_priority::schema[zendesk@2025-03]"] == "FAILED"
    result.stdout.fnmatch_lines(["*pack.yml checks.skip: customer is on Snowflake only*"])
    result.assert_outcomes(passed=9, failed=1, skipped=2, xfailed=1, xpassed=1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dashpacks-timezones", "Mars/Olympus"], "*unknown IANA time zone 'Mars/Olympus'*"),
        (["--dashpacks-large-rows", "many"], "*--dashpacks-large-rows*not a number: 'many'*"),
        (["--dashpacks-query-timeout", "nan"], "*--dashpacks-query-timeout: must be a finite positive number, got 'nan'*"),
        (["--dashpacks-query-timeout", "inf"], "*--dashpacks-query-timeout: must be a finite positive number, got 'inf'*"),
        (["--dashpacks-regressions", "--dashpacks-pin-dir", "pins"], "*drop --dashpacks-pin-dir*"),
    ],
)
def test_bad_options_are_usage_errors(demo, pytester, args, message):
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, *args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_loading_a_board_reads_its_text_once_not_once_per_query(tmp_path, monkeypatch):
    """Loading stays linear in the board's size: each query used to split the whole file again, so
    1,000, 2,000 and 4,000 queries took 1.2, 4.8 and 22 s (benchmarks/bench_loading.py shows the times)."""
    import dataclasses

    from pytest_dashpacks.load import boards as packs

    splits = []

    class CountingText(str):
        def splitlines(self, *args, **kwargs):  # type: ignore[override]
            splits.append(1)
            return str.splitlines(self, *args, **kwargs)

    real_load = packs.load_yaml

    def counting_load(path, **kwargs):
        doc = real_load(path, **kwargs)
        return dataclasses.replace(doc, text=CountingText(doc.text))

    monkeypatch.setattr(packs, "load_yaml", counting_load)
    queries = 2000
    lines = ["title: Big", "queries:"]
    for i in range(queries):
        lines += [f"  q{i}: |", f"    SELECT priority, COUNT(*) AS n{i} FROM zendesk.ticket GROUP BY 1"]
    lines += ["charts:"] + [f"  c{i}: {{type: bar, query: q{i}, x: priority, y: n{i}}}" for i in range(queries)]
    (tmp_path / "boards").mkdir()
    (tmp_path / "pack.yml").write_text("connector: zendesk\n")
    board_path = tmp_path / "boards" / "big.yml"
    board_path.write_text("\n".join(lines) + "\n")
    board = packs.load_board(board_path, tmp_path)
    assert len(board.queries) == queries and board.query("q1999").sql_first_line == 2 * queries + 2
    assert len(splits) <= 3, f"the board text was split {len(splits)} times"
    assert [b.column for b in board.bindings_of("q7")] == ["priority", "n7"]
