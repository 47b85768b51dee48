"""The HTML stability report (``--dashpacks-html``): what its data says, then what a person sees in Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import GOOD_BOARD, good_pack
from pytest_dashpacks.report.html import html_page
from pytest_dashpacks.report.charts import x_label_indices, y_ticks
from pytest_dashpacks.report.stability import Outcome, StabilityReport

BROKEN = GOOD_BOARD.replace("SELECT priority,", "SELECT priorty,")
SCHEMA = "b/support.yml::by_priority::schema[zendesk@2025-03]"


def outcome(nodeid: str, result: str, message: str = "", check: str = "", defect_class: str = "schema_drift",
            regression: str = "") -> Outcome:
    return Outcome(nodeid=nodeid, outcome=result, connector="zendesk", pack="demo", check=check or nodeid.rsplit("::", 1)[-1],
                   defect_class=defect_class, message=message, regression=regression)


def small_report(**run: Any) -> StabilityReport:
    report = StabilityReport()
    report.run = {"complete": True, **run}
    for item in (
        outcome(SCHEMA, "failed", "b/support.yml:14: schema[zendesk@2025-03]: column ticket.priorty does not exist"),
        outcome("b/support.yml::by_priority::execute[zendesk@2025-03]", "skipped", f"Skipped: blocked by {SCHEMA}: column ticket.priorty"),
        outcome("b/support.yml::by_priority::volume[empty]", "skipped", f"Skipped: blocked by {SCHEMA}: column ticket.priorty"),
        outcome("b/support.yml::daily::syntax", "passed"),
        outcome("p/regressions/DEF-9.yml::DEF-9", "failed", "p/regressions/DEF-9.yml:12: regression: 2 rows, expected 1", "regression",
                "rendering", regression="DEF-9"),
    ):
        report.outcomes[item.nodeid] = item
    report.ledger = [
        {"id": "DEF-8", "title": "Backlog counts deleted tickets", "connector": "zendesk", "class": "volume", "status": "open",
         "reports": 12, "severity": "critical"},
        {"id": "DEF-9", "title": "Old label", "connector": "zendesk", "class": "rendering", "status": "fixed", "reports": 1, "severity": "low"},
        {"id": "DEF-10", "title": "Fixed and still fixed", "connector": "zendesk", "class": "rendering", "status": "fixed"},
    ]
    report.history = [
        {"time": "2025-03-01T08:00:00+00:00", "complete": True, "connectors": {"zendesk": {"passed": 3, "failed": 4}}, "ledger_open": 3},
        {"time": "2025-03-02T09:30:00+00:00", "complete": True, "connectors": {"zendesk": {"passed": 4, "failed": 3}}, "ledger_open": 2},
    ]
    return report


def text_of(page: str, element_id: str) -> str:
    match = re.search(rf"id=['\"]{element_id}['\"][^>]*>(.*?)</(?:dd|p)>", page, re.S)
    assert match, element_id
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def test_header_gives_run_time_commit_and_version():
    page = html_page(small_report(commit="0123456789abcdef0123456789abcdef01234567", version="1.4.2"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", text_of(page, "run-time"))
    assert text_of(page, "run-commit") == "0123456789ab"
    assert "title='0123456789abcdef0123456789abcdef01234567'" in page
    assert text_of(page, "run-version") == "1.4.2"


def test_header_says_unknown_for_what_the_run_did_not_record():
    page = html_page(small_report())  # a run that recorded neither
    assert text_of(page, "run-commit") == "unknown"
    assert text_of(page, "run-version") == "unknown"


def test_failure_shows_its_location_and_the_items_it_blocks_collapsed():
    page = html_page(small_report())
    row = re.search(r"<tr><td><span class='badge schema_drift'>.*?</tr>", page, re.S).group(0)
    assert "<div class='loc'><code>b/support.yml:14</code></div>" in row
    assert "<p class='msg'>column ticket.priorty does not exist</p>" in row  # location and check are not repeated
    assert "<details class='blocked'><summary>blocks 2 items</summary>" in row
    assert "<code title='b/support.yml::by_priority::volume[empty]'>by_priority::volume[empty]</code>" in row
    assert "2 blocked, 0 other" in text_of(page, "totals")


def test_failure_fields_from_the_record_win_over_the_message():
    class Located(StabilityReport):
        def failures(self) -> list[dict[str, Any]]:
            records = super().failures()
            next(r for r in records if r["nodeid"] == SCHEMA).update(
                file="b/support.yml", line=16, hint="the column is `priority`", blocked=["b/support.yml::by_priority::bindings"])
            return records

    report = Located()
    report.__dict__.update(small_report().__dict__)
    row = re.search(r"<tr><td><span class='badge schema_drift'>.*?</tr>", html_page(report), re.S).group(0)
    assert "<code>b/support.yml:16</code>" in row and "b/support.yml:14" not in row
    assert "<p class='hint'><b>hint</b> the column is `priority`</p>" in row
    assert "<summary>blocks 3 items</summary>" in row


def test_fixed_defect_whose_pin_fails_is_highlighted():
    page = html_page(small_report())
    ledger = page[page.index("id='ledger'"):]
    row = re.search(r"<tr class='pin-failing'><td>DEF-9</td>.*?</tr>", ledger, re.S)
    assert row and "pin failing" in row.group(0)
    assert "<tr class=''><td>DEF-8</td>" in ledger and "<tr class=''><td>DEF-10</td>" in ledger
    assert "1 fixed defect without a passing pin" in page


def test_fixed_defect_without_any_pin_is_highlighted():
    report = small_report()
    report.outcomes["p/pack.yml::ledger[DEF-10]"] = outcome("p/pack.yml::ledger[DEF-10]", "failed", "defects.yml:4: ledger[DEF-10]: no pin",
                                                            defect_class="rendering")
    page = html_page(report)
    row = re.search(r"<tr class='pin-failing'><td>DEF-10</td>.*?</tr>", page[page.index("id='ledger'"):], re.S)
    assert row and "no passing pin" in row.group(0)
    assert "2 fixed defects without a passing pin" in page


def test_charts_have_dated_x_axes_y_ticks_and_values():
    page = html_page(small_report())
    trend = page[page.index("aria-label='zendesk: failed items per run'"):]
    trend = trend[:trend.index("</svg>")]
    assert re.findall(r"class='xtick'[^>]*>([^<]*)<tspan[^>]*>([^<]*)</tspan>", trend)[:2] == [("Mar 1", "08:00"), ("Mar 2", "09:30")]
    assert re.findall(r"class='ytick'[^>]*>(\d+)<", trend) == ["0", "1", "2", "3", "4"]
    assert re.findall(r"class='value'[^>]*>(\d+)<", trend) == ["4", "3", "2"]  # the schema failure and the failing pin
    assert "open ledger defects per run" in page
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_first_run_explains_how_to_get_trends():
    report = small_report()
    report.history = []
    page = html_page(report)
    assert "<svg" not in page and "run with <code>--dashpacks-history PATH</code>" in page


@pytest.mark.parametrize(("highest", "ticks"), [(0, [0, 1]), (1, [0, 1]), (4, [0, 1, 2, 3, 4]), (7, [0, 2, 4, 6, 8]),
                                                (14, [0, 5, 10, 15]), (230, [0, 50, 100, 150, 200, 250])])
def test_y_ticks_are_round(highest, ticks):
    assert y_ticks(highest) == ticks


@pytest.mark.parametrize(("count", "picked"), [(1, [0]), (5, [0, 1, 2, 3, 4]), (20, [0, 4, 8, 12, 16, 19]), (8, [0, 2, 4, 6, 7]), (14, [0, 3, 6, 9, 13])])
def test_x_labels_thin_out_but_keep_first_and_last(count, picked):
    assert x_label_indices(count) == picked


# --- in a browser -----------------------------------------------------------------------

LEDGER = """\
defects:
  - {id: DEF-8, title: Backlog counts deleted tickets, connector: zendesk, class: volume, status: open, reports: 12, severity: critical}
  - {id: DEF-9, title: Priority label stays fixed, connector: zendesk, pack: demo, class: rendering, status: fixed, reports: 3, severity: high}
"""

PIN = """\
import pytest


@pytest.mark.dashpacks_pin("DEF-9", defect_class="rendering", connector="zendesk", pack="demo")
def test_priority_label_stays_fixed():
    assert "Priority" == "priority"
"""

# Measures the page as laid out at the window size and writes the numbers into the DOM for --dump-dom.
PROBE = """<script>
window.addEventListener("load", () => {
  const root = document.documentElement, box = (el) => el ? el.getBoundingClientRect() : {width: 0, height: 0};
  const probe = {
    viewport: root.clientWidth, scrollWidth: root.scrollWidth, text: document.body.innerText,
    beyond: [...document.body.querySelectorAll("*")].filter((el) => box(el).right > root.clientWidth + 0.5)
      .map((el) => `${el.tagName}.${typeof el.className === "string" ? el.className : el.className.baseVal}`).slice(0, 5),
    svgs: [...document.querySelectorAll("svg")].map((svg) => ({
      label: svg.getAttribute("aria-label"), width: box(svg).width, height: box(svg).height,
      line: {width: box(svg.querySelector("polyline")).width, height: box(svg.querySelector("polyline")).height},
      dots: svg.querySelectorAll("circle").length,
      x: [...svg.querySelectorAll("text.xtick")].map((t) => [...t.childNodes].map((n) => n.textContent)),
      y: [...svg.querySelectorAll("text.ytick")].map((t) => t.textContent),
      values: [...svg.querySelectorAll("text.value")].map((t) => t.textContent),
    })),
    ledger: [...document.querySelectorAll("#ledger tbody tr")].map((tr) => ({
      text: tr.innerText, background: getComputedStyle(tr.cells[0]).backgroundColor})),
    blocked: [...document.querySelectorAll("details.blocked")].map((d) => ({open: d.open, height: box(d).height})),
  };
  const out = document.createElement("pre");
  out.id = "dashpacks-probe";
  out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
});
</script>"""


def chromium_binary() -> str:
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI renders the HTML report in Chromium: install Debian's chromium (.ci/run does)")
        pytest.skip("no Chromium binary on this machine (CI installs Debian's chromium)")
    return found


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1280,900", *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def seen_in_chromium(page: Path, tmp_path: Path) -> dict[str, Any]:
    """What Chromium lays out at 1280 px: the probe's measurements of a copy of the page."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text("utf-8").replace("</body>", PROBE + "</body>"), "utf-8")
    proc = chromium(chromium_binary(), tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="dashpacks-probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, proc.stdout[-2000:]
    return json.loads(html.unescape(match.group(1)))


def history_line(time: str, failed: int, ledger_open: int) -> str:
    return json.dumps({"schema_version": "1", "time": time, "commit": "f" * 40, "version": "0.1.0", "complete": True, "narrowed_by": [],
                       "totals": {"passed": 10, "failed": failed, "skipped": 0, "xfailed": 0, "xpassed": 0},
                       "connectors": {"zendesk": {"passed": 10, "failed": failed}}, "failed": [], "failures": [],
                       "ledger_open": ledger_open})


def test_a_person_sees_the_report_in_chromium(packs, pytester, tmp_path):
    binary = chromium_binary()
    packs({**good_pack("demo", board=BROKEN), "defects.yml": LEDGER, "packs/test_pins.py": PIN,
           "h.jsonl": history_line("2025-03-01T08:00:00+00:00", 6, 3) + "\n" + history_line("2025-03-02T09:30:00+00:00", 5, 2) + "\n"})
    pytester.runpytest("--dashpacks", "-p", "no:cacheprovider",  # a complete run (no paths, -k or -m): it is charted "--dashpacks-large-rows", "100",
                       "--dashpacks-history", "h.jsonl", "--dashpacks-html", "report.html", "--dashpacks-report", "report.json")
    report = json.loads((pytester.path / "report.json").read_text())
    seen = seen_in_chromium(pytester.path / "report.html", tmp_path)

    assert seen["viewport"] == 1280 and seen["scrollWidth"] <= seen["viewport"], seen["beyond"]
    assert seen["beyond"] == []  # nothing sticks out to the right, not even inside a scrolling box

    text = seen["text"]
    run_time = re.search(r"^run\s+(\d{4})-(\d\d)-(\d\d) \d\d:\d\d UTC$", text, re.M)
    assert run_time and re.search(r"^commit\s+\S+$", text, re.M) and re.search(r"^pytest-dashpacks\s+\S+$", text, re.M)
    assert f"{report['totals']['failed']}\nroot-cause failures" in text
    schema_failure = next(f for f in report["failures"] if f["check"].startswith("schema["))
    assert "by_priority::schema[zendesk@2025-03]\npacks/demo/boards/support.yml:" in text  # item, then file:line
    assert "priorty" in text
    blocked = re.search(r"blocks (\d+) items?", text)
    assert blocked and seen["blocked"] and not any(d["open"] for d in seen["blocked"])
    hidden = "by_priority::volume[empty]"  # blocked by the schema failure, listed under it but collapsed
    assert hidden not in text and hidden in (pytester.path / "report.html").read_text()
    assert schema_failure["nodeid"] not in text  # shown as item + location, not the raw node id

    trend, burn = (next(s for s in seen["svgs"] if s["label"] == label)
                   for label in ("zendesk: failed items per run", "open ledger defects per run"))
    for chart in (trend, burn):
        assert chart["width"] > 400 and chart["height"] > 120
        assert chart["line"]["width"] > 200 and chart["dots"] == 3
        assert chart["x"][:2] == [["Mar 1", "08:00"], ["Mar 2", "09:30"]]
        months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
        year, month, day = map(int, run_time.groups())
        assert chart["x"][2][0] == f"{months[month - 1]} {day}"
        assert len(chart["y"]) >= 2 and chart["y"][0] == "0"
    zendesk_failed = sum(c["failed"] for c in report["connectors"]["zendesk"]["classes"].values())
    assert trend["values"] == ["6", "5", str(zendesk_failed)]
    assert burn["values"] == ["3", "2", "1"]

    pin, other = (next(row for row in seen["ledger"] if row["text"].startswith(i)) for i in ("DEF-9", "DEF-8"))
    assert "pin failing" in pin["text"] and pin["background"] != other["background"]

    shot = tmp_path / "report.png"
    chromium(binary, tmp_path / "profile", f"--screenshot={shot}", (pytester.path / "report.html").as_uri())
    assert shot.stat().st_size > 20_000
