"""The run-level side of the plugin: marked regressions, selection, pinning, how complete a run is
and the stability summary.

Hooks in plugin.py hand off here. Report state lives in ``config.stash``;
files are written and the summary printed only on the xdist controller (or
in a serial run), from the reports every item sends there.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import pytest

from ..errors import DashpacksError
from ..nodes import SESSION_KEY, DashpackItem, is_large
from .history import append_history, git_commit, read_history, utc_now, write_atomically
from .ledger import OLD_PIN_MARKER, PIN_MARKER, pin_marker, release_ledger_reports
from .stability import WIDTH, StabilityReport, wrap_row
from .state import DEFERRED_KEY, PINS_KEY, REPORT_KEY, RUN_KEY, is_worker


def configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = StabilityReport()
    config.stash[PINS_KEY] = []
    config.stash[DEFERRED_KEY] = []
    cache = getattr(config, "cache", None)
    # Read now: by the terminal summary the cache already holds this run's failures.
    config.stash[RUN_KEY] = {"lf": bool(config.getoption("lf", False) and cache is not None and cache.get("cache/lastfailed", {}))}
    if not is_worker(config):
        config.pluginmanager.register(_Recorder(config), "dashpacks-stability-recorder")


def note_marked_regression(item: pytest.Item) -> None:
    """A test marked ``dashpacks_pin(id, defect_class=...)`` is a pin: it carries the report's properties."""
    marker = pin_marker(item)
    if marker is None:
        return
    if marker.name == OLD_PIN_MARKER:
        item.warn(pytest.PytestDeprecationWarning(
            f"@pytest.mark.{OLD_PIN_MARKER} is renamed @pytest.mark.{PIN_MARKER} (same arguments): the old name is one "
            f"letter from the dashpacks_regression check marker. It still works; it will be removed in a later release."
        ))
    if not marker.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{marker.name} needs the defect id, e.g. ('DEF-123', defect_class='timezone')")
    defect_id = str(marker.args[0])
    defect_class = marker.kwargs.get("defect_class", marker.args[1] if len(marker.args) > 1 else "config")
    item.config.stash[SESSION_KEY].marked_regressions[defect_id] = item.nodeid
    item.user_properties.extend([
        ("regression", defect_id), ("check", "regression"), ("defect_class", defect_class),
        ("connector", marker.kwargs.get("connector", "")), ("pack", marker.kwargs.get("pack", "")),
    ])


def order_and_select(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run order (see :func:`_run_order`); --dashpacks-regressions keeps only pins."""
    session = config.stash[SESSION_KEY]
    if session.settings.regressions_only:
        keep, drop = [], []
        for item in items:
            pinned = pin_marker(item) is not None
            pinned = pinned or (isinstance(item, DashpackItem) and item.check == "regression")
            (keep if pinned else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    items.sort(key=_run_order(items))


def _run_order(items: list[pytest.Item]) -> Any:
    """Sort key: ledger items after the pins they judge; within a pack, ``volume[large]`` items last,
    so the pack's small databases are freed before its large one is built (the sort is stable)."""
    groups: dict[Any, int] = {}
    for item in items:
        groups.setdefault(_group(item), len(groups))

    def key(item: pytest.Item) -> tuple[bool, int, bool]:
        if not isinstance(item, DashpackItem):
            return False, groups[_group(item)], False
        return item.check == "ledger", groups[_group(item)], is_large(item)

    return key


def _group(item: pytest.Item) -> Any:
    pack = getattr(item, "pack", None)
    return pack.manifest if pack is not None else item.path


def forget_record(item: pytest.Item, report: pytest.TestReport) -> None:
    """Drop what the item recorded for its pin (the rows and result it ran on) once its call is reported:
    kept on every item, it would hold each dataset and large result until the run ends."""
    if report.when == "call" and isinstance(item, DashpackItem):
        item.record.clear()


def pin_if_failed(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    from .pinning import PINNED_CHECKS, write_pin

    # Generated items carry no pin marker: the marker lookup (two per report) is paid by Python tests only.
    if report.when == "call" and not isinstance(item, DashpackItem) and pin_marker(item) is not None:
        item.config.stash[SESSION_KEY].marked_outcomes[item.nodeid] = report.outcome
    if report.failed and call.excinfo is not None:
        # The message travels with the report (to the xdist controller too) for the stability report.
        report.user_properties.append(("message", _first_line(call.excinfo.value, report)))
        located = _located(call.excinfo.value, item.config.rootpath)
        report.user_properties.extend(located)
        item.user_properties.extend(located)  # JUnit XML writes the item's properties with its teardown report
        found = getattr(call.excinfo.value, "defect_class", None)
        if isinstance(item, DashpackItem) and item.check == "timezone" and found == "rendering":
            # A timezone item that finds nondeterminism reports a rendering defect, not a zone one.
            report.user_properties.append(("defect_class", found))
    pin_dir = item.config.stash[SESSION_KEY].settings.pin_dir
    if pin_dir is None or report.when != "call" or not report.failed or not isinstance(item, DashpackItem):
        return
    if item.check not in PINNED_CHECKS:
        return
    message = _first_line(call.excinfo.value, report) if call.excinfo is not None else "failed"
    pin = write_pin(pin_dir, item.config.stash[SESSION_KEY], item, message)
    if pin is not None:
        report.sections.append(("dashpacks pin", pin.note))
        if pin.path is not None:
            item.config.stash[PINS_KEY].append(pin.note)


_ADVICE = ("hint:", "fix:", "likely cause:", "filter them out:")


def _located(error: BaseException, rootdir: Any) -> list[tuple[str, Any]]:
    """``file``, ``line`` and ``hint`` of one of our failures, as report properties (JUnit XML and JSON show them)."""
    from ..errors import DashpacksError, relative_posix

    if not isinstance(error, DashpacksError):
        return []
    out: list[tuple[str, Any]] = []
    if error.span is not None:
        out += [("file", relative_posix(error.span.path, rootdir)), ("line", error.span.line)]
    hint = next((d for d in error.details if d.startswith(_ADVICE)), "")
    if hint:
        out.append(("hint", hint))
    return out


def _first_line(error: BaseException, report: pytest.TestReport) -> str:
    """The failure's first line, from the lines ``repr_failure`` formatted (our failures are formatted once)."""
    from ..errors import FailureRepr

    if isinstance(report.longrepr, FailureRepr):
        return report.longrepr.lines[0]
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class _Recorder:
    """Receives every test report of the run (on the controller under xdist) for the stability report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.ran: set[str] = set()  # every item that reported, dashpacks or not: did the run stop early?

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.ran.add(report.nodeid)
        self.config.stash[REPORT_KEY].add(report)


def summarize(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The stability section; then the JSON, HTML and history files, unless the run recorded nothing.

    A run that ran no dashpacks item (``--collect-only``, all deselected, a usage error) or was interrupted
    leaves earlier files as they were. A file that cannot be written is a warning line, never a crash.
    """
    import json

    session = config.stash[SESSION_KEY]
    if is_worker(config) or not session.settings.enabled:
        return
    report = config.stash[REPORT_KEY]
    try:
        report.ledger = session.library.ledger()
    except DashpacksError:  # a ledger that does not load fails its own item
        report.ledger = []
    settings = session.settings
    outputs = [path for path in (settings.report, settings.html, settings.history) if path is not None]
    report.history, report.history_problems = read_history(settings.history)
    report.run = run_facts(config, with_commit=bool(outputs))
    terminalreporter.write_sep("=", "dashpacks stability")
    for line in report.terminal_lines():
        terminalreporter.write_line(line)

    def say(text: str, **markup: bool) -> None:
        for line in wrap_row(text, WIDTH, "    "):
            terminalreporter.write_line(line, **markup)

    for note in config.stash[PINS_KEY]:
        say(f"pinned: {note}")
    interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR)
    interrupted = interrupted and not config.stash[RUN_KEY].get("stopped_by_maxfail")
    if outputs and (not report.outcomes or interrupted):
        why = "the run was interrupted" if report.outcomes else "no dashpacks item ran"
        say(f"dashpacks: {why}: report, html and history left as they were")
        return

    def write(kind: str, path: Path | None, produce: Any) -> None:
        if path is None:
            return
        shown = path.relative_to(config.invocation_params.dir) if config.invocation_params.dir in path.parents else path
        try:
            produce(path)
        except OSError as exc:  # SPEC 9: report write errors are warnings
            say(f"dashpacks warning: {kind} not written ({exc.strerror or type(exc).__name__}): {shown}", yellow=True)
        else:
            if kind != "history":
                say(f"dashpacks {kind}: {shown}")

    write("report", settings.report,
          lambda path: write_atomically(path, json.dumps(report.as_json(), indent=2, sort_keys=True, default=str) + "\n"))
    write("html", settings.html, lambda path: write_atomically(path, report.html_page()))
    write("history", settings.history, lambda path: append_history(path, report.history_line()))


# --- how complete a run is -------------------------------------------------------------


def run_facts(config: pytest.Config, *, with_commit: bool) -> dict[str, Any]:
    """This run's facts for the report and its history line: UTC time, git commit, plugin version, and
    ``complete`` with ``narrowed_by`` (see ``narrowed_by``)."""
    from .. import __version__

    narrowed = narrowed_by(config)
    return {
        "time": utc_now(),
        "commit": git_commit(config.rootpath) if with_commit else None,
        "version": __version__,
        "complete": not narrowed,
        "narrowed_by": narrowed,
    }


def narrowed_by(config: pytest.Config) -> list[str]:
    """How this run ran less than the configured collection; empty for a complete run.

    Narrowing: ``-k``, ``-m`` (from the command line or ``addopts``), ``--deselect``, ``--lf`` when failures
    were recorded, ``--sw``, ``--dashpacks-regressions``, paths that do not cover what a bare ``pytest``
    at the rootdir collects (``paths_narrow``), and a run that stopped early (``-x``, ``--maxfail``) or
    left collected items unrun. ``--ff``, ``--nf`` and ``-n`` only reorder or spread.
    """
    facts = config.stash[RUN_KEY]
    reasons = []
    for flag, dest in (("-k", "keyword"), ("-m", "markexpr"), ("--deselect", "deselect")):
        if config.getoption(dest, None):
            reasons.append(flag)
    if facts.get("lf"):
        reasons.append("--lf")
    if config.getoption("stepwise", False):
        reasons.append("--sw")
    settings = config.stash[SESSION_KEY].settings
    if settings.regressions_only:
        reasons.append("--dashpacks-regressions")
    if settings.changed:
        reasons.append("--dashpacks-changed")
    if settings.since is not None:
        reasons.append("--dashpacks-since")
    if paths_narrow(config):
        reasons.append("paths")
    if facts.get("stopped_early"):
        reasons.append("stopped early")
    return reasons


def paths_narrow(config: pytest.Config) -> bool:
    """Whether the collected paths leave out part of what a bare ``pytest`` at the rootdir collects
    (``testpaths``, else the rootdir): explicit paths, node ids, or running from a subdirectory."""
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        return False
    invocation, rootpath = config.invocation_params.dir, config.rootpath
    testpaths = config.getini("testpaths")
    defaults = [rootpath / match for pattern in testpaths for match in sorted(glob.glob(pattern, root_dir=rootpath, recursive=True))]
    defaults = [path.resolve() for path in defaults or [rootpath]]
    given = []
    for arg in config.args:
        if "::" in arg:
            return True  # a node id selects part of a file
        given.append((invocation / arg).resolve())
    return not all(any(path == default or path in default.parents for path in given) for default in defaults)


def end_run_loop(session: pytest.Session, error: BaseException | None) -> None:
    """After the run loop on the reporting process: log the held ledger items (unless the user interrupted
    the run; ``-x`` and ``--maxfail`` stops still log them) and note whether every collected item ran."""
    config = session.config
    if is_worker(config):
        return
    if not isinstance(error, KeyboardInterrupt) or session.shouldfail:
        release_ledger_reports(session)
    recorder = config.pluginmanager.get_plugin("dashpacks-stability-recorder")
    unrun = recorder is not None and not config.option.collectonly and len(recorder.ran) < session.testscollected
    config.stash[RUN_KEY]["stopped_by_maxfail"] = bool(session.shouldfail)
    config.stash[RUN_KEY]["stopped_early"] = bool(session.shouldfail or session.shouldstop or unrun)

