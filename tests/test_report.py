"""The stability report: terminal section, JSON (validated), history trends, HTML, xdist."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from importlib import resources

import jsonschema
import pytest

from conftest import GOOD_BOARD, good_pack

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
        "zendesk    schema_drift 6/2  rendering 3/1  config 4/0  pinned 0",
    ])
    report = json.loads((pytester.path / "out/report.json").read_text())
    jsonschema.validate(report, schema())
    assert report["totals"] == {"passed": 13, "failed": 3, "skipped": 0, "xfailed": 0, "xpassed": 0}
    assert report["connectors"]["zendesk"]["classes"]["schema_drift"] == {"passed": 6, "failed": 2}
    assert {f["check"] for f in report["failures"]} == {"schema[zendesk@2025-03]", "bindings", "execute[zendesk@2025-03]"}
    failure = next(f for f in report["failures"] if f["check"] == "bindings")
    assert failure["pack"] == "demo" and failure["class"] == "rendering" and "priority" in failure["message"]


def test_history_trend_and_repeat_offenders(packs, pytester):
    packs({**good_pack("demo", board=BROKEN)})
    for _ in range(2):
        run(pytester, "--dashpacks-history", "history.jsonl")
    (pytester.path / "packs/demo/boards/support.yml").write_text(GOOD_BOARD)
    result = run(pytester, "--dashpacks-history", "history.jsonl", "--dashpacks-report", "report.json")
    lines = (pytester.path / "history.jsonl").read_text().splitlines()
    assert len(lines) == 3 and [json.loads(line)["totals"]["failed"] for line in lines] == [3, 3, 0]
    result.stdout.fnmatch_lines([
        "trend, failed items over the last 3 runs (oldest first):",
        "  zendesk    3 -> 3 -> 0  (improving)",
        "repeat offenders (failing in 2 or more of the last 5 runs): 3",
        "  packs/demo/boards/support.yml::by_priority::bindings  (2 of 3)",
    ])
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, schema())
    assert report["trends"] == {"zendesk": [3, 3, 0]}
    assert len(report["repeat_offenders"]) == 3


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
    run(pytester, "--dashpacks-history", "h.jsonl")
    run(pytester, "--dashpacks-history", "h.jsonl", "--dashpacks-html", "report.html", "--dashpacks-report", "report.json")
    page = (pytester.path / "report.html").read_text()
    parser = _Tables()
    parser.feed(page)
    report = json.loads((pytester.path / "report.json").read_text())
    zendesk = next(row for row in parser.tables["connectors"] if row and row[0] == "zendesk")
    # columns: connector, then passed/failed for schema_drift, timezone, volume, rendering, narrative, config, then pinned
    assert zendesk[1:3] == [str(report["connectors"]["zendesk"]["classes"]["schema_drift"]["passed"]), "2"]
    assert zendesk[7:9] == ["1", "1"]  # rendering: 1 passed, 1 failed
    assert [row[0] for row in parser.tables["ledger"][1:]] == ["DEF-8", "DEF-9"]
    assert len(parser.tables["failures"]) - 1 == report["totals"]["failed"] == 3
    assert parser.svgs == 2  # one trend chart (zendesk) and the burn-down of open defects
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained


def test_xdist_controller_builds_the_serial_report(packs, pytester):
    packs({**good_pack("demo", board=BROKEN), **good_pack("other")})
    run(pytester, "--dashpacks-report", "serial.json", subprocess_run=True)
    run(pytester, "--dashpacks-report", "parallel.json", "-n", "2", subprocess_run=True)
    serial = json.loads((pytester.path / "serial.json").read_text())
    parallel = json.loads((pytester.path / "parallel.json").read_text())
    assert serial == parallel and serial["totals"]["failed"] == 3


def test_html_renders_in_headless_chromium(packs, pytester, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium binary on this machine")
    packs({**good_pack("demo", board=BROKEN), "defects.yml": LEDGER})
    run(pytester, "--dashpacks-html", "report.html")
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,900",
         (pytester.path / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.stat().st_size > 10_000
