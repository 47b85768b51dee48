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
            "volume[empty]", "volume[large]", "timezone[Asia/Kolkata]"} <= blocked
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
