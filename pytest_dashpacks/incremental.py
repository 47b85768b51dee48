"""Run only what changed: ``--dashpacks-changed`` (items whose inputs changed since they last passed)
and ``--dashpacks-since REF`` (packs whose files or connector fixtures differ from a git ref).

Each item's inputs are summed up in a digest at collection: the plugin's code and version, the
library versions it runs on, the options that change results, the connector's directory (its
``connector.yml``, seeds and models), ``pack.yml``, and the board text the item reads. A query item
reads its own SQL template, the queries it pastes, the board's variables and the chart keys bound to
it -- everything its rendered SQL and bindings come from -- so editing one query reruns that query's
items only. A KPI's items read the KPI's query; the ``load`` items and the regression cases read the
whole pack directory (``meta.yml`` files included) and the ledger. So does a ``ledger[...]`` item whose
pin is the pack's ``regressions/<ID>.yml``, the only thing it judges then; any other ledger item always
runs, since the Python test pinning it may be anywhere.

The controller (or a serial run) keeps ``node id -> digest`` of the items that passed, in pytest's
cache; workers send each item's digest with its report. A failed item leaves the memo, so it always
runs again. Collection then deselects the items whose digest is the one recorded when they passed.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .checks.ledger import yaml_pin
from .errors import DashpacksError
from .model import Board, Pack, Query, ValuesQuery
from .nodes import SESSION_KEY, DashpackItem, KpiItem, LedgerItem, LoadItem, QueryItem
from .report.state import is_worker
from .sql.render import pasted_queries

CACHE_KEY = "dashpacks/passed-inputs"  # node id -> digest of the inputs it passed with
UNCHANGED_KEY = pytest.StashKey[dict[str, int]]()  # "unchanged" / "other packs" -> items not run
INPUTS_KEY = pytest.StashKey[dict[str, str]]()  # node id -> digest, for this process's items
PASSED_KEY = pytest.StashKey[dict[str, str | None]]()  # controller: node id -> digest (None: failed)


class InputDigests:
    """Digests of items' inputs; file and directory digests are made once per process."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.session = config.stash[SESSION_KEY]
        self._files: dict[Path, str] = {}
        self._trees: dict[tuple[Path, str], str] = {}
        self._connectors: dict[Path, str | None] = {}
        self._queries: dict[tuple[Any, Any], str] = {}
        self._base: str | None = None

    def of(self, item: pytest.Item) -> str | None:
        """The digest of ``item``'s inputs; None when it cannot be known (a load error: always run)."""
        if not isinstance(item, DashpackItem) or item.error is not None or item.pack is None:
            return None
        pack = item.pack
        if isinstance(item, LedgerItem) and yaml_pin(pack, item.defect_id) is None:
            return None  # pinned by a Python test (anywhere), or not at all: judged again every run
        connector = self._connector(pack)
        if connector is None:
            return None
        parts = [self.base(), connector, self._file(pack.manifest)]
        if isinstance(item, QueryItem):
            key = (item.board.path if item.board else None, item.query.name if item.query else None)
            if key not in self._queries:
                self._queries[key] = _query_inputs(item.board, item.query)
            parts.append(self._queries[key])
        elif isinstance(item, LoadItem) and item.board is not None:  # the board and the meta.yml files it inherits
            parts.append(self._tree(pack.directory))
        elif isinstance(item, KpiItem):  # a KPI reads its query (and pack.yml's contract)
            parts.append(self._query_of_board(pack, item.kpi.board, item.kpi.query))
        else:  # the pack's load item, regression cases and YAML-pinned ledger items read the whole pack and the ledger
            ledger = self.session.settings.ledger_path
            parts += [self._tree(pack.directory), self._file(ledger) if ledger is not None else ""]
        return _digest(item.nodeid, *parts)

    def _query_of_board(self, pack: Pack, board_stem: str, query: str) -> str:
        """What an item reads of ``board_stem``'s ``query`` (the whole pack when the board does not load)."""
        path = self.session.library.board_paths(pack).get(board_stem)
        try:
            board = self.session.library.board(path, pack.directory) if path is not None else None
        except DashpacksError:
            board = None
        found = board.query(query) if board is not None else None
        return _query_inputs(board, found) if found is not None else self._tree(pack.directory)

    def _connector(self, pack: Pack) -> str | None:
        """The digest of the pack's connector directory; None when the connector is not found."""
        if pack.manifest not in self._connectors:
            try:
                self._connectors[pack.manifest] = self._tree(self.session.library.connector_path(pack).parent)
            except DashpacksError:
                self._connectors[pack.manifest] = None
        return self._connectors[pack.manifest]

    def base(self) -> str:
        """What every item's result depends on: the plugin's code (not its console script), the libraries and the options."""
        if self._base is None:
            import dataclasses
            from importlib.metadata import PackageNotFoundError, version

            from . import __version__

            def installed(name: str) -> str:
                try:
                    return version(name)
                except PackageNotFoundError:
                    return ""

            settings = dataclasses.asdict(self.session.settings)
            options = {k: str(v) for k, v in settings.items() if k not in _OPTIONS_THAT_DO_NOT_MATTER}
            libraries = [installed(name) for name in ("duckdb", "sqlglot", "hypothesis", "jinja2", "psycopg")]
            self._base = _digest(__version__, self._tree(Path(__file__).parent, "*.py", frozenset({"cli"})), repr(sorted(options.items())), *libraries)
        return self._base

    def _file(self, path: Path) -> str:
        if path not in self._files:
            try:
                self._files[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                self._files[path] = "missing"
        return self._files[path]

    def _tree(self, directory: Path, pattern: str = "*", leave_out: frozenset[str] = frozenset()) -> str:
        """Every file under ``directory`` (names and contents), hidden ones, caches and ``leave_out`` folders left out."""
        key = (directory, pattern)
        if key not in self._trees:
            files = sorted(
                p for p in directory.rglob(pattern)
                if p.is_file() and not any(
                    part.startswith(".") or part == "__pycache__" or part in leave_out for part in p.relative_to(directory).parts
                )
            )
            self._trees[key] = _digest(*(f"{p.relative_to(directory).as_posix()}={self._file(p)}" for p in files))
        return self._trees[key]


# Where reports and pins go, and which run this is, change no item's result.
_OPTIONS_THAT_DO_NOT_MATTER = frozenset({"enabled", "regressions_only", "report", "history", "html", "pin_dir", "changed", "since"})


def _query_inputs(board: Board | None, query: Query | ValuesQuery | None) -> str:
    """What a query item reads of its board: its template and those it pastes, the board's variables and
    the chart keys bound to it (without line numbers, so an edit elsewhere in the board changes nothing)."""
    if board is None or query is None:
        return ""
    if isinstance(query, ValuesQuery):
        return _digest(repr((query.name, query.columns, query.origin)), *_bindings(board, query.name))
    templates = [f"{q.name}:{q.origin}:{q.sql}" for q in pasted_queries(query, board)]
    variables = [repr((v.name, v.default, v.input)) for v in board.variables]
    return _digest(*templates, *variables, *_bindings(board, query.name))


def _bindings(board: Board, query: str) -> Iterable[str]:
    charts = {c.name: c.type for c in board.charts}
    for b in board.bindings_of(query):
        yield repr((b.chart, charts.get(b.chart), b.role, b.column, b.numeric, b.query, b.kind))


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


# --- collection ------------------------------------------------------------------------


def select(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note each item's digest (for its report), then deselect what ``--dashpacks-since`` and
    ``--dashpacks-changed`` leave out."""
    settings = config.stash[SESSION_KEY].settings
    counts = config.stash.setdefault(UNCHANGED_KEY, {})
    cache = getattr(config, "cache", None)
    digests: dict[str, str] = {}
    if cache is not None:
        inputs = InputDigests(config)
        for item in items:
            digest = inputs.of(item)
            if digest is not None:
                digests[item.nodeid] = digest
    config.stash[INPUTS_KEY] = digests
    if settings.since is not None:
        chosen = packs_changed_since(config, settings.since, items)
        _deselect(config, items, lambda item: isinstance(item, DashpackItem) and item.pack is not None
                  and item.error is None and item.pack.directory not in chosen, counts, "other packs")
    if is_worker(config):  # each worker leaves out the same items; the controller prints the count
        config.workeroutput["dashpacks_left_out"] = counts  # type: ignore[attr-defined]
    if settings.changed:
        if cache is None:
            raise pytest.UsageError("--dashpacks-changed keeps its memo in pytest's cache: drop -p no:cacheprovider")
        passed = cache.get(CACHE_KEY, {})
        _deselect(config, items, lambda item: item.nodeid in digests and passed.get(item.nodeid) == digests[item.nodeid],
                  counts, "unchanged")


def _deselect(config: pytest.Config, items: list[pytest.Item], leave_out: Any, counts: dict[str, int], why: str) -> None:
    keep, drop = [], []
    for item in items:
        (drop if leave_out(item) else keep).append(item)
    counts[why] = counts.get(why, 0) + len(drop)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def packs_changed_since(config: pytest.Config, ref: str, items: list[pytest.Item]) -> set[Path]:
    """Directories of the packs among ``items`` with a file, or a file of their connector's fixtures,
    that differs from git ``ref`` (committed, staged, unstaged or untracked); every pack when the
    ledger changed."""
    root = config.rootpath
    # Paths from the top of the repository: a pack's connector fixtures or the ledger may lie outside the rootdir.
    top = Path(_git(root, "rev-parse", "--show-toplevel")[0])
    changed = {(top / name).resolve() for name in _git(top, "diff", "--name-only", "--no-renames", "-z", ref, "--")}
    changed |= {(top / name).resolve() for name in _git(top, "ls-files", "--others", "--exclude-standard", "-z")}
    library = config.stash[SESSION_KEY].library
    ledger = config.stash[SESSION_KEY].settings.ledger_path
    packs = {item.pack.directory: item.pack for item in items if isinstance(item, DashpackItem) and item.pack is not None}
    if ledger is not None and ledger.resolve() in changed:
        return set(packs)
    chosen = set()
    for directory, pack in packs.items():
        try:
            watched = [directory.resolve(), library.connector_path(pack).parent.resolve()]
        except DashpacksError:
            watched = [directory.resolve()]
        if any(path == folder or folder in path.parents for path in changed for folder in watched):
            chosen.add(directory)
    return chosen


def _git(directory: Path, *args: str) -> list[str]:
    """git's output, one entry per line, or per NUL with ``-z`` (names exactly as on disk, never quoted)."""
    try:
        done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise pytest.UsageError(f"--dashpacks-since needs git: {exc}") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["git failed"])[0]
        shown = " ".join(a for a in args if a != "-z")
        raise pytest.UsageError(f"--dashpacks-since: git {shown} in {directory}: {message}")
    entries = done.stdout.split("\0") if "-z" in args else done.stdout.splitlines()
    return [entry for entry in entries if entry]


# --- reports, the memo and the summary ----------------------------------------------------


def attach(item: pytest.Item, report: pytest.TestReport) -> None:
    """Send the item's digest with its report (xdist carries extra report attributes to the controller)."""
    digest = item.config.stash.get(INPUTS_KEY, {}).get(item.nodeid)
    if digest is not None:
        report.dashpacks_inputs = digest  # type: ignore[attr-defined]


class PassedRecorder:
    """On the controller: which items passed with which inputs, and which failed."""

    def __init__(self, config: pytest.Config) -> None:
        self.outcomes: dict[str, str | None] = config.stash.setdefault(PASSED_KEY, {})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        digest = getattr(report, "dashpacks_inputs", None)
        if report.failed or report.skipped:  # only a pass is remembered; a skip or xfail runs again
            self.outcomes[report.nodeid] = None
        elif report.when == "call" and report.passed and digest is not None and report.nodeid not in self.outcomes:
            self.outcomes[report.nodeid] = digest


def register(config: pytest.Config) -> None:
    if not is_worker(config) and getattr(config, "cache", None) is not None:
        config.pluginmanager.register(PassedRecorder(config), "dashpacks-passed-inputs")


def save(session: pytest.Session) -> None:
    """Update the memo (controller only): items that passed now, with their inputs; failed ones leave it."""
    config = session.config
    cache = getattr(config, "cache", None)
    outcomes = config.stash.get(PASSED_KEY, {})
    if is_worker(config) or cache is None or not outcomes:
        return
    root = config.rootpath
    # Entries of files that are gone would only grow the memo: kept items are checked by digest anyway.
    memo = {nodeid: digest for nodeid, digest in cache.get(CACHE_KEY, {}).items() if (root / nodeid.partition("::")[0]).exists()}
    for nodeid, digest in outcomes.items():
        if digest is None:
            memo.pop(nodeid, None)
        else:
            memo[nodeid] = digest
    cache.set(CACHE_KEY, memo)


def gather_counts(node: Any) -> None:
    left_out = getattr(node, "workeroutput", {}).get("dashpacks_left_out")
    if left_out:
        node.config.stash[UNCHANGED_KEY] = left_out


def nothing_left_is_no_failure(session: pytest.Session) -> None:
    """A run that left every item out as unchanged ran nothing wrong: exit 0, not 5 (no tests)."""
    counts = session.config.stash.get(UNCHANGED_KEY, {})
    if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and any(counts.values()):
        session.exitstatus = pytest.ExitCode.OK


def summarize(terminalreporter: Any, config: pytest.Config) -> None:
    """One line: how many items were left out, and why (controller only)."""
    line = summary_line(config)
    if line is not None and not is_worker(config):
        terminalreporter.write_line(line)


def summary_line(config: pytest.Config) -> str | None:
    counts = config.stash.get(UNCHANGED_KEY, {})
    settings = config.stash[SESSION_KEY].settings
    parts = []
    if settings.since is not None:
        parts.append(f"{counts.get('other packs', 0):,} items of packs unchanged since {settings.since}")
    if settings.changed:
        parts.append(f"{counts.get('unchanged', 0):,} items unchanged since they last passed")
    return f"dashpacks: not run: {'; '.join(parts)}" if parts else None
