"""The stability report: per connector, outcomes by defect class, pinned regressions,
open ledger defects ranked, trends over past runs and repeat offenders.

It is assembled from test reports only (their ``user_properties``), so under
xdist the controller builds the same report a serial run builds.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"
CLASSES = ("schema_drift", "timezone", "volume", "rendering", "narrative", "config")
SEVERITY = {"low": 1, "medium": 2, "high": 3, "critical": 5}
TREND_RUNS = 5


@dataclass
class Outcome:
    nodeid: str
    outcome: str  # passed, failed, skipped, xfailed, xpassed
    connector: str
    pack: str
    check: str
    defect_class: str
    message: str
    regression: str = ""  # the pinned defect id, for regression cases and marked tests


@dataclass
class StabilityReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier runs, oldest first

    def add(self, report: Any) -> None:
        """Record one test report (a pytest TestReport, on the controller under xdist)."""
        props = dict(report.user_properties)
        if "check" not in props and "regression" not in props:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = _outcome(report)
        elif report.when == "teardown" and report.failed:
            outcome = "failed"
        else:
            return
        message = str(props.get("message", ""))
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        previous = self.outcomes.get(report.nodeid)
        if previous is not None and previous.outcome == "failed":
            return  # a teardown never turns a failure into a pass
        self.outcomes[report.nodeid] = Outcome(
            report.nodeid, outcome, str(props.get("connector", "")), str(props.get("pack", "")),
            str(props.get("check", "regression")), str(props.get("defect_class", "config")), message,
            str(props.get("regression", "")),
        )

    # --- aggregates ------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        out = {k: 0 for k in ("passed", "failed", "skipped", "xfailed", "xpassed")}
        for item in self.outcomes.values():
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out

    def connectors(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in sorted(self.outcomes.values(), key=lambda o: o.nodeid):
            name = item.connector or _ledger_connector(self.ledger, item.regression) or "(none)"
            entry = out.setdefault(name, {"classes": {}, "pinned": {"passing": 0, "failing": 0}})
            counts = entry["classes"].setdefault(item.defect_class, {"passed": 0, "failed": 0})
            if item.outcome in ("passed", "xfailed"):
                counts["passed"] += 1
            elif item.outcome in ("failed", "xpassed"):
                counts["failed"] += 1
            if item.regression:
                entry["pinned"]["passing" if item.outcome == "passed" else "failing"] += 1
        return dict(sorted(out.items()))

    def failures(self) -> list[dict[str, str]]:
        return [
            {"nodeid": o.nodeid, "connector": o.connector, "pack": o.pack, "check": o.check, "class": o.defect_class, "message": o.message}
            for o in sorted(self.outcomes.values(), key=lambda o: o.nodeid) if o.outcome == "failed"
        ]

    def regressions(self) -> list[dict[str, str]]:
        return [
            {"id": o.regression, "nodeid": o.nodeid, "class": o.defect_class, "connector": o.connector or _ledger_connector(self.ledger, o.regression),
             "outcome": o.outcome}
            for o in sorted(self.outcomes.values(), key=lambda o: o.nodeid) if o.regression
        ]

    def failed_ids(self) -> list[str]:
        return sorted(o.nodeid for o in self.outcomes.values() if o.outcome == "failed")

    def recurrence(self, defect: dict[str, Any]) -> int:
        """In how many of the last five runs (this one included) an item of the defect's pack (or connector)
        and class failed; at least 1, so a defect nothing tests yet still ranks by severity x reports."""
        runs = [run.get("failures", []) for run in self.history[-(TREND_RUNS - 1):]] + [self.failures()]
        count = 0
        for failures in runs:
            for failure in failures:
                same_place = failure.get("pack") == defect.get("pack") if defect.get("pack") else failure.get("connector") == defect.get("connector")
                if same_place and failure.get("class") == defect.get("class"):
                    count += 1
                    break
        return max(1, count)

    def ranked_ledger(self) -> list[dict[str, Any]]:
        ranked = []
        for defect in self.ledger:
            entry = {k: v for k, v in defect.items() if not k.startswith("_")}
            if defect.get("status") == "open":
                entry["recurrence"] = self.recurrence(defect)
                entry["score"] = SEVERITY.get(defect.get("severity", "medium"), 2) * int(defect.get("reports", 0) or 0) * entry["recurrence"]
            ranked.append(entry)
        return sorted(ranked, key=lambda d: (d.get("status") != "open", -d.get("score", 0), d.get("id", "")))

    def repeat_offenders(self) -> list[dict[str, Any]]:
        """Items failing in two or more of the last five runs (this one included)."""
        runs = [set(run.get("failed", [])) for run in self.history[-(TREND_RUNS - 1):]] + [set(self.failed_ids())]
        counts: dict[str, int] = {}
        for failed in runs:
            for nodeid in failed:
                counts[nodeid] = counts.get(nodeid, 0) + 1
        return [{"nodeid": n, "failed_runs": c, "of_runs": len(runs)} for n, c in sorted(counts.items()) if c >= 2]

    def trends(self) -> dict[str, list[int]]:
        """Failed items per connector over the last runs, oldest first, this run last."""
        runs = self.history[-(TREND_RUNS - 1):] + [self.history_line()]
        names = sorted({c for run in runs for c in run.get("connectors", {})})
        return {name: [run.get("connectors", {}).get(name, {}).get("failed", 0) for run in runs] for name in names}

    def open_defects_over_time(self) -> list[int]:
        runs = self.history[-(TREND_RUNS * 4 - 1):] + [self.history_line()]
        return [run.get("ledger_open", 0) for run in runs]

    # --- outputs ---------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "totals": self.totals(),
            "connectors": self.connectors(),
            "failures": self.failures(),
            "regressions": self.regressions(),
            "ledger": self.ranked_ledger(),
            "repeat_offenders": self.repeat_offenders() if self.history else [],
            "trends": self.trends() if self.history else {},
        }

    def history_line(self) -> dict[str, Any]:
        connectors = {
            name: {"passed": sum(c["passed"] for c in entry["classes"].values()), "failed": sum(c["failed"] for c in entry["classes"].values())}
            for name, entry in self.connectors().items()
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "totals": self.totals(),
            "connectors": connectors,
            "failed": self.failed_ids(),
            "failures": [{k: f[k] for k in ("nodeid", "connector", "pack", "class")} for f in self.failures()],
            "ledger_open": sum(1 for d in self.ledger if d.get("status") == "open"),
        }

    def terminal_lines(self) -> list[str]:
        lines = []
        connectors = self.connectors()
        if not connectors:
            return ["no dashpacks items ran"]
        width = max(len("connector"), *(len(c) for c in connectors)) + 2
        for name, entry in connectors.items():
            parts = [f"{cls} {c['passed']}/{c['failed']}" for cls, c in sorted(entry["classes"].items(), key=lambda kv: CLASSES.index(kv[0]) if kv[0] in CLASSES else 99)]
            pinned = entry["pinned"]
            pins = f"  pinned {pinned['passing'] + pinned['failing']}" + (f" ({pinned['failing']} failing)" if pinned["failing"] else "")
            lines.append(f"{name:<{width}}{'  '.join(parts)}{pins}")
        lines.insert(0, f"{'connector':<{width}}defect class passed/failed")
        open_defects = [d for d in self.ranked_ledger() if d.get("status") == "open"]
        if open_defects:
            lines.append("open ledger defects, ranked by severity x reports x recurrence:")
            for d in open_defects:
                lines.append(
                    f"  {d['id']:<10} score {d['score']:>4}  {d.get('severity', 'medium'):<8} reports {d.get('reports', 0):>3}  "
                    f"recurrence {d['recurrence']}  {d.get('connector', '')}: {d.get('title', '')}"
                )
        if self.history:
            lines.append(f"trend, failed items over the last {len(self.history[-(TREND_RUNS - 1):]) + 1} runs (oldest first):")
            for name, series in self.trends().items():
                arrow = "improving" if series[-1] < series[0] else ("worse" if series[-1] > series[0] else "steady")
                lines.append(f"  {name:<{width}}{' -> '.join(map(str, series))}  ({arrow})")
            offenders = self.repeat_offenders()
            lines.append(f"repeat offenders (failing in 2 or more of the last {TREND_RUNS} runs): {len(offenders)}")
            lines.extend(f"  {o['nodeid']}  ({o['failed_runs']} of {o['of_runs']})" for o in offenders[:20])
        return lines

    def html_page(self) -> str:
        """One self-contained page: the same tables, a trend chart per connector, a burn-down of open defects."""
        esc = html.escape
        rows = []
        for name, entry in self.connectors().items():
            cells = "".join(
                f"<td>{entry['classes'].get(cls, {}).get('passed', 0)}</td><td class='{'bad' if entry['classes'].get(cls, {}).get('failed', 0) else ''}'>"
                f"{entry['classes'].get(cls, {}).get('failed', 0)}</td>"
                for cls in CLASSES
            )
            pinned = entry["pinned"]
            rows.append(f"<tr><th>{esc(name)}</th>{cells}<td>{pinned['passing']}</td><td>{pinned['failing']}</td></tr>")
        head = "".join(f"<th colspan='2'>{c}</th>" for c in CLASSES)
        sub = "<th>passed</th><th>failed</th>" * len(CLASSES)
        ledger_rows = "".join(
            f"<tr><td>{esc(d['id'])}</td><td>{esc(d.get('status', ''))}</td><td>{esc(d.get('severity', ''))}</td>"
            f"<td>{d.get('reports', 0)}</td><td>{d.get('recurrence', '')}</td><td>{d.get('score', '')}</td>"
            f"<td>{esc(d.get('connector', ''))}</td><td>{esc(d.get('title', ''))}</td></tr>"
            for d in self.ranked_ledger()
        )
        failures = "".join(
            f"<tr><td>{esc(f['connector'])}</td><td>{esc(f['class'])}</td><td><code>{esc(f['nodeid'])}</code></td><td>{esc(f['message'])}</td></tr>"
            for f in self.failures()
        )
        charts = "".join(
            f"<figure><figcaption>{esc(name)}: failed items per run</figcaption>{line_chart(series, name)}</figure>"
            for name, series in self.trends().items()
        )
        burn = line_chart(self.open_defects_over_time(), "open ledger defects")
        totals = self.totals()
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dashpacks stability</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:right}} th:first-child,td:nth-child(3) code{{text-align:left}}
td.bad{{background:#fdd;font-weight:bold}} #failures td,#ledger td{{text-align:left}} figure{{display:inline-block;margin:0 1em 1em 0}} code{{font-size:12px}}
</style></head><body>
<h1>dashpacks stability</h1>
<p id="totals">{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped, {totals['xfailed']} xfailed, {totals['xpassed']} xpassed</p>
<h2>Per connector</h2>
<table id="connectors"><tr><th rowspan="2">connector</th>{head}<th colspan="2">pinned</th></tr><tr>{sub}<th>passing</th><th>failing</th></tr>{''.join(rows)}</table>
<h2>Trends</h2>{charts or '<p>No history yet: run with --dashpacks-history to record trends.</p>'}
<h2>Defect ledger</h2>
<table id="ledger"><tr><th>id</th><th>status</th><th>severity</th><th>reports</th><th>recurrence</th><th>score</th><th>connector</th><th>title</th></tr>{ledger_rows}</table>
<figure><figcaption>open ledger defects per run (burn-down)</figcaption>{burn}</figure>
<h2>Failures</h2>
<table id="failures"><tr><th>connector</th><th>class</th><th>item</th><th>message</th></tr>{failures}</table>
</body></html>
"""


def line_chart(series: list[int], label: str, width: int = 320, height: int = 120) -> str:
    """An inline SVG line chart of a small series of counts."""
    if not series:
        series = [0]
    top = max(max(series), 1)
    step = (width - 40) / max(len(series) - 1, 1)
    points = [(30 + i * step, height - 20 - (value / top) * (height - 40)) for i, value in enumerate(series)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3'><title>{v}</title></circle>" for (x, y), v in zip(points, series))
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' aria-label='{html.escape(label)}'>"
        f"<line x1='30' y1='{height - 20}' x2='{width - 10}' y2='{height - 20}' stroke='#999'/>"
        f"<line x1='30' y1='10' x2='30' y2='{height - 20}' stroke='#999'/>"
        f"<text x='2' y='20' font-size='10'>{top}</text><text x='2' y='{height - 20}' font-size='10'>0</text>"
        f"<polyline fill='none' stroke='#c33' stroke-width='2' points='{path}'/>{dots}</svg>"
    )


def _outcome(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return "xpassed" if report.passed else "xfailed"
    return report.outcome


def _ledger_connector(ledger: list[dict[str, Any]], defect_id: str) -> str:
    return next((str(d.get("connector", "")) for d in ledger if d.get("id") == defect_id), "") if defect_id else ""


def read_history(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.is_file():
        return []
    runs = []
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn line from an interrupted run is skipped, not fatal
    return runs


def append_history(path: Path, line: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
