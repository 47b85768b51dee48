"""What the HTML page derives from the report: run facts, blocked items, failure locations, pin states, times.

Report data is read with ``.get``: history lines and records written by older
versions lack some keys, and the page says "unknown" rather than failing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import TYPE_CHECKING, Any

from ..checks.prerequisites import BLOCKED

if TYPE_CHECKING:
    from .stability import StabilityReport

UNKNOWN = "unknown"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# "path/to/board.yml:12: check: message", the first line of a located failure.
LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+): (?P<rest>.*)$", re.S)
BLOCKED_BY = re.compile(rf"^(?:Skipped: )?{BLOCKED}(?P<blocker>\S+?): ")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


# --- data the page derives -----------------------------------------------------


def run_fact(key: str, *sources: dict[str, Any]) -> str:
    """``time``, ``commit`` or ``version`` of this run, from the report or its history line."""
    for source in sources:
        value = source.get(key) or (source.get("run") or {}).get(key)
        if value not in (None, ""):
            return str(value)
    return UNKNOWN


def blocked_items(report: StabilityReport) -> dict[str, list[str]]:
    """Skipped items that a failed prerequisite blocked, by the node id of that prerequisite."""
    out: dict[str, list[str]] = {}
    for outcome in sorted(report.outcomes.values(), key=lambda o: o.nodeid):
        if outcome.outcome != "skipped":
            continue
        cause = str(getattr(outcome, "blocked_by", "") or "")
        if not cause:
            match = BLOCKED_BY.match(outcome.message)
            cause = match.group("blocker") if match else ""
        if cause:
            out.setdefault(_full_nodeid(cause, outcome.nodeid), []).append(outcome.nodeid)
    return out


def _full_nodeid(cause: str, blocked: str) -> str:
    # A cause on the same query may be named by its check alone, e.g. "timezone[Asia/Kolkata]".
    return cause if "::" in cause else f"{blocked.rsplit('::', 1)[0]}::{cause}"


def located(failure: dict[str, Any]) -> tuple[str, str]:
    """(``file:line`` or "", the message without its location and check prefix)."""
    message = str(failure.get("message") or "")
    where = ""
    match = LOCATED.match(message)
    if match:
        where, message = f"{match['file']}:{match['line']}", match["rest"]
    if failure.get("file"):
        where = f"{failure['file']}:{failure['line']}" if failure.get("line") else str(failure["file"])
    check = str(failure.get("check") or "")
    if check and message.startswith(f"{check}: "):
        message = message[len(check) + 2:]
    return where, message


def pin_state(defect: dict[str, Any], regressions: list[dict[str, Any]], report: StabilityReport) -> str:
    """For a fixed defect: "passing", "failing" (a pin failed), "missing" (its ledger item failed without a
    failing pin) or "" when this run says nothing about it."""
    if defect.get("status") != "fixed":
        return ""
    outcomes = [r["outcome"] for r in regressions if r["id"] == defect.get("id")]
    if any(o in ("failed", "xpassed") for o in outcomes):
        return "failing"
    ledger_check = f"ledger[{defect.get('id')}]"
    if any(o.check == ledger_check and o.outcome == "failed" for o in report.outcomes.values()):
        return "missing"
    return "passing" if outcomes else ""


def display_time(value: str) -> str:
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else value


def parse_time(value: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment


def run_times(report: StabilityReport, runs: int, current: dict[str, Any]) -> list[Any]:
    """The ``time`` of the last ``runs`` runs, oldest first, this one last (the runs ``open_defects_over_time`` counts)."""
    earlier = report.history[len(report.history) - (runs - 1):] if runs > 1 else []
    return [run.get("time") for run in earlier] + [current.get("time")]


