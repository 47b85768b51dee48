"""The run-level side of the plugin: marked regressions, selection, pinning and the stability report.

Hooks in plugin.py hand off here. Report state lives in ``config.stash``;
files are written and the summary printed only on the xdist controller (or
in a serial run), from the reports every item sends there.
"""

from __future__ import annotations

from typing import Any

import pytest

from .collect import SESSION_KEY, DashpackItem
from .report import StabilityReport, append_history, read_history

REPORT_KEY = pytest.StashKey[StabilityReport]()
PINS_KEY = pytest.StashKey[list]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = StabilityReport()
    config.stash[PINS_KEY] = []
    if not _is_worker(config):
        config.pluginmanager.register(_Recorder(config), "dashpacks-stability-recorder")


def note_marked_regression(item: pytest.Item) -> None:
    """A test marked ``dashpack_regression(id, defect_class=...)`` is a pin: it carries the report's properties."""
    marker = item.get_closest_marker("dashpack_regression")
    if marker is None:
        return
    if not marker.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.dashpack_regression needs the defect id, e.g. ('DEF-123', defect_class='timezone')")
    defect_id = str(marker.args[0])
    defect_class = marker.kwargs.get("defect_class", marker.args[1] if len(marker.args) > 1 else "config")
    item.config.stash[SESSION_KEY].marked_regressions[defect_id] = item.nodeid
    item.user_properties.extend([
        ("regression", defect_id), ("check", "regression"), ("defect_class", defect_class),
        ("connector", marker.kwargs.get("connector", "")), ("pack", marker.kwargs.get("pack", "")),
    ])


def order_and_select(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Ledger items run after the pins they judge; --dashpacks-regressions keeps only pins."""
    session = config.stash[SESSION_KEY]
    if session.settings.regressions_only:
        keep, drop = [], []
        for item in items:
            pinned = item.get_closest_marker("dashpack_regression") is not None
            pinned = pinned or (isinstance(item, DashpackItem) and item.check == "regression")
            (keep if pinned else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    items.sort(key=lambda item: isinstance(item, DashpackItem) and item.check == "ledger")


def pin_if_failed(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    from .pinning import PINNED_CHECKS, write_pin

    if item.get_closest_marker("dashpack_regression") is not None and report.when == "call":
        item.config.stash[SESSION_KEY].marked_outcomes[item.nodeid] = report.outcome
    if report.failed and call.excinfo is not None:
        # The message travels with the report (to the xdist controller too) for the stability report.
        report.user_properties.append(("message", _first_line(call.excinfo.value, item)))
        found = getattr(call.excinfo.value, "defect_class", None)
        if isinstance(item, DashpackItem) and item.check == "timezone" and found == "rendering":
            # A timezone item that finds nondeterminism reports a rendering defect, not a zone one.
            report.user_properties.append(("defect_class", found))
    pin_dir = item.config.stash[SESSION_KEY].settings.pin_dir
    if pin_dir is None or report.when != "call" or not report.failed or not isinstance(item, DashpackItem):
        return
    if item.check not in PINNED_CHECKS:
        return
    message = _first_line(call.excinfo.value, item) if call.excinfo is not None else "failed"
    path = write_pin(pin_dir, item.nodeid, {**item.record, "pack": item.pack.name if item.pack else ""}, message)
    if path is not None:
        report.sections.append(("dashpacks pin", f"wrote {path}"))
        item.config.stash[PINS_KEY].append(str(path))


def _first_line(error: BaseException, item: pytest.Item) -> str:
    from .collect import format_failure
    from .errors import DashpacksError

    if isinstance(error, DashpacksError):
        return format_failure(error, item.config.rootpath, item.name).splitlines()[0]
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class _Recorder:
    """Receives every test report of the run (on the controller under xdist) for the stability report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.config.stash[REPORT_KEY].add(report)


def summarize(terminalreporter: Any, config: pytest.Config) -> None:
    import json

    session = config.stash[SESSION_KEY]
    if _is_worker(config) or not session.settings.enabled:
        return
    report = config.stash[REPORT_KEY]
    try:
        report.ledger = session.ledger()
    except Exception:
        report.ledger = []
    settings = session.settings
    report.history = read_history(settings.history)
    terminalreporter.write_sep("=", "dashpacks stability")
    for line in report.terminal_lines():
        terminalreporter.write_line(line)
    for path in config.stash[PINS_KEY]:
        terminalreporter.write_line(f"pinned: {path}")
    if settings.report is not None:
        settings.report.parent.mkdir(parents=True, exist_ok=True)
        settings.report.write_text(json.dumps(report.as_json(), indent=2, sort_keys=True, default=str) + "\n", "utf-8")
        terminalreporter.write_line(f"dashpacks report: {settings.report}")
    if settings.html is not None:
        settings.html.parent.mkdir(parents=True, exist_ok=True)
        settings.html.write_text(report.html_page(), "utf-8")
        terminalreporter.write_line(f"dashpacks html: {settings.html}")
    if settings.history is not None:
        append_history(settings.history, report.history_line())
