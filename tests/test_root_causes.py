"""One defect, one failure: a misspelled column fails one item, and every item that needs the
query to resolve is skipped as blocked by it, serially and under xdist, in the terminal, the
JSON report and JUnit XML alike."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import GOOD_BOARD, good_pack

PACK = """\
connector: zendesk
schema_versions: ["2023-12", "2025-03"]
timezone: America/New_York
"""
TYPO = GOOD_BOARD.replace("SELECT priority,", "SELECT priorty,")
ROOT = "packs/demo/boards/support.yml::by_priority::schema[zendesk@2023-12]"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_typo_fails_one_item_and_blocks_the_rest(packs, pytester, workers):
    packs(good_pack("demo", board=TYPO, pack=PACK))
    result = pytester.runpytest_subprocess(
        "--dashpacks", "packs", "-n", workers, "-p", "no:cacheprovider", "--dashpacks-large-rows", "200",
        "--dashpacks-report", "report.json", "--junitxml", "junit.xml",
    )
    report = json.loads((pytester.path / "report.json").read_text())
    assert [f["nodeid"] for f in report["failures"]] == [ROOT]
    failure = report["failures"][0]
    # The YAML line of the misspelled column (the first SQL line of by_priority), not the query key above it.
    assert (failure["file"], failure["line"], failure["class"]) == ("packs/demo/boards/support.yml", 14, "schema_drift")
    assert failure["hint"] == "hint: did you mean priority?"
    blocked = {b["nodeid"].rpartition("::")[2] for b in report["blocked"]}
    # Every item of the query that needs it to resolve: the newer version, bindings, zone and the data items.
    assert {"schema[zendesk@2025-03]", "bindings", "zone", "execute[zendesk@2023-12]", "execute[zendesk@2025-03]",
            "volume[empty]", "volume[large]", "volume[soft_deleted]"} <= blocked  # no timezone items: by_priority reads no time
    assert {b["blocked_by"] for b in report["blocked"]} == {ROOT}
    assert sorted(failure["blocks"]) == sorted(b["nodeid"] for b in report["blocked"])
    assert report["connectors"]["zendesk"]["blocked"] == len(report["blocked"])
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["skipped"] == len(report["blocked"])
    result.stdout.fnmatch_lines([f"*  pinned 0  blocked {len(report['blocked'])}*", "blocked: * items skipped behind a failing root cause*"])
    junit = ET.parse(pytester.path / "junit.xml")
    failed = [case for case in junit.iter("testcase") if case.find("failure") is not None]
    assert len(failed) == 1
    properties = {p.get("name"): p.get("value") for p in failed[0].iter("property")}
    assert (properties["file"], properties["line"]) == ("packs/demo/boards/support.yml", "14")


def test_a_kpi_failure_points_at_the_bucket_expression_and_gives_the_fix(pytester):
    import shutil

    from conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "defects" / "wrong_zone_bucketing", pytester.path / "wrong")
    manifest = pytester.path / "wrong" / "pack.yml"  # let the KPI oracle speak, not the static zone item
    manifest.write_text(manifest.read_text() + 'checks:\n  skip: [{check: zone, query: "*", reason: "test the oracle"}]\n')
    result = pytester.runpytest("--dashpacks", "wrong", "-k", "kpi", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes()["deselected"])
    result.stdout.fnmatch_lines([
        "wrong/pack.yml:7: kpi?daily_net_revenue?: kpi daily_net_revenue: bucket 2024-01-01 (day, America/New_York) is *",
        "  bucket: wrong/boards/revenue.yml:4: day in revenue.daily",
        "  likely cause: bucketed by the UTC day, not America/New_York",
        "  fix: CAST((created AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York' AS DATE)",
        "*  SQL:",
        "    > 1 | SELECT CAST(created AS DATE) AS day, SUM(amount) / 100.0 AS net_revenue",
    ])


def test_data_item_failures_show_the_sql_on_several_lines(pytester):
    import shutil

    from conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "defects" / "session_zone", pytester.path / "zone")
    manifest = pytester.path / "zone" / "pack.yml"
    manifest.write_text(manifest.read_text() + 'checks:\n  skip: [{check: zone, query: "*", reason: "test the data item"}]\n')
    result = pytester.runpytest("--dashpacks", "zone", "-k", "Kolkata", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "  SQL:",
        "    SELECT",
        "      CAST(created_at AT TIME ZONE 'UTC' AS DATE) AS day,",
        "      COUNT(*) AS tickets",
        "    FROM zendesk.ticket",
    ])


@pytest.mark.parametrize("slug, root", [
    ("missing_binding", "boards/support.yml::daily::bindings"),  # execute would repeat the missing column
    ("type_mismatch", "boards/tickets.yml::by_stage::schema[hubspot@2025-07]"),  # the data items would fail to compare
])
def test_a_static_finding_is_not_repeated_by_the_data_items(pytester, slug, root):
    import shutil

    from conftest import EXAMPLES, outcomes_by_node

    shutil.copytree(EXAMPLES / "defects" / slug, pytester.path / slug)
    result = pytester.runpytest("--dashpacks", slug, "-p", "no:cacheprovider", "--dashpacks-large-rows", "200", "-rA")
    failed = sorted(n for n, o in outcomes_by_node(result).items() if o == "FAILED")
    assert failed == [f"{slug}/{root}"]
    pattern = f"{slug}/{root}".replace("[", "?").replace("]", "?")  # brackets are fnmatch classes
    result.stdout.fnmatch_lines([f"*blocked by {pattern}: *"])


def test_a_blocked_item_fails_when_its_blocker_is_not_in_the_run(pytester):
    """-k property alone must not turn a wrong-zone pack green: with the zone item deselected, the
    items it would block report the defect themselves."""
    import shutil

    from conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "defects" / "wrong_zone_bucketing", pytester.path / "wz")
    result = pytester.runpytest("--dashpacks", "wz", "-k", "property or kpi", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*kpi?daily_net_revenue?: CAST(created AS DATE) buckets * (found by wz/boards/revenue.yml::daily::zone, which is not in this run)"])
    whole = pytester.runpytest("--dashpacks", "wz", "-p", "no:cacheprovider", "-rA", "--dashpacks-large-rows", "200")
    whole.stdout.fnmatch_lines(["SKIPPED ?2? wz/pack.yml:*: blocked by wz/boards/revenue.yml::daily::zone: *"])


def test_a_plugin_crash_is_a_located_internal_error(packs, pytester, monkeypatch):
    """A bug in a check is never a skip or a bare traceback: the item fails at its line and says whose bug it is."""
    from pytest_dashpacks.sql import dialect_rules

    def crash(*args, **kwargs):
        raise ZeroDivisionError("a rule divided by zero")

    monkeypatch.setattr(dialect_rules, "dialect_violations", crash)
    packs(good_pack("demo"))
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-m", "dashpacks_syntax", "-rA")
    result.stdout.fnmatch_lines([
        "packs/demo/boards/support.yml:6: syntax: internal error in the syntax check (a pytest-dashpacks bug; please report it): "
        "ZeroDivisionError: a rule divided by zero",
    ])
    result.assert_outcomes(failed=2)
