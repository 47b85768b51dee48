"""``ledger[ID]`` is decided from its pins' own reports: the same outcome serially and under xdist,
whichever worker ran the pin; and a ledger entry naming an unknown pack or connector is a config error."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import good_pack, outcomes_by_node

LEDGER = """\
defects:
  - {id: DEF-9, title: Backlog counts deleted tickets, connector: zendesk, pack: demo, class: volume, status: fixed, reports: 2, severity: high}
"""

# The pin sleeps, so under -n 2 the ledger item (on the other worker) finishes first.
PINS = """\
import time

import pytest


@pytest.mark.dashpacks_pin("DEF-9", defect_class="volume", connector="zendesk")
def test_backlog_skips_deleted_tickets():
    time.sleep({sleep})
    assert {verdict}, "the backlog counts deleted tickets again"


def test_filler():
    pass
"""

SELECT = ("-m", "dashpacks_ledger or dashpacks_pin or not dashpacks")
WORKERS = {"serial": ("-p", "no:xdist"), "n2": ("-n", "2"), "n2-loadfile": ("-n", "2", "--dist", "loadfile")}


def project(packs, pytester, *, passing: bool, sleep: float = 0.0) -> None:
    packs({**good_pack("demo"), "defects.yml": LEDGER})
    pins = PINS.replace("{sleep}", str(sleep)).replace("{verdict}", "True" if passing else "False")
    # Filler tests keep the second worker busy while the ledger item runs.
    pytester.makepyfile(test_pins=pins, test_more="def test_more():\n    pass\n")


def run(pytester, mode: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("--dashpacks", "packs", "test_pins.py", "test_more.py", *SELECT,
                                         "-p", "no:cacheprovider", "-rA", *WORKERS[mode], *extra)


@pytest.mark.parametrize("mode", sorted(WORKERS))
def test_a_failing_marked_pin_fails_the_ledger_item_serially_and_under_xdist(packs, pytester, mode):
    project(packs, pytester, passing=False, sleep=1.5)
    result = run(pytester, mode, "--junitxml", "junit.xml", "--dashpacks-report", "report.json")
    outcomes = outcomes_by_node(result)
    assert outcomes["test_pins.py::test_backlog_skips_deleted_tickets"] == "FAILED"
    assert outcomes["packs/demo/pack.yml::ledger[DEF-9]"] == "FAILED", result.stdout.str()
    result.stdout.fnmatch_lines([
        "*defects.yml:2: ledger?DEF-9?: DEF-9 is marked fixed, but its pinning test"
        " test_pins.py::test_backlog_skips_deleted_tickets fails: AssertionError: the backlog counts deleted tickets again",
    ])
    result.assert_outcomes(passed=2, failed=2)
    # The JUnit file and the stability report agree with the terminal.
    testcases = list(ET.parse(pytester.path / "junit.xml").getroot().iter("testcase"))
    [ledger] = [case for case in testcases if case.get("name") == "ledger[DEF-9]"]  # once, with its final outcome
    assert len(testcases) == 4
    assert ledger.find("failure") is not None and "DEF-9 is marked fixed" in ledger.find("failure").text
    report = json.loads((pytester.path / "report.json").read_text())
    ledger_failure = next(f for f in report["failures"] if f["nodeid"] == "packs/demo/pack.yml::ledger[DEF-9]")
    assert ledger_failure["class"] == "volume" and "pinning test" in ledger_failure["message"]
    assert report["totals"]["failed"] == 2


@pytest.mark.parametrize("mode", ["serial", "n2"])
def test_a_passing_marked_pin_passes_the_ledger_item(packs, pytester, mode):
    project(packs, pytester, passing=True, sleep=1.0)
    result = run(pytester, mode)
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/demo/pack.yml::ledger[DEF-9]"] == "PASSED"
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize("mode", ["serial", "n2"])
def test_a_pin_that_did_not_run_leaves_the_ledger_item_skipped(packs, pytester, mode):
    project(packs, pytester, passing=False)
    result = run(pytester, mode, "-k", "ledger or filler", "-v")
    assert verbose_outcomes(result)["packs/demo/pack.yml::ledger[DEF-9]"] == "SKIPPED"
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]] defects.yml:2: DEF-9: its pinning test test_pins.py::test_backlog_skips_deleted_tickets did not run in this session",
    ])
    result.assert_outcomes(passed=1, skipped=1)


def verbose_outcomes(result: pytest.RunResult) -> dict[str, str]:
    """node id -> outcome word from ``-v`` progress lines, serial (``id WORD``) or xdist (``[gw0] [ 50%] WORD id``)."""
    out = {}
    for line in result.outlines:
        words = line.split()
        for word in ("PASSED", "FAILED", "SKIPPED"):
            if word in words and "::" in line:
                out[words[words.index(word) + 1] if line.startswith("[gw") else words[0]] = word
    return out


def test_the_ledger_item_waits_for_its_pin_even_when_it_runs_first(packs, pytester):
    """--ff (or any reordering plugin) may run the ledger item before its pin: the verdict still waits."""
    project(packs, pytester, passing=False)
    pytester.makeconftest("""
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(items):
            items.sort(key=lambda item: "ledger" not in item.name)
    """)
    result = run(pytester, "serial", "-v")
    result.stdout.fnmatch_lines([
        "*test_pins.py::test_backlog_skips_deleted_tickets FAILED*",
        "*packs/demo/pack.yml::ledger?DEF-9? FAILED*",
    ])
    result.assert_outcomes(passed=2, failed=2)


UNKNOWN = """\
defects:
  - {id: DEF-1, title: Fine, connector: zendesk, pack: demo, class: volume, status: open}
  - id: DEF-2
    title: A typo in the pack
    connector: zendesk
    pack: dmeo
    class: volume
    status: fixed
  - {id: DEF-3, title: A typo in the connector, connector: zendsek, class: config, status: open}
"""


@pytest.mark.parametrize("mode", ["serial", "n2"])
def test_a_ledger_entry_naming_an_unknown_pack_or_connector_is_a_config_error(packs, pytester, mode):
    packs({**good_pack("demo"), "defects.yml": UNKNOWN})
    result = pytester.runpytest_subprocess("--dashpacks", "packs", "-m", "dashpacks_load", "-p", "no:cacheprovider", "-rA", *WORKERS[mode])
    outcomes = outcomes_by_node(result)
    assert outcomes["defects.yml::load"] == "FAILED"
    result.stdout.fnmatch_lines([
        "*defects.yml:6: load: DEF-2: pack 'dmeo' is not a pack of this project (did you mean 'demo'?)",
        "  defects.yml:9: DEF-3: connector 'zendsek' is not a known connector (did you mean 'zendesk'?)",
    ])


def test_a_ledger_pack_outside_the_collected_paths_is_known(packs, pytester):
    """Narrowing to one pack does not make the ledger's other packs unknown."""
    packs({**good_pack("demo"), **good_pack("other", pack="pack: renamed\n" + good_pack("x")["packs/x/pack.yml"]),
           "defects.yml": UNKNOWN.replace("dmeo", "renamed").replace("zendsek", "zendesk")})
    result = pytester.runpytest("--dashpacks", "packs/demo", "-m", "dashpacks_load", "-p", "no:cacheprovider", "-rA")
    assert "defects.yml::load" not in outcomes_by_node(result)
    result.assert_outcomes(passed=2)
