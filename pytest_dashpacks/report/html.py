"""The stability report as one self-contained HTML page (``--dashpacks-html``).

Everything is inline (CSS in the head, charts as SVG, no scripts, nothing from
the network), so the file opens the same when attached to a CI run or mailed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .stability import CLASSES

if TYPE_CHECKING:
    from .stability import StabilityReport
from .charts import line_chart
from .derived import blocked_items, display_time, esc, located, pin_state, run_fact, run_times


def html_page(report: StabilityReport) -> str:
    """The whole page: header with run facts, summary, per-connector table, trends, failures, pins, ledger."""
    current = report.history_line()
    data = report.as_json()
    blocked = blocked_items(report)
    failures = report.failures()
    regressions = report.regressions()
    ledger = report.ranked_ledger()
    caused = {f["nodeid"] for f in failures}
    orphans = {cause: items for cause, items in blocked.items() if cause not in caused}
    sections = [
        summary_section(report, blocked, regressions, ledger),
        connectors_section(report.connectors()),
        trends_section(report),
        failures_section(failures, blocked, orphans),
        regressions_section(regressions),
        ledger_section(report, ledger, regressions, current),
    ]
    if report.history:
        sections.append(offenders_section(report.repeat_offenders()))
    return PAGE.format(
        style=STYLE,
        time=esc(display_time(run_fact("time", data, current))),
        commit=commit_html(run_fact("commit", data, current)),
        version=esc(run_fact("version", data, current)),
        body="\n".join(sections),
    )


# --- sections --------------------------------------------------------------------


def summary_section(report: StabilityReport, blocked: dict[str, list[str]], regressions: list[dict[str, Any]],
                    ledger: list[dict[str, Any]]) -> str:
    totals = report.totals()
    n_blocked = sum(len(items) for items in blocked.values())
    pins_failing = sum(1 for r in regressions if r["outcome"] in ("failed", "xpassed"))
    open_defects = sum(1 for d in ledger if d.get("status") == "open")
    tiles = [
        ("failed", totals["failed"], "root-cause failures", "bad" if totals["failed"] else "good"),
        ("blocked", n_blocked, "blocked by a failure", "warn" if n_blocked else ""),
        ("passed", totals["passed"], "passed", "good" if totals["passed"] else ""),
        ("pins", f"{len(regressions) - pins_failing}/{len(regressions)}", "pinned regressions passing",
         "bad" if pins_failing else ("good" if regressions else "")),
        ("open", open_defects, "open ledger defects", "warn" if open_defects else ""),
    ]
    cells = "".join(
        f"<div class='tile {tone}' id='tile-{key}'><b>{esc(value)}</b><span>{esc(label)}</span></div>"
        for key, value, label, tone in tiles
    )
    other_skips = totals["skipped"] - n_blocked
    line = (f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped"
            f" ({n_blocked} blocked, {other_skips} other), {totals['xfailed']} xfailed, {totals['xpassed']} xpassed")
    return f"<section class='tiles'>{cells}</section>\n<p id='totals'>{esc(line)}</p>"


def connectors_section(connectors: dict[str, Any]) -> str:
    if not connectors:
        return "<h2>Per connector</h2><p class='empty'>No dashpacks items ran.</p>"
    head = "".join(f"<th colspan='2' scope='colgroup'>{c.replace('_', ' ')}</th>" for c in CLASSES)
    sub = "<th>passed</th><th>failed</th>" * len(CLASSES)
    rows = []
    for name, entry in connectors.items():
        cells = []
        for cls in CLASSES:
            counts = entry["classes"].get(cls, {})
            passed, failed = counts.get("passed", 0), counts.get("failed", 0)
            cells.append(f"<td class='{'' if passed else 'zero'}'>{passed}</td><td class='{'bad' if failed else 'zero'}'>{failed}</td>")
        pinned = entry["pinned"]
        cells.append(f"<td class='{'' if pinned['passing'] else 'zero'}'>{pinned['passing']}</td>"
                     f"<td class='{'bad' if pinned['failing'] else 'zero'}'>{pinned['failing']}</td>")
        rows.append(f"<tr><th scope='row'>{esc(name)}</th>{''.join(cells)}</tr>")
    return (
        "<h2>Per connector</h2><p class='note'>Items passed and failed by defect class; a blocked item counts in neither.</p>"
        "<div class='scroll'><table id='connectors' class='numbers'>"
        f"<thead><tr><th rowspan='2' scope='col'>connector</th>{head}<th colspan='2' scope='colgroup'>pinned</th></tr>"
        f"<tr>{sub}<th>passing</th><th>failing</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def trends_section(report: StabilityReport) -> str:
    if not report.history:
        return ("<h2>Trends</h2><p class='empty'>No history yet: run with <code>--dashpacks-history PATH</code> "
                "to record each run and chart failures over time.</p>")
    trends, times = report.trends(), report.trend_times()
    if not trends:
        return ("<h2>Trends</h2><p class='empty'>No complete run recorded yet: a narrowed run (<code>-k</code>, "
                "<code>-m</code>, a sub-path) is kept for repeat offenders but not charted.</p>")
    figures = "".join(
        f"<figure class='chart'><figcaption><b>{esc(name)}</b> failed items per run</figcaption>"
        f"{line_chart(series, times.get(name, []), f'{name}: failed items per run', 'fail')}</figure>"
        for name, series in trends.items()
    )
    return f"<h2>Trends</h2><div class='charts'>{figures}</div>"


def failures_section(failures: list[dict[str, Any]], blocked: dict[str, list[str]], orphans: dict[str, list[str]]) -> str:
    if not failures:
        body = "<p class='empty good-text'>No failures.</p>"
    else:
        rows = "".join(failure_row(f, blocked.get(f["nodeid"], [])) for f in failures)
        body = (
            "<table id='failures' class='text'><colgroup><col class='c-class'><col class='c-connector'><col class='c-item'>"
            "<col></colgroup><thead><tr><th>class</th><th>connector</th><th>item and location</th><th>what failed</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    if orphans:
        groups = "".join(
            f"<li><code>{esc(cause)}</code>{blocked_list(items)}</li>" for cause, items in orphans.items()
        )
        body += f"<h3>Blocked by items that did not fail in this run</h3><ul class='orphans'>{groups}</ul>"
    return f"<h2>Failures <span class='count'>{len(failures)}</span></h2>{body}"


def failure_row(failure: dict[str, Any], blocked: list[str]) -> str:
    where, message = located(failure)
    extra = failure.get("blocked") or failure.get("blocks") or []
    blocked = sorted({*blocked, *(str(b.get("nodeid", b)) if isinstance(b, dict) else str(b) for b in extra)})
    parts = [f"<p class='msg'>{esc(message or 'failed')}</p>"]
    if failure.get("hint"):
        parts.append(f"<p class='hint'><b>hint</b> {esc(failure['hint'])}</p>")
    if failure.get("blocked_by"):
        parts.append(f"<p class='hint'><b>blocked by</b> <code>{esc(failure['blocked_by'])}</code></p>")
    nodeid = str(failure["nodeid"])
    path, _, name = nodeid.partition("::")
    if blocked:
        parts.append(blocked_list(blocked, path))
    if where and where.startswith(f"{path}:"):
        item = f"<code class='node' title='{esc(nodeid)}'>{esc(name)}</code><div class='loc'><code>{esc(where)}</code></div>"
    else:  # the location is in another file (a model, a partial), or unknown
        item = f"<code class='node'>{esc(nodeid)}</code>" + (f"<div class='loc'>at <code>{esc(where)}</code></div>" if where else "")
    cls = str(failure.get("class") or "")
    return (
        f"<tr><td><span class='badge {esc(cls)}'>{esc(cls.replace('_', ' '))}</span></td><td>{esc(failure.get('connector') or '')}</td>"
        f"<td>{item}</td><td>{''.join(parts)}</td></tr>"
    )


def blocked_list(items: list[str], path: str = "") -> str:
    """The items a failure blocks, collapsed; those in the failure's own file are named without the path."""
    noun = "item" if len(items) == 1 else "items"
    lines = "".join(
        f"<li><code title='{esc(item)}'>{esc(item[len(path) + 2:])}</code></li>" if path and item.startswith(f"{path}::")
        else f"<li><code>{esc(item)}</code></li>"
        for item in items
    )
    return f"<details class='blocked'><summary>blocks {len(items)} {noun}</summary><ul>{lines}</ul></details>"


def regressions_section(regressions: list[dict[str, Any]]) -> str:
    if not regressions:
        return ("<h2>Pinned regressions</h2><p class='empty'>No pinned regressions: a fixed defect is pinned by "
                "<code>regressions/&lt;ID&gt;.yml</code> or <code>@pytest.mark.dashpacks_pin</code>.</p>")
    rows = "".join(
        f"<tr class='{'pin-failing' if r['outcome'] in ('failed', 'xpassed') else ''}'><td>{esc(r['id'])}</td>"
        f"<td><span class='badge {esc(r['outcome'])}'>{esc(r['outcome'])}</span></td><td>{esc(r['class'])}</td>"
        f"<td>{esc(r.get('connector') or '')}</td><td><code class='node'>{esc(r['nodeid'])}</code></td></tr>"
        for r in regressions
    )
    return (
        f"<h2>Pinned regressions <span class='count'>{len(regressions)}</span></h2><table id='regressions' class='text'>"
        "<colgroup><col class='c-id'><col class='c-class'><col class='c-class'><col class='c-connector'><col></colgroup>"
        f"<thead><tr><th>defect</th><th>outcome</th><th>class</th><th>connector</th><th>pin</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def ledger_section(report: StabilityReport, ledger: list[dict[str, Any]], regressions: list[dict[str, Any]],
                   current: dict[str, Any]) -> str:
    if not ledger:
        return ("<h2>Defect ledger</h2><p class='empty'>No defect ledger: list reported defects in "
                "<code>defects.yml</code> (ini <code>dashpacks_ledger</code>).</p>")
    rows, flagged = [], 0
    for d in ledger:
        state = pin_state(d, regressions, report)
        failing = state in ("failing", "missing")
        flagged += failing
        pin = {"failing": "pin failing", "missing": "no passing pin", "passing": "pin passing"}.get(state, "")
        pin_cell = f"<span class='badge {'failed' if failing else 'passed'}'>{pin}</span>" if pin else ""
        status = str(d.get("status", ""))
        rows.append(
            f"<tr class='{'pin-failing' if failing else ''}'><td>{esc(d.get('id', ''))}</td>"
            f"<td><span class='badge {esc(status)}'>{esc(status)}</span></td><td>{pin_cell}</td>"
            f"<td>{esc(d.get('severity', ''))}</td><td class='num'>{esc(d.get('reports', 0))}</td>"
            f"<td class='num'>{esc(d.get('recurrence', ''))}</td><td class='num'>{esc(d.get('score', ''))}</td>"
            f"<td>{esc(d.get('connector', ''))}</td><td>{esc(d.get('title', ''))}</td></tr>"
        )
    chart = ""
    if report.history:
        burn = report.open_defects_over_time()
        chart = (
            "<div class='charts'><figure class='chart burn'><figcaption><b>open ledger defects</b> per run (burn-down)</figcaption>"
            f"{line_chart(burn, run_times(report, len(burn), current), 'open ledger defects per run', 'open')}</figure></div>"
        )
    warning = (f"<p class='alert'>{flagged} fixed defect{'s' if flagged != 1 else ''} without a passing pin: "
               "the fix may have regressed.</p>") if flagged else ""
    return (
        f"<h2>Defect ledger <span class='count'>{len(ledger)}</span></h2>{warning}<p class='note'>Open defects ranked by "
        f"severity × reports × recurrence; a fixed defect needs a passing pin.</p>{chart}"
        "<table id='ledger' class='text'><colgroup><col class='c-id'><col class='c-status'><col class='c-pin'><col class='c-status'>"
        "<col class='c-n'><col class='c-n'><col class='c-n'><col class='c-connector'><col></colgroup>"
        "<thead><tr><th>id</th><th>status</th><th>pin</th><th>severity</th><th class='num'>reports</th>"
        "<th class='num'>recurrence</th><th class='num'>score</th>"
        f"<th>connector</th><th>title</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def offenders_section(offenders: list[dict[str, Any]]) -> str:
    if not offenders:
        return "<h2>Repeat offenders</h2><p class='empty good-text'>No item failed in two or more of the last runs.</p>"
    rows = "".join(
        f"<tr><td><code class='node'>{esc(o['nodeid'])}</code></td><td class='num'>{o['failed_runs']} of {o['of_runs']}</td></tr>"
        for o in offenders
    )
    return (
        f"<h2>Repeat offenders <span class='count'>{len(offenders)}</span></h2><p class='note'>Items failing in two or "
        "more of the last runs.</p><table id='offenders' class='text'><colgroup><col><col class='c-runs'></colgroup>"
        f"<thead><tr><th>item</th><th class='num'>failed in</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def commit_html(commit: str) -> str:
    if re.fullmatch(r"[0-9a-f]{13,40}", commit):
        return f"<code title='{esc(commit)}'>{esc(commit[:12])}</code>"
    return f"<code>{esc(commit)}</code>"



# --- page --------------------------------------------------------------------------

STYLE = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--bad:#c62828;--bad-bg:#fdecea;--good:#2e7d32;
--good-bg:#e8f5e9;--warn:#b26a00;--warn-bg:#fff4e0;--open:#1d4ed8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:0;color:var(--ink);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:24px 32px 48px;background:#fff;min-height:100vh}
header{border-bottom:1px solid var(--line);padding-bottom:12px;margin-bottom:16px}
h1{font-size:24px;margin:0 0 6px}
h2{font-size:18px;margin:32px 0 8px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:20px 0 6px}
.count{display:inline-block;min-width:1.6em;padding:0 .45em;border-radius:1em;background:var(--line);font-size:13px;
text-align:center;vertical-align:2px}
dl.meta{display:flex;flex-wrap:wrap;gap:4px 28px;margin:0;color:var(--muted)}
dl.meta div{display:flex;gap:6px} dl.meta dt{font-weight:600} dl.meta dd{margin:0;color:var(--ink)}
code{font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;overflow-wrap:anywhere}
.tiles{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin:8px 0}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 14px;display:flex;flex-direction:column}
.tile b{font-size:26px;line-height:1.2} .tile span{color:var(--muted);font-size:13px}
.tile.bad{background:var(--bad-bg);border-color:#f5c2c0} .tile.bad b{color:var(--bad)}
.tile.good{background:var(--good-bg);border-color:#c8e6c9} .tile.good b{color:var(--good)}
.tile.warn{background:var(--warn-bg);border-color:#ffe0b2} .tile.warn b{color:var(--warn)}
#totals,.note,.empty{color:var(--muted);margin:4px 0 8px} .good-text{color:var(--good)}
.alert{background:var(--bad-bg);color:var(--bad);border-left:4px solid var(--bad);padding:6px 10px;font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;vertical-align:top}
thead th{background:var(--bg);font-weight:600;font-size:13px;text-align:left;border-bottom:2px solid var(--line)}
table.numbers{width:auto;min-width:100%} table.numbers td,table.numbers thead th{text-align:right}
table.numbers thead th[colspan]{text-align:center} table.numbers th[scope=row],table.numbers th[rowspan]{text-align:left}
table.numbers td{font-variant-numeric:tabular-nums} table.numbers td:nth-of-type(2n+1){border-left:1px solid var(--line)}
td.zero{color:#9aa5b1} td.bad{background:var(--bad-bg);color:var(--bad);font-weight:700}
table.text{table-layout:fixed} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
col.c-class{width:118px} col.c-connector{width:104px} col.c-item{width:36%} col.c-id{width:92px} col.c-status{width:84px}
col.c-pin{width:132px} col.c-n{width:96px} col.c-runs{width:110px}
tr.pin-failing td{background:var(--bad-bg)} tr.pin-failing td:first-child{box-shadow:inset 4px 0 var(--bad);font-weight:700}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:var(--line);white-space:nowrap}
.badge.failed{background:var(--bad);color:#fff} .badge.passed,.badge.fixed{background:var(--good-bg);color:var(--good)}
.badge.open{background:var(--warn-bg);color:var(--warn)} .badge.schema_drift{background:#ede7f6;color:#5e35b1}
.badge.timezone{background:#e3f2fd;color:#1565c0} .badge.volume{background:#fff3e0;color:#bf5f00}
.badge.rendering{background:#fce4ec;color:#ad1457} .badge.narrative{background:#e0f2f1;color:#00695c}
.badge.config{background:#eceff1;color:#455a64}
.loc{margin-top:2px;color:var(--muted)} .loc code{color:var(--muted)}
code.node{font-weight:600}
.msg{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}
.hint{margin:4px 0 0;color:var(--muted);white-space:pre-wrap;overflow-wrap:anywhere}
.hint b{color:var(--ink);font-weight:600;margin-right:4px}
details.blocked{margin-top:4px} details.blocked summary{cursor:pointer;color:var(--warn);font-size:13px}
details.blocked ul,ul.orphans{margin:4px 0;padding-left:20px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:16px;margin:8px 0}
figure.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px 10px 4px}
figure.chart figcaption{color:var(--muted);font-size:13px;margin-bottom:2px} figure.chart figcaption b{color:var(--ink)}
figure.chart svg{display:block;width:100%;height:auto}
svg .grid{stroke:#e4e9f0;stroke-width:1} svg .axis{stroke:#7b8794;stroke-width:1}
svg text{font:11px system-ui,"Liberation Sans",sans-serif;fill:var(--muted)} svg text.value{fill:var(--ink);font-weight:600}
svg .line{fill:none;stroke-width:2.5;stroke-linejoin:round} svg .area{stroke:none;opacity:.10}
svg .fail{stroke:var(--bad);fill:var(--bad)} svg .line.fail{fill:none} svg .open{stroke:var(--open);fill:var(--open)}
svg .line.open{fill:none} svg .dot{stroke:#fff;stroke-width:1.5}
footer{margin-top:32px;color:var(--muted);font-size:12px}
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>dashpacks stability</title>
<style>{style}</style></head><body><main>
<header><h1>dashpacks stability</h1>
<dl class="meta"><div><dt>run</dt><dd id="run-time">{time}</dd></div><div><dt>commit</dt><dd id="run-commit">{commit}</dd></div>
<div><dt>pytest-dashpacks</dt><dd id="run-version">{version}</dd></div></dl></header>
{body}
<footer>Written by pytest-dashpacks (<code>--dashpacks-html</code>). One defect is one failure: items a failure blocks are listed under it, not counted as failures.</footer>
</main></body></html>
"""
