"""The stability report: per connector, outcomes by defect class, pinned regressions,
open ledger defects ranked, trends over past runs and repeat offenders.

It is assembled from test reports only (their ``user_properties``), so under
xdist the controller builds the same report a serial run builds.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from ..checks.prerequisites import BLOCKED
from .history import utc_now

SCHEMA_VERSION = "1"
CLASSES = ("schema_drift", "timezone", "volume", "rendering", "narrative", "config")
SEVERITY = {"low": 1, "medium": 2, "high": 3, "critical": 5}
TREND_RUNS = 5
WIDTH = 80  # the stability section fits a classic terminal and CI log


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
    file: str = ""  # where the failure points (the YAML file, relative to the rootdir)
    line: int = 0
    hint: str = ""  # the failure's advice line (hint, fix or likely cause), if any

    @property
    def blocked_by(self) -> str:
        """The node id of the root cause a skipped item waited on ('' unless it is blocked)."""
        if self.outcome != "skipped" or not self.message.startswith(BLOCKED):
            return ""
        return self.message[len(BLOCKED):].split(": ", 1)[0]


@dataclass
class StabilityReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier runs, oldest first
    run: dict[str, Any] = field(default_factory=dict)  # this run's facts: time, commit, version, complete, narrowed_by
    history_problems: list[str] = field(default_factory=list)  # torn or corrupt history lines that were skipped

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
            if message.startswith("Skipped: "):
                message = message[len("Skipped: "):]
        previous = self.outcomes.get(report.nodeid)
        if previous is not None and previous.outcome == "failed":
            return  # a teardown never turns a failure into a pass
        self.outcomes[report.nodeid] = Outcome(
            report.nodeid, outcome, str(props.get("connector", "")), str(props.get("pack", "")),
            str(props.get("check", "regression")), str(props.get("defect_class", "config")), message,
            str(props.get("regression", "")), str(props.get("file", "")), int(props.get("line", 0) or 0), str(props.get("hint", "")),
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
            entry = out.setdefault(name, {"classes": {}, "pinned": {"passing": 0, "failing": 0}, "blocked": 0})
            if item.blocked_by:
                entry["blocked"] += 1
            counts = entry["classes"].setdefault(item.defect_class, {"passed": 0, "failed": 0})
            if item.outcome in ("passed", "xfailed"):
                counts["passed"] += 1
            elif item.outcome in ("failed", "xpassed"):
                counts["failed"] += 1
            if item.regression:
                entry["pinned"]["passing" if item.outcome == "passed" else "failing"] += 1
        return dict(sorted(out.items()))

    def failures(self) -> list[dict[str, Any]]:
        """Root causes: failed items, with where they point and the items they block."""
        blocking: dict[str, list[str]] = {}
        for item in self.outcomes.values():
            if item.blocked_by:
                blocking.setdefault(item.blocked_by, []).append(item.nodeid)
        return [
            {"nodeid": o.nodeid, "connector": o.connector, "pack": o.pack, "check": o.check, "class": o.defect_class, "message": o.message,
             "file": o.file, "line": o.line, "hint": o.hint, "blocks": sorted(blocking.get(o.nodeid, []))}
            for o in sorted(self.outcomes.values(), key=lambda o: o.nodeid) if o.outcome == "failed"
        ]

    def blocked(self) -> list[dict[str, str]]:
        """Items skipped behind a failing prerequisite, listed apart from the root causes."""
        return [
            {"nodeid": o.nodeid, "connector": o.connector, "check": o.check, "blocked_by": o.blocked_by, "message": o.message}
            for o in sorted(self.outcomes.values(), key=lambda o: o.nodeid) if o.blocked_by
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

    def trend_runs(self) -> list[dict[str, Any]]:
        """The complete runs trends compare: at most the last five, oldest first, this run last when it is complete."""
        runs = [run for run in self.history if run.get("complete") is True]
        if self.run.get("complete"):
            runs.append(self.history_line())
        return runs[-TREND_RUNS:]

    def trends(self) -> dict[str, list[int]]:
        """Failed items per connector over the complete runs it appears in, oldest first (see ``trend_runs``)."""
        runs = self.trend_runs()
        names = sorted({c for run in runs for c in run["connectors"]})
        return {name: [int(run["connectors"][name].get("failed", 0)) for run in runs if name in run["connectors"]] for name in names}

    def trend_times(self) -> dict[str, list[str | None]]:
        """The ``time`` of each point of ``trends()``, connector by connector."""
        runs = self.trend_runs()
        return {name: [run.get("time") for run in runs if name in run["connectors"]] for name in self.trends()}

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
            "blocked": self.blocked(),
            "regressions": self.regressions(),
            "ledger": self.ranked_ledger(),
            "repeat_offenders": self.repeat_offenders() if self.history else [],
            "trends": self.trends() if self.history else {},
            "run": dict(self.run),
        }

    def history_line(self) -> dict[str, Any]:
        connectors = {
            name: {"passed": sum(c["passed"] for c in entry["classes"].values()), "failed": sum(c["failed"] for c in entry["classes"].values())}
            for name, entry in self.connectors().items()
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "time": self.run.get("time") or utc_now(),
            "commit": self.run.get("commit"),
            "version": self.run.get("version", ""),
            "complete": bool(self.run.get("complete", False)),
            "narrowed_by": list(self.run.get("narrowed_by", [])),
            "totals": self.totals(),
            "connectors": connectors,
            "failed": self.failed_ids(),
            "failures": [{k: f[k] for k in ("nodeid", "connector", "pack", "class")} for f in self.failures()],
            "ledger_open": sum(1 for d in self.ledger if d.get("status") == "open"),
        }

    def terminal_lines(self, width: int = WIDTH) -> list[str]:
        """The stability section, each row wrapped to ``width`` columns with its continuation indented."""
        rows: list[tuple[str, str]] = []  # (text, continuation indent)
        connectors = self.connectors()
        if not connectors:
            rows.append(("no dashpacks items ran", ""))
        column = max(len("connector"), *(len(c) for c in connectors)) + 2 if connectors else 0
        if connectors:
            rows.append((f"{'connector':<{column}}defect class passed/failed", ""))
        for name, entry in connectors.items():
            parts = [f"{cls} {c['passed']}/{c['failed']}" for cls, c in sorted(entry["classes"].items(), key=lambda kv: CLASSES.index(kv[0]) if kv[0] in CLASSES else 99)]
            pinned = entry["pinned"]
            pins = f"pinned {pinned['passing'] + pinned['failing']}" + (f" ({pinned['failing']} failing)" if pinned["failing"] else "")
            blocked = [f"blocked {entry['blocked']}"] if entry.get("blocked") else []
            # Two spaces part from part; a part itself never breaks ("schema_drift 6/2").
            rows.append((f"{name:<{column}}" + "  ".join(p.replace(" ", "\0") for p in [*parts, pins, *blocked]), " " * column))
        blocked_total = sum(entry.get("blocked", 0) for entry in connectors.values())
        if blocked_total:
            rows.append((f"blocked: {blocked_total} items skipped behind a failing root cause, counted once above (-rs lists them)", "    "))
        open_defects = [d for d in self.ranked_ledger() if d.get("status") == "open"]
        if open_defects:
            rows.append(("open ledger defects, ranked by severity x reports x recurrence:", "    "))
            for d in open_defects:
                rows.append((
                    f"  {d['id']:<10} score {d['score']:>4}  {d.get('severity', 'medium'):<8} reports {d.get('reports', 0):>3}  "
                    f"recurrence {d['recurrence']}  {d.get('connector', '')}: {d.get('title', '')}",
                    " " * 13,
                ))
        if self.history or self.history_problems:
            rows.extend((line, "    ") for line in self.history_lines(column))
        return [line for text, indent in rows for line in wrap_row(text, width, indent)]

    def history_lines(self, column: int) -> list[str]:
        lines = [f"history: skipped {problem}" for problem in self.history_problems]
        if not self.history:
            return lines
        trends = self.trends()
        runs = len(self.trend_runs())
        if trends:
            lines.append(f"trend, failed items over the last {runs} complete run{'s' if runs != 1 else ''} (oldest first):")
            for name, series in trends.items():
                arrow = "improving" if series[-1] < series[0] else ("worse" if series[-1] > series[0] else "steady")
                lines.append(f"  {name:<{max(column, 2)}}{' -> '.join(map(str, series))}  ({arrow})")
        else:
            lines.append("trend: no complete run recorded yet")
        if self.run and not self.run.get("complete"):
            lines.append(f"this run is narrowed ({', '.join(self.run.get('narrowed_by', []))}): recorded, but left out of trends")
        offenders = self.repeat_offenders()
        lines.append(f"repeat offenders (failing in 2 or more of the last {TREND_RUNS} runs): {len(offenders)}")
        lines.extend(f"  {o['nodeid']}  ({o['failed_runs']} of {o['of_runs']})" for o in offenders[:20])
        return lines

    def html_page(self) -> str:
        """One self-contained page: the same tables, a trend chart per connector, a burn-down of open defects."""
        from .html import html_page

        return html_page(self)


def _outcome(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return "xpassed" if report.passed else "xfailed"
    return report.outcome


def _ledger_connector(ledger: list[dict[str, Any]], defect_id: str) -> str:
    return next((str(d.get("connector", "")) for d in ledger if d.get("id") == defect_id), "") if defect_id else ""


def wrap_row(text: str, width: int, indent: str) -> list[str]:
    """``text`` in lines of at most ``width`` columns, continuations indented; NUL marks a space that must not break.

    A single word longer than the line (a node id, a path) is kept whole rather than cut.
    """
    if len(text) <= width:
        return [text.replace("\0", " ")]
    lines = textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return [line.replace("\0", " ") for line in lines]


