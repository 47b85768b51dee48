"""The stability report: terminal section, JSON (validated), history trends, HTML, xdist."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from importlib import resources

import jsonschema
import pytest

import pytest_dashpacks
from conftest import GOOD_BOARD, good_pack
from pytest_dashpacks.report.stability import CLASSES

BROKEN = GOOD_BOARD.replace("SELECT priority,", "SELECT priorty,")
SELECT = ("-m", "dashpacks_load or dashpacks_schema or dashpacks_bindings or dashpacks_execute")


def schema():
    return json.loads(resources.files("pytest_dashpacks.schemas").joinpath("report.json").read_text())


def run(pytester, *extra, subprocess_run=False):
    args = ("--dashpacks", "packs", *SELECT, "-p", "no:cacheprovider", "--dashpacks-large-rows", "100", *extra)
    return pytester.runpytest_subprocess(*args) if subprocess_run else pytester.runpytest(*args)


def test_terminal_section_and_json(packs, pytester):
    packs({**good_pack("demo", board=BROKEN), **good_pack("other")})
    result = run(pytester, "--dashpacks-report", "out/report.json")
    result.stdout.fnmatch_lines([
        "*= dashpacks stability =*",
        "connector  defect class passed/failed",
        "zendesk    schema_drift 6/1  rendering 3/0  config 4/0  pinned 0  blocked 2",
        "blocked: 2 items skipped behind a failing root cause, counted once above (-rs",
        "    lists them)",
    ])
    report = json.loads((pytester.path / "out/report.json").read_text())
    jsonschema.validate(report, schema())
    # One root cause: the misspelt column; bindings and execute of that query are blocked (skipped), not failed.
    assert report["totals"] == {"passed": 13, "failed": 1, "skipped": 2, "xfailed": 0, "xpassed": 0}
    assert report["connectors"]["zendesk"]["classes"]["schema_drift"] == {"passed": 6, "failed": 1}
    assert [f["check"] for f in report["failures"]] == ["schema[zendesk@2025-03]"]
    failure = report["failures"][0]
    assert failure["pack"] == "demo" and failure["class"] == "schema_drift" and "priorty" in failure["message"]
    assert report["run"]["complete"] is False and report["run"]["narrowed_by"] == ["-m", "paths"]
    assert report["run"]["version"] == pytest_dashpacks.__version__ and report["run"]["time"].endswith("+00:00")


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.svgs, self._table, self._row, self._cell = 0, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "svg":
            self.svgs += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


LEDGER = """\
defects:
  - {id: DEF-8, title: Backlog counts deleted tickets, connector: zendesk, class: volume, status: open, reports: 12, severity: critical}
  - {id: DEF-9, title: Old label, connector: zendesk, class: rendering, status: wontfix, reports: 1, severity: low}
"""


def test_html_page_shows_the_same_numbers(packs, pytester):
    packs({**good_pack("demo", board=BROKEN), "defects.yml": LEDGER})
    complete = ("--dashpacks", "-p", "no:cacheprovider", "--dashpacks-large-rows", "100", "--dashpacks-history", "h.jsonl")
    pytester.runpytest(*complete)  # complete runs (no -m, no paths), so the trend is charted
    pytester.runpytest(*complete, "--dashpacks-html", "report.html", "--dashpacks-report", "report.json")
    page = (pytester.path / "report.html").read_text()
    parser = _Tables()
    parser.feed(page)
    report = json.loads((pytester.path / "report.json").read_text())
    zendesk = next(row for row in parser.tables["connectors"] if row and row[0] == "zendesk")
    # columns: connector, then passed/failed for schema_drift, timezone, volume, rendering, narrative, config, then pinned
    classes = report["connectors"]["zendesk"]["classes"]
    assert zendesk[1:13] == [str(classes.get(c, {}).get(k, 0)) for c in CLASSES for k in ("passed", "failed")]
    assert zendesk[1:3] == [str(classes["schema_drift"]["passed"]), "1"]  # the one root cause; what it blocks counts in neither
    assert zendesk[7:9] == [str(classes["rendering"]["passed"]), "0"]
    assert [row[0] for row in parser.tables["ledger"][1:]] == ["DEF-8", "DEF-9"]
    assert len(parser.tables["failures"]) - 1 == report["totals"]["failed"] == 1
    assert parser.svgs == 2 and list(report["trends"]) == ["zendesk"]  # one trend chart (zendesk) and the burn-down of open defects
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained


def test_xdist_controller_builds_the_serial_report(packs, pytester):
    packs({**good_pack("demo", board=BROKEN), **good_pack("other")})
    run(pytester, "--dashpacks-report", "serial.json", subprocess_run=True)
    run(pytester, "--dashpacks-report", "parallel.json", "-n", "2", subprocess_run=True)
    serial = json.loads((pytester.path / "serial.json").read_text())
    parallel = json.loads((pytester.path / "parallel.json").read_text())
    for report in (serial, parallel):
        del report["run"]["time"]
    assert serial == parallel and serial["totals"]["failed"] == 1


LONG_LEDGER = """\
defects:
  - {id: DEF-8, title: Backlog counts deleted tickets and merged duplicates on the support overview board, connector: zendesk, class: volume, status: open, reports: 12, severity: critical}
  - {id: DEF-10, title: Old trend label, connector: zendesk, class: rendering, status: open, reports: 2, severity: low}
"""


def test_stability_section_fits_80_columns(packs, pytester):
    packs({**good_pack("demo", board=BROKEN), "defects.yml": LONG_LEDGER})
    result = pytester.runpytest("--dashpacks", "-p", "no:cacheprovider", "--dashpacks-large-rows", "100")
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "dashpacks stability" in line)
    section = lines[start + 1: next(i for i in range(start + 1, len(lines)) if lines[i].startswith("=="))]
    assert section and all(len(line) <= 80 for line in section), [line for line in section if len(line) > 80]
    result.stdout.fnmatch_lines([
        "zendesk    schema_drift 2/1  timezone * volume * rendering * config *",
        "           pinned 0  blocked *",
        "blocked: * items skipped behind a failing root cause, counted once above (-rs",
        "    lists them)",
        "open ledger defects, ranked by severity x reports x recurrence:",
        "  DEF-8      score   60  critical reports  12  recurrence 1  zendesk: Backlog",
        "             counts deleted tickets and merged duplicates on the support",
        "             overview board",
        "  DEF-10     score    2  low      reports   2  recurrence 1  zendesk: Old trend",
        "             label",
    ])


def test_report_write_errors_are_warnings(packs, pytester):
    packs({**good_pack("demo", board=BROKEN), "blocker": "a file where a directory should be\n"})
    result = run(pytester, "--dashpacks-report", "blocker/report.json", "--dashpacks-html", "blocker/report.html",
                 "--dashpacks-history", "blocker/history.jsonl")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the failing item, not an internal error
    result.stdout.fnmatch_lines([
        "dashpacks warning: report not written (*): blocker/report.json",
        "dashpacks warning: html not written (*): blocker/report.html",
        "dashpacks warning: history not written (*): blocker/history.jsonl",
    ])
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_history_line_whose_connector_lacks_counts_does_not_crash_the_trend():
    from pytest_dashpacks.report.stability import StabilityReport

    report = StabilityReport(history=[{"complete": True, "connectors": {"stripe": {}}}])
    assert report.trends() == {"stripe": [0]}
