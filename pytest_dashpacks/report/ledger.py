"""Ledger verdicts decided from the pins' reports, and ledger entries that must name real packs and connectors.

``ledger[ID]`` for a defect pinned by a marked Python test depends on another
item's outcome, so it is decided where every report arrives: the worker (or
the serial session) runs the item without logging it and keeps its reports;
at the end of the run loop the reporting process judges them against the
pins' own reports, then logs them. Terminal, JUnit, --lf and the stability
report all see the one, final outcome, whichever worker ran the pin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..checks.ledger import yaml_pin
from ..nodes import SESSION_KEY, DashpackItem, LedgerItem, LoadItem
from .stability import Outcome
from .state import DEFERRED_KEY, MARKED_PINS_KEY, REPORT_KEY, WORKEROUTPUT_KEY, is_worker

# --- ledger verdicts from the pins' reports -------------------------------------------


def _verdict_waits_for_marked_pins(item: pytest.Item) -> bool:
    """A fixed defect pinned only by marked Python tests: its verdict is those tests' reports."""
    if not isinstance(item, LedgerItem) or item.pack is None or item.error is not None:
        return False
    if yaml_pin(item.pack, item.defect_id) is not None:
        return False  # a YAML pin runs inside the ledger item itself
    return item.defect_id in item.config.stash[SESSION_KEY].marked_regressions


PIN_MARKER = "dashpacks_pin"
OLD_PIN_MARKER = "dashpack_regression"  # the SPEC's first spelling, one letter from the dashpacks_regression check marker


def pin_marker(item: pytest.Item) -> pytest.Mark | None:
    """The ``dashpacks_pin(id, defect_class=...)`` marker of a test that pins a fixed defect (or its old spelling)."""
    return item.get_closest_marker(PIN_MARKER) or item.get_closest_marker(OLD_PIN_MARKER)


def marked_pins(session: pytest.Session, defect_id: str) -> list[str]:
    """Node ids of the selected tests marked ``dashpacks_pin(defect_id)``, in run order."""
    config = session.config
    if MARKED_PINS_KEY not in config.stash:
        pins: dict[str, list[str]] = {}
        for item in session.items:
            marker = pin_marker(item)
            if marker is not None and marker.args:
                pins.setdefault(str(marker.args[0]), []).append(item.nodeid)
        config.stash[MARKED_PINS_KEY] = pins
    return config.stash[MARKED_PINS_KEY].get(defect_id, [])


def run_ledger_on_reports(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """``pytest_runtest_protocol`` for a ledger item whose pins are marked tests: run it unlogged and keep
    its reports for the reporting process (``release_ledger_reports``). None for every other item."""
    if not _verdict_waits_for_marked_pins(item):
        return None
    from _pytest.runner import runtestprotocol

    assert isinstance(item, LedgerItem)
    config = item.config
    defect = item.defect
    item.record["verdict_on_reports"] = True  # check_ledger leaves the pin's outcome to the reports
    reports = runtestprotocol(item, log=False, nextitem=nextitem)
    ledger = config.stash[SESSION_KEY].settings.ledger_path
    pins = marked_pins(item.session, item.defect_id) or [config.stash[SESSION_KEY].marked_regressions[item.defect_id]]
    entry = {
        "nodeid": item.nodeid, "location": [str(item.location[0]), item.location[1], str(item.location[2])],
        "name": item.name, "defect": item.defect_id, "class": item.defect_class, "pins": pins,
        "ledger": str(ledger) if ledger else "", "line": int(defect.get("_line", 0) or 0),
        # Serialized as xdist serializes any report, so the worker can hand them over in workeroutput.
        "reports": [config.hook.pytest_report_to_serializable(config=config, report=report) for report in reports],
    }
    if is_worker(config):
        config.workeroutput.setdefault(WORKEROUTPUT_KEY, []).append(entry)  # type: ignore[attr-defined]
    else:
        config.stash[DEFERRED_KEY].append((None, entry))
    return True


def gather_ledger_reports(node: Any) -> None:
    """``pytest_testnodedown`` on the xdist controller: take the worker's held ledger reports."""
    output = getattr(node, "workeroutput", None) or {}
    node.config.stash[DEFERRED_KEY].extend((node, entry) for entry in output.get(WORKEROUTPUT_KEY, []))


def release_ledger_reports(session: pytest.Session) -> None:
    """End of the run loop on the reporting process: judge each held ledger item by its pins' reports,
    then log it like any item (logstart, its reports, logfinish)."""
    config = session.config
    if is_worker(config):
        return
    held, config.stash[DEFERRED_KEY] = config.stash[DEFERRED_KEY], []
    hook = config.hook
    outcomes = config.stash[REPORT_KEY].outcomes
    for node, entry in sorted(held, key=lambda pair: pair[1]["nodeid"]):
        reports = [hook.pytest_report_from_serializable(config=config, data=data) for data in entry["reports"]]
        verdict = ledger_verdict(entry["defect"], entry["pins"], outcomes)
        for report in reports:
            if node is not None:
                report.node = node  # as xdist marks a worker's report
            if report.when == "call" and report.passed and verdict is not None:
                _apply_verdict(config, report, entry, *verdict)
        location = (entry["location"][0], entry["location"][1], entry["location"][2])
        hook.pytest_runtest_logstart(nodeid=entry["nodeid"], location=location)
        for report in reports:
            hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=entry["nodeid"], location=location)


def ledger_verdict(defect: str, pins: list[str], outcomes: dict[str, Outcome]) -> tuple[str, str] | None:
    """("failed" | "skipped", message) from the pins' outcomes, or None when a pin passed and none failed."""
    ran = [(pin, outcomes[pin]) for pin in pins if pin in outcomes]
    for pin, outcome in ran:
        if outcome.outcome == "failed":
            detail = f": {outcome.message}" if outcome.message else ""
            return "failed", f"{defect} is marked fixed, but its pinning test {pin} fails{detail}"
    for pin, outcome in ran:
        if outcome.outcome == "xfailed":
            return "failed", f"{defect} is marked fixed, but its pinning test {pin} is an expected failure (xfail), not a passing pin"
    if any(outcome.outcome in ("passed", "xpassed") for _, outcome in ran):
        return None
    if ran:
        pin, outcome = ran[0]
        reason = outcome.message.removeprefix("Skipped: ")
        return "skipped", f"{defect}: its pinning test {pin} was skipped" + (f" ({reason})" if reason else "")
    return "skipped", f"{defect}: its pinning test {', '.join(pins)} did not run in this session"


def _apply_verdict(config: pytest.Config, report: pytest.TestReport, entry: dict[str, Any], outcome: str, message: str) -> None:
    from ..errors import CheckFailure, SourceSpan, format_failure

    if outcome == "failed":
        span = SourceSpan(Path(entry["ledger"]), entry["line"]) if entry["ledger"] else None
        text = format_failure(CheckFailure(message, span, defect_class=entry["class"]), config.rootpath, entry["name"])
        report.outcome = "failed"
        report.longrepr = text
        report.user_properties.append(("message", text.splitlines()[0]))
    else:
        where = entry["ledger"] or str(config.rootpath / entry["location"][0])
        report.outcome = "skipped"
        report.longrepr = (where, entry["line"] or None, f"Skipped: {message}")


# --- ledger entries name real packs and connectors ------------------------------------


class LedgerFile(pytest.File):
    """The ledger as a node, so a problem with its entries fails ``<ledger>::load`` at file:line."""

    def collect(self) -> list[pytest.Item]:
        return []


def check_ledger_references(session: pytest.Session, items: list[pytest.Item]) -> None:
    """A ledger entry whose ``pack`` or ``connector`` names nothing known adds a failing ``<ledger>::load``.

    Known packs are the collected ones, else any pack.yml under the rootdir (or the ledger's directory), so
    narrowing the run to one pack does not make the others unknown."""
    import os

    from ..errors import ConfigError
    from ..load.connectors import available_connectors
    from ..load.regressions import ledger_reference_errors, pack_names_under

    config = session.config
    dsession = config.stash[SESSION_KEY]
    path = dsession.settings.ledger_path
    if path is None or dsession.settings.regressions_only:
        return
    try:
        ledger = dsession.library.ledger()
    except ConfigError:
        return  # a ledger that does not load already fails its own item
    collected = [item for item in items if isinstance(item, DashpackItem)]
    packs = {str(dict(item.user_properties).get("pack", "")) for item in collected} - {""}
    connectors = {item.pack.connector for item in collected if item.pack is not None}
    found: list[dict[str, str]] = []  # filled once, on first need

    def on_disk() -> dict[str, str]:
        if not found:
            roots = [config.rootpath] + ([path.parent] if config.rootpath not in path.parents else [])
            patterns = config.getini("norecursedirs")
            found.append(pack_names_under(roots, lambda d: any(d.match(p) for p in patterns) or (d / "pyvenv.cfg").is_file()))
        return found[0]

    def known_packs(everything: bool) -> set[str]:
        return packs | set(on_disk()) if everything else packs

    def known_connectors(everything: bool) -> set[str]:
        if not everything:
            return connectors
        roots = dsession.settings.fixture_roots(None) + [item.pack.fixtures for item in collected if item.pack and item.pack.fixtures]
        return connectors | set(available_connectors(roots)) | (set(on_disk().values()) - {""})

    problems = ledger_reference_errors(ledger, path, known_packs, known_connectors)
    if not problems:
        return
    (span, message), rest = problems[0], problems[1:]
    error = ConfigError(message, span, details=tuple(f"{s.location()}: {m}" for s, m in rest))
    relative = os.path.relpath(path, config.rootpath).replace(os.sep, "/")
    parent = LedgerFile.from_parent(session, path=path, nodeid=relative)
    items.append(LoadItem.from_parent(parent, name="load", error=error, span=span))
